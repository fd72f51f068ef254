"""Hourly and daily rollups, kept equal to a recomputation from the raw readings.

Ingest logs, per (device, hour), the aggregates of the readings each batch stored, a
metric an array element (a batch holding redeliveries, and a bulk load, log the
device-hours to recompute instead); :func:`bring_up_to_date` merges the aggregates into their hours, recomputes
the logged device-hours from the readings, then the city days they fall on from the
hours, and consumes the log, all in one repeatable-read transaction. A late reading is
merged into the bucket it lands in, a redelivered one is stored and counted once; a
batch committing meanwhile waits for the next run. Hours on days already archived and
dropped are recomputed from the archive together with the late readings (``history``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import psycopg

from storage import queries

MAX_LOG_ROWS = 500_000  # log rows one run takes on: a backlog is worked off over several runs

# (device, metric, start, end) -> that series' readings in the span, from hot and archived days
ReadSpan = Callable[[str, str, datetime, datetime], pd.DataFrame]


def bring_up_to_date(
    conn: psycopg.Connection[Any], city_tz: str, *, read_span: ReadSpan | None = None, limit: int = MAX_LOG_ROWS
) -> int:
    """Recompute every logged hour and its day; returns the log rows consumed (0: nothing to do).
    A transaction the caller left open on ``conn`` is committed first."""
    started = time.perf_counter()
    _own_transactions(conn)  # each run is its own transaction, begun below at this level
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    with conn.transaction():
        for setting in queries.RUN_SETTINGS:
            conn.execute(setting)
        found = conn.execute(queries.LOG_UPTO, (limit,)).fetchone()
        upto = found[0] if found else None
        if upto is None:
            return 0
        params = {"upto": upto, "tz": city_tz}
        archived = conn.execute(queries.TOUCHED_ARCHIVED, params).fetchall()
        if archived and read_span is not None:
            _recompute_from_history(conn, archived, read_span)
        conn.execute(queries.ROLLUP_HOURS, params)
        conn.execute(queries.MERGE_DELTAS, params)
        conn.execute(queries.ADD_LATE, params)
        conn.execute(queries.ROLLUP_DAYS, params)
        consumed = conn.execute(queries.CONSUME_LOG, params).rowcount
        conn.execute(queries.RECORD_RUN, ("rollup", consumed, time.perf_counter() - started))
    return consumed


def _recompute_from_history(conn: psycopg.Connection[Any], hours: list[tuple[Any, ...]], read_span: ReadSpan) -> None:
    rows = []
    for device, metric, hour in hours:
        frame = read_span(device, metric, hour, hour + timedelta(hours=1))
        if frame.empty:
            continue
        ordered = frame.sort_values("time")
        values = ordered["value"].to_numpy(dtype=float)
        last_time = ordered["time"].iloc[-1].to_pydatetime()
        rows.append((device, metric, hour, len(values), float(values.mean()), float(values.min()),
                     float(values.max()), float(values[-1]), last_time, float(values.sum())))  # fmt: skip
    if rows:
        with conn.cursor() as cur:
            cur.executemany(queries.UPSERT_HOUR, rows)


def _own_transactions(conn: psycopg.Connection[Any]) -> None:
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        conn.commit()
    conn.autocommit = True


def mark_range(conn: psycopg.Connection[Any], start: datetime, end: datetime) -> int:
    """Log every (device, metric, hour) with readings in [start, end): after a bulk load
    that did not pass through ingest (a backfill, a restore), the next run covers it."""
    with conn.transaction():
        return conn.execute(queries.MARK_RANGE, (start, end)).rowcount


def work_off(
    conn: psycopg.Connection[Any], city_tz: str, read_span: ReadSpan | None = None, *, limit: int = MAX_LOG_ROWS
) -> int:
    """Runs until one run takes less than ``limit`` log rows: everything logged before that
    run began is then rolled up (the whole log when nothing writes meanwhile). While ingest
    keeps writing, the log is never empty: the caller waits its interval before the next
    round instead of re-reading the same devices' hours back to back. Returns the log rows
    consumed."""
    total = 0
    while True:
        done = bring_up_to_date(conn, city_tz, read_span=read_span, limit=limit)
        total += done
        if done < limit:
            return total
