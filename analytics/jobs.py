"""Analytics jobs over the database: detect anomalies (often), forecast every series
(hourly), score a simulator run. The edge: it reads buckets, hands them to the pure
work in ``analytics.passes``, writes rows and hands new episodes to the caller (who
publishes them as alerts).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

import pandas as pd
import psycopg

from analytics import evaluate, queries
from analytics.aggregate import aggregate, memberships
from analytics.detect import Episode
from analytics.errors import AnalyticsError
from analytics.evaluate import Figures
from analytics.parallel import Runner
from analytics.passes import ForecastItem, detect_all, forecast_chunk, series_from_rows
from analytics.score import WINDOW_COLUMNS

log = logging.getLogger(__name__)

RECENT_EPISODES = timedelta(hours=6)  # a pass writes only the episodes ending this recently


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
    recent: timedelta | None = RECENT_EPISODES
    workers: int = 1
    dask_address: str | None = None
    timezone: str | None = "Asia/Seoul"  # the city's: working days and weekends are local


@dataclass
class PassResult:
    series: int = 0
    forecasts: int = 0
    new_episodes: list[tuple[str, str, Episode]] = field(default_factory=list)


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


def evaluate_run(
    conn: psycopg.Connection[tuple[object, ...]],
    *,
    run_id: str | None = None,
    devices: str = "%",
    timezone: str | None = None,
) -> tuple[str, Figures]:
    """Score a simulator run (the latest with ground truth by default) from the database.

    Raises:
        AnalyticsError: no run with ground truth, or no readings in its span.
    """
    runs = conn.execute(queries.TRUTH_RUNS).fetchall()
    if not runs:
        raise AnalyticsError("no simulator ground truth in sim_anomalies; run `smartcity sim backfill` first")
    chosen = next((r for r in runs if run_id is None or r[0] == run_id), None)
    if chosen is None:
        raise AnalyticsError(f"no ground truth for run {run_id!r}; runs are {[r[0] for r in runs][:10]}")
    name = str(chosen[0])
    truth = pd.DataFrame(conn.execute(queries.TRUTH, (name, devices)).fetchall(), columns=WINDOW_COLUMNS)
    for column in ("started_at", "ended_at"):
        truth[column] = pd.to_datetime(truth[column], utc=True)
    span = conn.execute(queries.RUN_SPAN, (name,)).fetchone()
    if not span or span[0] is None:
        raise AnalyticsError(f"run {name!r} has no span")
    pattern = devices
    detail_rows = conn.execute(
        queries.BUCKETED, {"bucket": "5 minutes", "since": span[0], "until": span[1], "devices": pattern}
    ).fetchall()
    hourly_rows = conn.execute(
        queries.BUCKETED, {"bucket": "1 hour", "since": span[0], "until": span[1], "devices": pattern}
    ).fetchall()
    conn.commit()
    columns = ["device_id", "metric", "bucket", "value", "low", "high"]
    truth_devices = set(truth["device_id"])
    detail_frame = pd.DataFrame(detail_rows, columns=columns)
    detail_frame = detail_frame[detail_frame["device_id"].isin(truth_devices)]
    if detail_frame.empty:
        raise AnalyticsError(f"no readings for the devices of run {name!r}")
    detail = series_from_rows(detail_frame, pd.Timedelta(minutes=5))
    hourly_frame = pd.DataFrame(hourly_rows, columns=columns)
    hourly_frame = hourly_frame[hourly_frame["device_id"].isin(truth_devices)][columns[:4]]
    hourly = {k: f["value"] for k, f in series_from_rows(hourly_frame, pd.Timedelta(hours=1)).items()}
    # only metrics that can carry anomalies are scored for detection
    detail = {k: v for k, v in detail.items() if k[1] in set(truth["metric"])}
    return name, evaluate.evaluate(detail, hourly, truth, steps_per_day=288, timezone=timezone)
