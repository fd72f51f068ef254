"""Analytics jobs over the database: detect anomalies (often), forecast every series (hourly).

The pure middle is ``series_from_rows``, ``detect_all`` and ``forecast_chunk``; the
rest reads buckets, writes rows and hands new episodes to the caller (who publishes
them as alerts).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

import numpy as np
import pandas as pd
import psycopg

from analytics import queries
from analytics.aggregate import aggregate, memberships
from analytics.detect import Episode, Thresholds, detect, median_score, scores
from analytics.errors import SeriesError
from analytics.forecast import forecast
from analytics.parallel import Runner

log = logging.getLogger(__name__)
SeriesKey = tuple[str, str]


@dataclass(frozen=True)
class AnalyticsConfig:
    dsn: str
    bucket: str = "5 minutes"  # detection resolution
    detect_history: timedelta = timedelta(days=15)  # two weeks back: the same weekday's normal
    forecast_bucket: str = "1 hour"
    forecast_history: timedelta = timedelta(days=28)
    horizon_steps: int = 24  # a day of hours
    season_steps: int = 24
    devices: str = "%"  # a LIKE pattern: the series this pass covers (all by default)
    recent: timedelta | None = timedelta(hours=6)  # only episodes ending this recently are written
    workers: int = 1
    dask_address: str | None = None
    timezone: str | None = "Asia/Seoul"  # the city's: working days and weekends are local


@dataclass
class PassResult:
    series: int = 0
    forecasts: int = 0
    new_episodes: list[tuple[str, str, Episode]] = field(default_factory=list)


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


def _read(
    conn: psycopg.Connection[tuple[object, ...]], bucket: str, since: datetime, until: datetime, devices: str
) -> pd.DataFrame:
    with conn.cursor() as cur:
        cur.execute(queries.BUCKETED, {"bucket": bucket, "since": since, "until": until, "devices": devices})
        rows = cur.fetchall()
    conn.commit()
    return pd.DataFrame(rows, columns=["device_id", "metric", "bucket", "value", "low", "high"])


def run_detection(
    conn: psycopg.Connection[tuple[object, ...]], config: AnalyticsConfig, now: datetime, runner: Runner | None = None
) -> tuple[int, list[tuple[str, str, Episode]]]:
    """Detect over ``config.detect_history`` and write the episodes; returns (series, new episodes)."""
    frame = _read(conn, config.bucket, now - config.detect_history, now, config.devices)
    if frame.empty:
        return 0, []
    step = pd.Timedelta(config.bucket)
    # the bucket being filled now is not missing yet: silence counts up to the one before
    until = pd.Timestamp(now).floor(step) - step
    series = series_from_rows(frame, step, until=until)
    found = detect_all(series, steps_per_day=int(pd.Timedelta(days=1) / step), timezone=config.timezone, runner=runner)
    if config.recent is not None:
        cutoff = pd.Timestamp(now) - config.recent
        found = [item for item in found if item[2].end >= cutoff]
    new: list[tuple[str, str, Episode]] = []
    with conn.transaction(), conn.cursor() as cur:
        for device_id, metric, ep in found:
            cur.execute(queries.DROP_RECLASSIFIED, (device_id, metric, ep.start, ep.kind))
            cur.execute(
                queries.INSERT_ANOMALY, (device_id, metric, ep.start, ep.end, ep.kind, ep.severity, ep.explanation)
            )
            row = cur.fetchone()
            if row and row[1]:
                new.append((device_id, metric, ep))
    return len(series), new


def run_forecasts(
    conn: psycopg.Connection[tuple[object, ...]], config: AnalyticsConfig, now: datetime, runner: Runner | None = None
) -> int:
    """Forecast every series ``config.horizon_steps`` ahead and store the rows; returns how many."""
    frame = _read(conn, config.forecast_bucket, now - config.forecast_history, now, config.devices)
    if frame.empty:
        return 0
    step = pd.Timedelta(config.forecast_bucket)
    rows = frame[["device_id", "metric", "bucket", "value"]]
    # the districts' and buildings' own series, forecast like a device's
    with conn.cursor() as cur:
        cur.execute(queries.DEVICE_GROUPS, (config.devices,))
        members = pd.DataFrame(cur.fetchall(), columns=["device_id", "district", "building_id"])
    conn.commit()
    rows = pd.concat([rows, aggregate(rows, memberships(members))], ignore_index=True)
    items: list[ForecastItem] = [
        (device_id, metric, f["value"].to_numpy(), f.index[0], step)
        for (device_id, metric), f in series_from_rows(rows, step).items()
    ]
    runner = runner or Runner(workers=config.workers, dask_address=config.dask_address)
    forecasts = runner.map(
        partial(forecast_chunk, horizon_steps=config.horizon_steps, season_steps=config.season_steps), items
    )
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(queries.DELETE_OLD_FORECASTS, (now - timedelta(hours=6),))
        cur.executemany(queries.INSERT_FORECAST, [(r[0], r[1], r[2], now, *r[3:]) for r in forecasts])
    return len(forecasts)


def run_pass(
    conn: psycopg.Connection[tuple[object, ...]],
    config: AnalyticsConfig,
    now: datetime,
    on_episode: Callable[[str, str, Episode], None] | None = None,
    *,
    forecasts: bool = True,
    runner: Runner | None = None,
) -> PassResult:
    """Detect (and, unless told not to, forecast) every series with data before ``now``."""
    result = PassResult()
    result.series, result.new_episodes = run_detection(conn, config, now, runner)
    if forecasts:
        result.forecasts = run_forecasts(conn, config, now, runner)
    if on_episode:
        for item in result.new_episodes:
            on_episode(*item)
    return result
