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

__all__ = ["ForecastItem", "SeriesKey", "detect_all", "detect_metrics", "forecast_chunk", "series_from_rows"]

SeriesKey = tuple[str, str]


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
    stay together: they share the city-wide score).
    """
    by_metric: dict[str, dict[SeriesKey, pd.DataFrame]] = {}
    for key, frame in series.items():
        by_metric.setdefault(key[1], {})[key] = frame
    groups = sorted(by_metric.values(), key=len, reverse=True)  # big metrics first: better balance
    work = partial(detect_metrics, steps_per_day=steps_per_day, thresholds=thresholds, timezone=timezone)
    if runner is None:
        return work(groups)
    return runner.map(work, groups, per_worker=len(groups))  # a task per metric, the biggest first


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
