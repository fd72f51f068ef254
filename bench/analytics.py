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
- Real data: ``nab_traffic_window_recall``, ``nab_traffic_false_alarms_per_week``,
  ``uci_mase``.

Usage: .venv/bin/python bench/analytics.py [--json] [--devices-per-kind N] [--series N]
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

from analytics import realdata, score  # noqa: E402
from analytics.evaluate import evaluate  # noqa: E402
from analytics.parallel import Runner  # noqa: E402
from analytics.passes import detect_all, forecast_chunk  # noqa: E402
from sensors_sim import anomalies  # noqa: E402
from sensors_sim.signals import fleet_of_every_kind, generate  # noqa: E402

SEED = 7
END = pd.Timestamp("2026-11-20", tz="UTC")
TIMEZONE = "Asia/Seoul"  # the simulated city's: working days and weekends are local
INTERVAL_S = 30.0  # SMARTCITY_ANALYTICS_INTERVAL_S's default
DATA = ROOT / "tests" / "data" / "series"


def simulated(per_kind: int, days: int = 28, prefix: str = "") -> tuple[dict, dict, pd.DataFrame]:  # type: ignore[type-arg]
    """The scored scenario in memory: 5-minute series of the metrics anomalies touch, hourly
    series of every metric, and the labelled windows; ``sim backfill`` with the same fleet,
    seed and span writes the same readings (tests/test_analytics_score.py)."""
    fleet = fleet_of_every_kind(per_kind, prefix)
    end_s = END.timestamp()
    start_s = end_s - days * 86400
    times = np.arange(start_s, end_s, 300.0)
    truth = anomalies.plan(fleet, start_s, end_s, interval_s=300, per_device_day=0.2, seed=SEED)
    truth = anomalies.with_reference(fleet, truth, seed=SEED, interval_s=300)
    blocks = generate(fleet, times, seed=SEED, interval_s=300)
    anomalies.apply(blocks, times, truth, seed=SEED, interval_s=300)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--devices-per-kind", type=int, default=6)
    parser.add_argument("--series", type=int, default=1000)
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
    figures.update(detect_timing(detail, args.series))
    figures.update(forecast_timing(args.series))
    nab = realdata.nab_traffic(DATA / "nab_realTraffic")
    figures["nab_traffic_window_recall"] = round(nab.window_recall, 3)
    figures["nab_traffic_false_alarms_per_week"] = round(nab.false_alarms_per_week, 2)
    figures["uci_mase"] = round(realdata.uci_mase(DATA / "uci_air_quality" / "AirQualityUCI.csv"), 3)
    if args.json:
        print(json.dumps(figures, indent=2, default=str))
    else:
        for key, value in figures.items():
            print(f"{key:36s} {value}")


if __name__ == "__main__":
    main()
