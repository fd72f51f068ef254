"""The pure work of an analytics pass: rows to regular series, detection over every
series (spread over a pool a metric per task), forecasts for a chunk of series. No I/O:
``analytics.jobs`` reads the rows and writes what this returns."""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd

from analytics.detect import Episode, Thresholds, detect, median_score, scores
from analytics.errors import SeriesError
from analytics.forecast import forecast
from analytics.parallel import Runner

__all__ = [
    "FLEET",
    "FLEET_METRIC",
    "ForecastItem",
    "SeriesKey",
    "detect_all",
    "detect_metrics",
    "forecast_chunk",
    "series_from_rows",
    "shared_silences",
]

SeriesKey = tuple[str, str]
# The device id of an episode the whole fleet shares (the platform, the broker or the
# network went quiet, not the sensors); its metric is FLEET_METRIC.
FLEET = "fleet"
FLEET_METRIC = "reports"


def series_from_rows(
    frame: pd.DataFrame, step: pd.Timedelta, *, until: pd.Timestamp | None = None
) -> dict[SeriesKey, pd.DataFrame]:
    """Rows of (device_id, metric, bucket, value[, low, high]) as one regular frame per series.

    Missing buckets become NaN rows (an expected report that did not come); with
    ``until`` a series that went silent is extended with NaN up to it.
    """
    out: dict[SeriesKey, pd.DataFrame] = {}
    for (device_id, metric), group in frame.groupby(["device_id", "metric"], sort=False):
        index = pd.DatetimeIndex(pd.to_datetime(group["bucket"], utc=True))
        values = group.drop(columns=["device_id", "metric", "bucket"]).astype(float).set_axis(index)
        end = max(index[-1], until) if until is not None else index[-1]
        grid = pd.date_range(index[0], end, freq=step)
        out[(str(device_id), str(metric))] = values.reindex(grid)
    return out


def detect_all(
    series: dict[SeriesKey, pd.DataFrame],
    *,
    steps_per_day: int,
    thresholds: Thresholds | None = None,
    timezone: str | None = None,
    runner: Runner | None = None,
) -> list[tuple[str, str, Episode]]:
    """Episodes of every series; the series of one metric share a city-wide score.

    Their grids may differ at the ends (a sensor that just reported has one bucket more
    than the rest); the median aligns them by time and counts only times enough have.
    With a ``runner``, the metrics are spread over its processes (each metric's series
    stay together: they share the city-wide score). Silence most devices share is one
    episode (:func:`shared_silences`), not one per device.
    """
    by_metric: dict[str, dict[SeriesKey, pd.DataFrame]] = {}
    for key, frame in series.items():
        by_metric.setdefault(key[1], {})[key] = frame
    groups = sorted(by_metric.values(), key=len, reverse=True)  # big metrics first: better balance
    work = partial(detect_metrics, steps_per_day=steps_per_day, thresholds=thresholds, timezone=timezone)
    found = work(groups) if runner is None else runner.map(work, groups, per_worker=len(groups))
    return shared_silences(found, series)


def detect_metrics(
    groups: list[dict[SeriesKey, pd.DataFrame]],
    *,
    steps_per_day: int,
    thresholds: Thresholds | None = None,
    timezone: str | None = None,
) -> list[tuple[str, str, Episode]]:
    """``detect_all``'s work for groups of series, each group the series of one metric.

    A top-level function of plain data, so a process pool or a Dask worker can run it.
    """
    out: list[tuple[str, str, Episode]] = []
    for group in groups:
        scored = {key: scores(f["value"], steps_per_day=steps_per_day, timezone=timezone) for key, f in group.items()}
        common = median_score({f"{k[0]}|{k[1]}": z for k, (_, z) in scored.items()})
        for key, frame in group.items():
            extremes = (frame["low"], frame["high"]) if {"low", "high"} <= set(frame.columns) else None
            for episode in detect(
                frame["value"],
                steps_per_day=steps_per_day,
                thresholds=thresholds,
                common_z=common,
                extremes=extremes,
                scored=scored[key],
            ):
                out.append((key[0], key[1], episode))
    return out


def shared_silences(
    found: list[tuple[str, str, Episode]],
    series: dict[SeriesKey, pd.DataFrame],
    *,
    min_devices: int = 5,
    min_share: float = 0.5,
) -> list[tuple[str, str, Episode]]:
    """Dropouts most of the fleet shares, as one episode naming the likely cause.

    When at least ``min_share`` of the devices (and ``min_devices``) are silent in the same
    buckets, the platform, the broker or the network stopped, not each sensor: the dropouts
    lying within that stretch (one step of slack either side) become one ``FLEET`` episode.
    A device silent longer than the fleet keeps its own episode.
    """
    devices = sorted({key[0] for key in series})
    dropouts = [(i, d, m, e) for i, (d, m, e) in enumerate(found) if e.kind == "dropout"]
    if len(devices) < min_devices or not dropouts:
        return found
    step = min((pd.Timedelta(f.index[1] - f.index[0]) for f in series.values() if len(f) > 1), default=None)
    if step is None:
        return found
    first = min(e.start for _, _, _, e in dropouts)
    grid = pd.date_range(first, max(e.end for _, _, _, e in dropouts), freq=step)
    silent = {d: np.zeros(len(grid), dtype=bool) for d in devices}
    for _, device, _, episode in dropouts:
        a, b = grid.searchsorted(episode.start), grid.searchsorted(episode.end, side="right")
        silent[device][a:b] = True
    count = np.sum(list(silent.values()), axis=0)
    needed = max(min_devices, int(np.ceil(min_share * len(devices))))
    shared = count >= needed
    drop: set[int] = set()
    fleet: list[tuple[str, str, Episode]] = []
    edges = np.flatnonzero(np.diff(np.concatenate([[0], shared.astype(int), [0]])))
    for a, b in zip(edges[::2], edges[1::2] - 1, strict=True):
        start, end = grid[a], grid[b]
        inside = [i for i, _, _, e in dropouts if e.start >= start - step and e.end <= end + step]
        quiet = len({found[i][0] for i in inside})
        drop.update(inside)
        minutes = round((end - start + step).total_seconds() / 60)
        words = (f"no reports from {quiet} of {len(devices)} devices at once for {minutes} min: "
                 "the platform, the broker or the network stopped, not the sensors")  # fmt: skip
        fleet.append((FLEET, FLEET_METRIC, Episode(start, end, "dropout", round(quiet / len(devices) * 10, 2), words)))
    return [item for i, item in enumerate(found) if i not in drop] + fleet


ForecastItem = tuple[str, str, np.ndarray, pd.Timestamp, pd.Timedelta]


def forecast_chunk(
    items: list[ForecastItem], *, horizon_steps: int = 24, season_steps: int = 24
) -> list[tuple[object, ...]]:
    """Forecast rows (time, device, metric, model, yhat, lo80, hi80, lo95, hi95, backtest_mae) for a chunk.

    A top-level function of plain data, so a process pool or a Dask worker can run it.
    """
    rows: list[tuple[object, ...]] = []
    for device_id, metric, values, start, step in items:
        series = pd.Series(values, index=pd.date_range(start, periods=len(values), freq=step))
        try:
            fc = forecast(series, horizon_steps=horizon_steps, season_steps=season_steps)
        except SeriesError:
            continue
        rows.extend(
            (t, device_id, metric, r.model, r.yhat, r.lo80, r.hi80, r.lo95, r.hi95, r.backtest_mae)
            for t, r in zip(fc.index, fc.itertuples(), strict=True)
        )
    return rows
