"""One analytics pass over the database: forecast every series, detect anomalies, store both."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd
import psycopg
from pandas.tseries.frequencies import to_offset

from analytics import queries
from analytics.detect import Episode, episodes, spikes, stuck
from analytics.errors import SeriesError
from analytics.forecast import forecast

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AnalyticsConfig:
    dsn: str
    bucket: str = "5 minutes"
    history: timedelta = timedelta(days=7)
    horizon_steps: int = 12
    season_steps: int = 288  # one day of 5-minute buckets
    devices: str = "%"  # a LIKE pattern: the series this pass covers (all by default)


@dataclass
class PassResult:
    series: int = 0
    forecasts: int = 0
    new_episodes: list[tuple[str, str, Episode]] = field(default_factory=list)


def run_pass(
    conn: psycopg.Connection[tuple[object, ...]],
    config: AnalyticsConfig,
    now: datetime,
    on_episode: Callable[[str, str, Episode], None] | None = None,
) -> PassResult:
    """Forecast and scan every series with data in ``config.history`` before ``now``."""
    with conn.cursor() as cur:
        cur.execute(
            queries.BUCKETED, {"bucket": config.bucket, "since": now - config.history, "devices": config.devices}
        )
        rows = cur.fetchall()
    conn.commit()
    frame = pd.DataFrame(rows, columns=["device_id", "metric", "bucket", "value"])
    result = PassResult()
    if frame.empty:
        return result
    step = pd.Timedelta(config.bucket)
    forecast_rows: list[tuple[object, ...]] = []
    found: list[tuple[str, str, Episode]] = []
    for (device_id, metric), group in frame.groupby(["device_id", "metric"], sort=False):
        series = group.set_index(pd.DatetimeIndex(group["bucket"]))["value"].astype(float)
        series = series.asfreq(to_offset(step))
        result.series += 1
        try:
            fc = forecast(series, horizon_steps=config.horizon_steps, season_steps=config.season_steps)
        except SeriesError:
            fc = None
        if fc is not None:
            forecast_rows.extend(
                (t, device_id, metric, now, r.model, r.yhat, r.lo80, r.hi80, r.lo95, r.hi95, None)
                for t, r in fc.iterrows()
            )
        clean = series.dropna()
        for ep in episodes(spikes(clean), clean, kind="spike") + episodes(stuck(clean), clean, kind="stuck"):
            found.append((str(device_id), str(metric), ep))
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(queries.DELETE_OLD_FORECASTS, (now - timedelta(hours=6),))
        cur.executemany(queries.INSERT_FORECAST, forecast_rows)
        for device_id, metric, ep in found:
            cur.execute(
                queries.INSERT_ANOMALY,
                (device_id, metric, ep.start, ep.end, ep.kind, ep.severity, ep.explanation),
            )
            row = cur.fetchone()
            if row and row[1]:
                result.new_episodes.append((device_id, metric, ep))
    result.forecasts = len(forecast_rows)
    if on_episode:
        for item in result.new_episodes:
            on_episode(*item)
    return result
