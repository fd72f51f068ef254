"""Backfill: D days of history for the fleet, written straight into TimescaleDB with COPY.

Generation is pure (``generate`` + ``anomalies.apply``); this module is the edge that
formats rows and streams them to the database a day at a time.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import psycopg

from sensors_sim import anomalies, queries
from sensors_sim.signals import generate


@dataclass(frozen=True)
class BackfillResult:
    rows: int
    anomalies: int
    seconds: float

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def _text_rows(block_values: dict[str, np.ndarray], device_ids: list[str], stamps: list[str]) -> bytes:
    lines: list[str] = []
    for metric, values in block_values.items():
        for i, device_id in enumerate(device_ids):
            prefix = f"\t{device_id}\t{metric}\t"
            series = values[i]
            valid = np.flatnonzero(~np.isnan(series))
            lines.extend(
                f"{stamps[j]}{prefix}{v!r}\n" for j, v in zip(valid.tolist(), series[valid].tolist(), strict=True)
            )
    return "".join(lines).encode()


def backfill(
    conn: psycopg.Connection[tuple[object, ...]],
    fleet: pd.DataFrame,
    start: datetime,
    end: datetime,
    *,
    interval_s: float,
    seed: int,
    anomalies_per_device_day: float,
    run_id: str,
    progress: Callable[[str], None] | None = None,
) -> BackfillResult:
    """Write readings for [start, end) and the ground truth of the anomalies in them."""
    started = time.perf_counter()
    start_s, end_s = start.timestamp(), end.timestamp()
    truth = anomalies.plan(
        fleet, start_s, end_s, interval_s=interval_s, per_device_day=anomalies_per_device_day, seed=seed
    )
    rows = 0
    conn.execute(queries.CREATE_STAGING)
    day_s = 86400.0
    chunk_starts = np.arange(start_s, end_s, day_s)
    for n, chunk_start in enumerate(chunk_starts, 1):
        times_s = np.arange(chunk_start, min(chunk_start + day_s, end_s), interval_s)
        blocks = generate(fleet, times_s, seed=seed, interval_s=interval_s)
        anomalies.apply(blocks, times_s, truth, seed=seed)
        stamps = [datetime.fromtimestamp(float(t), UTC).isoformat() for t in times_s]
        payloads = [_text_rows(b.values, b.device_ids, stamps) for b in blocks]
        rows += sum(p.count(b"\n") for p in payloads)
        _write(conn, payloads)
        if progress:
            elapsed = time.perf_counter() - started
            progress(f"backfill: day {n}/{len(chunk_starts)}, {rows:,} rows, {rows / elapsed:,.0f} rows/s")
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            queries.INSERT_TRUTH,
            [
                (run_id, r.device_id, r.metric, r.kind, r.started_at, r.ended_at, r.magnitude)
                for r in truth.itertuples()
            ],
        )
        cur.execute(queries.REFRESH_LATEST, (list(fleet["device_id"]), end - pd.Timedelta(days=1)))
    return BackfillResult(rows, len(truth), time.perf_counter() - started)


def _write(conn: psycopg.Connection[tuple[object, ...]], payloads: list[bytes]) -> None:
    try:
        with conn.transaction(), conn.cursor() as cur, cur.copy(queries.COPY_READINGS_TEXT) as copy:
            for payload in payloads:
                copy.write(payload)
    except psycopg.errors.UniqueViolation:
        # Part of this day is stored already (a second backfill): keep what is new.
        with conn.transaction(), conn.cursor() as cur:
            with cur.copy(queries.COPY_STAGING_TEXT) as copy:
                for payload in payloads:
                    copy.write(payload)
            cur.execute(queries.MERGE_STAGING)


def print_progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
