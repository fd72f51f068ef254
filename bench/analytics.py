"""Analytics figures, measured in one run.

- Detection and forecasts on the simulator's default scenario (seeded; 28 days of
  5-minute history with 0.2 labelled anomalies per device and day): ``f1_overall``
  (and per kind), ``mase_vs_seasonal_naive`` (median over series, last day held out),
  ``pi80_coverage``, ``pi95_coverage``. Generated in memory with ``sensors_sim`` and
  scored by the same ``analytics.evaluate`` that ``smartcity analytics score`` runs on
  the database.
- ``forecast_1000_s``: 1,000 hourly series (28 days) through model choice and forecast
  on a process pool of 2, against the same work one series after another in this
  process (``forecast_1000_serial_s``, ``forecast_speedup``).
- ``detect_latency_s``: the worst wait from a reading's arrival to its alert: the analytics
  loop's interval (30 s by default: a reading that lands just after a pass began waits
  for the next) plus one detection pass over 1,000 series of 15 days at 5 minutes (the
  production pass's compute on its pool of 2, the database read not included;
  ``detect_pass_1000_s``), against the interval alone (``detect_latency_ratio``).
- Detection over four simulator seeds (7, 11, 17, 23): ``f1_by_seed``, ``f1_mean_4_seeds``,
  ``f1_min_4_seeds``.
- Real forecasts: rolling-origin backtests (20 origins spread over each series, 24 h
  ahead, 28 days of history before each, nothing after it seen) on every real hourly
  series in ``--data`` (UCI air quality, Beijing PM2.5 at three stations, I-94 traffic,
  appliances energy, the Jingwan river level), with seasonal naive and a plain additive
  Holt-Winters (daily season, no trend: the strongest of the plain variants here) scored
  on the same origins: ``real_mae_ratio_median`` and ``real_hw_mae_ratio_median`` (MAE over
  seasonal naive's, median over series), ``real_pi80_coverage``, ``real_pi95_coverage``
  (mean over series), and ``real_series`` (the table).
- Real detection: NAB's realTraffic, realAWSCloudwatch and realAdExchange with their labelled
  windows, scored as NAB does (an episode starting inside a window finds it; outside every
  window it is a false alarm; the first 15% of each file, at most 750 rows, is for learning
  and not scored): ``nab_window_recall``, ``nab_false_alarms_per_week``, ``nab_by_category``;
  the older ``nab_traffic_window_recall``, ``nab_traffic_false_alarms_per_week`` and
  ``uci_mase`` are kept.

``--data``: the folder of real series (``../shared/data/series`` when it is there, else the
excerpts in ``tests/data/series``).

Usage: .venv/bin/python bench/analytics.py [--json] [--devices-per-kind N] [--series N] [--data DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analytics import backtest, realdata, score  # noqa: E402
from analytics.evaluate import evaluate  # noqa: E402
from analytics.parallel import Runner  # noqa: E402
from analytics.passes import detect_all, forecast_chunk  # noqa: E402
from sensors_sim import anomalies  # noqa: E402
from sensors_sim.signals import fleet_of_every_kind, generate  # noqa: E402

SEED = 7
SEEDS = (7, 11, 17, 23)
END = pd.Timestamp("2026-11-20", tz="UTC")
TIMEZONE = "Asia/Seoul"  # the simulated city's: working days and weekends are local
INTERVAL_S = 30.0  # SMARTCITY_ANALYTICS_INTERVAL_S's default
DATA = ROOT / "tests" / "data" / "series"
SHARED = ROOT.parent / "shared" / "data" / "series"
NAB_WINDOWS = "nab_labels/combined_windows_realAWSCloudwatch_realAdExchange_realTraffic.json"
NAB_CATEGORIES = ("realTraffic", "realAWSCloudwatch", "realAdExchange")


def simulated(per_kind: int, days: int = 28, prefix: str = "", seed: int = SEED) -> tuple[dict, dict, pd.DataFrame]:  # type: ignore[type-arg]
    """The scored scenario in memory: 5-minute series of the metrics anomalies touch, hourly
    series of every metric, and the labelled windows; ``sim backfill`` with the same fleet,
    seed and span writes the same readings (tests/test_analytics_score.py)."""
    fleet = fleet_of_every_kind(per_kind, prefix)
    end_s = END.timestamp()
    start_s = end_s - days * 86400
    times = np.arange(start_s, end_s, 300.0)
    truth = anomalies.plan(fleet, start_s, end_s, interval_s=300, per_device_day=0.2, seed=seed)
    truth = anomalies.with_reference(fleet, truth, seed=seed, interval_s=300)
    blocks = generate(fleet, times, seed=seed, interval_s=300)
    anomalies.apply(blocks, times, truth, seed=seed, interval_s=300)
    index = pd.to_datetime(times, unit="s", utc=True)
    labelled = set(truth["metric"])
    detail, hourly = {}, {}
    for block in blocks:
        for metric, values in block.values.items():
            for i, device_id in enumerate(block.device_ids):
                series = pd.Series(values[i], index=index)
                hourly[(device_id, metric)] = series.resample("1h").mean()
                # scored for detection: the metrics the run has labelled windows of (as
                # ``analytics.evaluate.evaluate_run`` does on the database)
                if metric in labelled:
                    detail[(device_id, metric)] = series.to_frame("value")
    windows = truth.assign(
        started_at=pd.to_datetime(truth["started_at"], unit="s", utc=True),
        ended_at=pd.to_datetime(truth["ended_at"], unit="s", utc=True),
    )[score.WINDOW_COLUMNS]
    return detail, hourly, windows


def forecast_timing(count: int) -> dict[str, float]:
    _, hourly, _ = simulated(per_kind=max(1, count // 40 + 1), days=29)
    varied = [(k, s) for k, s in hourly.items() if s.std() > 0][:count]
    items = [(d, m, s.to_numpy()[:-24], s.index[0], pd.Timedelta(hours=1)) for (d, m), s in varied]
    while len(items) < count:  # more series than the fleet has: the same shapes again
        items += items[: count - len(items)]
    started = time.perf_counter()
    with Runner(workers=2) as runner:
        runner.map(forecast_chunk, items)
    pooled = time.perf_counter() - started
    sample = items[: max(50, count // 10)]
    started = time.perf_counter()
    forecast_chunk(sample)
    serial = (time.perf_counter() - started) * len(items) / len(sample)
    return {
        "forecast_1000_s": round(pooled * 1000 / count, 1),
        "forecast_1000_serial_s": round(serial * 1000 / count, 1),
        "forecast_speedup": round(serial / pooled, 2),
    }


def detect_timing(detail: dict, count: int) -> dict[str, float]:  # type: ignore[type-arg]
    """One detection pass over ``count`` series of the last 15 days (the scenario's series,
    repeated under new device ids when there are fewer)."""
    recent = {key: frame.iloc[-15 * 288 :] for key, frame in detail.items()}
    keys = list(recent)
    series = {
        (f"{keys[i % len(keys)][0]}-{i}", keys[i % len(keys)][1]): recent[keys[i % len(keys)]] for i in range(count)
    }
    with Runner(workers=2) as runner:  # the analytics service's pool (SMARTCITY_ANALYTICS_WORKERS=2)
        runner.map(sorted, [1, 2, 3, 4])  # started before the clock: the service's pool lives on between passes
        started = time.perf_counter()
        detect_all(series, steps_per_day=288, timezone=TIMEZONE, runner=runner)
        elapsed = (time.perf_counter() - started) * 1000 / count
    return {
        "detect_pass_1000_s": round(elapsed, 1),
        "detect_latency_s": round(INTERVAL_S + elapsed, 1),
        "detect_latency_ratio": round((INTERVAL_S + elapsed) / INTERVAL_S, 2),
    }


def seeds_f1(per_kind: int) -> dict[str, object]:
    """Detection F1 on the scored scenario under each of ``SEEDS``."""
    by_seed = {}
    for seed in SEEDS:
        detail, _hourly, truth = simulated(per_kind, seed=seed)
        by_seed[str(seed)] = evaluate(detail, {}, truth, steps_per_day=288, timezone=TIMEZONE).f1_overall
    values = list(by_seed.values())
    return {
        "f1_by_seed": by_seed,
        "f1_mean_4_seeds": round(float(np.mean(values)), 3),
        "f1_min_4_seeds": round(float(np.min(values)), 3),
    }


def real_forecasts(folder: Path) -> dict[str, object]:
    """Rolling-origin backtests on every real hourly series in ``folder``."""
    results = []
    for name, series in realdata.forecast_series(folder).items():
        results.append(backtest.backtest(series, name=name, origins=20, horizon_steps=24, history_steps=28 * 24))
    table = backtest.summary(results)
    if table.empty:
        return {"real_series": []}
    return {
        "real_mae_ratio_median": round(float(table["mae_ratio"].median()), 3),
        "real_hw_mae_ratio_median": round(float(table["hw_mae_ratio"].median()), 3),
        "real_pi80_coverage": round(float(table["pi80_coverage"].mean()), 3),
        "real_pi95_coverage": round(float(table["pi95_coverage"].mean()), 3),
        "real_series": table.to_dict("records"),
    }


def real_detection(folder: Path) -> dict[str, object]:
    """NAB's three shared categories, each and together."""
    windows_file = folder / NAB_WINDOWS
    if not windows_file.exists():
        return {}
    by_category = {}
    total = realdata.NabResult(0, 0, 0, 0.0)
    for category in NAB_CATEGORIES:
        result = realdata.nab(folder / f"nab_{category}", windows_file, category=category)
        by_category[category] = {
            "windows": result.windows,
            "window_recall": round(result.window_recall, 3),
            "false_alarms": result.false_alarms,
            "false_alarms_per_week": round(result.false_alarms_per_week, 2),
        }
        total = realdata.NabResult(
            total.windows + result.windows, total.found + result.found,
            total.false_alarms + result.false_alarms, total.weeks + result.weeks,
        )  # fmt: skip
    return {
        "nab_window_recall": round(total.window_recall, 3),
        "nab_false_alarms_per_week": round(total.false_alarms_per_week, 2),
        "nab_by_category": by_category,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--devices-per-kind", type=int, default=6)
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--data", type=Path, default=SHARED if SHARED.exists() else DATA)
    args = parser.parse_args()
    figures: dict[str, object] = {}
    started = time.perf_counter()
    detail, hourly, truth = simulated(args.devices_per_kind)
    scored = evaluate(detail, hourly, truth, steps_per_day=288, timezone=TIMEZONE)
    figures.update(
        {
            "f1_overall": scored.f1_overall,
            "precision": scored.precision,
            "recall": scored.recall,
            "median_delay_s": scored.median_delay_s,
            "f1_by_kind": {k: v["f1"] for k, v in scored.by_kind.items()},
            "mase_vs_seasonal_naive": scored.mase_vs_seasonal_naive,
            "pi80_coverage": scored.pi80_coverage,
            "pi95_coverage": scored.pi95_coverage,
            "scored_series": len(detail),
            "scored_windows": scored.windows,
            "score_s": round(time.perf_counter() - started, 1),
        }
    )
    figures.update(seeds_f1(args.devices_per_kind))
    figures.update(real_forecasts(args.data))
    figures.update(real_detection(args.data))
    figures.update(detect_timing(detail, args.series))
    figures.update(forecast_timing(args.series))
    nab = realdata.nab_traffic(DATA / "nab_realTraffic")
    figures["nab_traffic_window_recall"] = round(nab.window_recall, 3)
    figures["nab_traffic_false_alarms_per_week"] = round(nab.false_alarms_per_week, 2)
    figures["uci_mase"] = round(realdata.uci_mase(DATA / "uci_air_quality" / "AirQualityUCI.csv"), 3)
    if args.json:
        print(json.dumps(figures, indent=2, default=str))
        return
    table = pd.DataFrame(figures.pop("real_series", []))
    for key, value in figures.items():
        print(f"{key:36s} {value}")
    if not table.empty:
        print("\nreal series, rolling origins (MAE over seasonal naive's; coverage of the intervals):")
        print(table.to_string(index=False))


if __name__ == "__main__":
    main()
