"""Backfill: D days of history for the fleet, written straight into TimescaleDB with COPY;
and the ground truth of labelled anomalies, for backfill and live runs alike.

Generation is pure (``generate`` + ``anomalies.apply``); this module is the edge that
formats rows and streams them to the database a day at a time.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import numpy as np
import pandas as pd
import psycopg

from sensors_sim import anomalies, queries
from sensors_sim.signals import generate


class ReadingSink(Protocol):
    """Where generated readings go: ingest's bulk writer (``ingest.bulk.BulkWriter``),
    wired by the command line; the simulator itself writes no reading."""

    def write_text_rows(self, payloads: Iterable[bytes]) -> None: ...

    def refresh_latest(self, device_ids: list[str], since: datetime) -> None: ...


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
    sink: ReadingSink,
    progress: Callable[[int, int, int, float], None] | None = None,
) -> BackfillResult:
    """Readings for [start, end) into ``sink``, and the ground truth of their anomalies into ``conn``."""
    started = time.perf_counter()
    start_s, end_s = start.timestamp(), end.timestamp()
    truth = anomalies.plan(
        fleet, start_s, end_s, interval_s=interval_s, per_device_day=anomalies_per_device_day, seed=seed
    )
    truth = anomalies.with_reference(fleet, truth, seed=seed, interval_s=interval_s)
    rows = 0
    day_s = 86400.0
    chunk_starts = np.arange(start_s, end_s, day_s)
    for n, chunk_start in enumerate(chunk_starts, 1):
        times_s = np.arange(chunk_start, min(chunk_start + day_s, end_s), interval_s)
        blocks = generate(fleet, times_s, seed=seed, interval_s=interval_s)
        anomalies.apply(blocks, times_s, truth, seed=seed, interval_s=interval_s)
        stamps = [datetime.fromtimestamp(float(t), UTC).isoformat() for t in times_s]
        payloads = [_text_rows(b.values, b.device_ids, stamps) for b in blocks]
        rows += sum(p.count(b"\n") for p in payloads)
        sink.write_text_rows(payloads)
        if progress:
            progress(n, len(chunk_starts), rows, time.perf_counter() - started)
    write_truth(conn, run_id, truth)
    sink.refresh_latest(list(fleet["device_id"]), end - pd.Timedelta(days=1))
    return BackfillResult(rows, len(truth), time.perf_counter() - started)


def write_truth(conn: psycopg.Connection[tuple[object, ...]], run_id: str, truth: pd.DataFrame) -> None:
    """Store labelled anomalies (``anomalies.TRUTH_COLUMNS``, epoch seconds) under ``run_id``."""
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            queries.INSERT_TRUTH,
            [
                (run_id, str(d), str(m), str(k), float(s), float(e), float(x))
                for d, m, k, s, e, x in truth[anomalies.TRUTH_COLUMNS].itertuples(index=False, name=None)
            ],
        )


def progress_line(done: int, total: int, rows: int, elapsed_s: float, *, width: int = 30) -> str:
    """A progress bar: ``[#####.....]  12/30 days  3,456,789 rows  270,000 rows/s  ETA 1m05s``."""
    filled = int(width * done / total) if total else width
    rate = rows / elapsed_s if elapsed_s > 0 else 0.0
    eta_s = elapsed_s / done * (total - done) if done else 0.0
    return (
        f"[{'#' * filled}{'.' * (width - filled)}] {done:>3}/{total} days  {rows:,} rows  "
        f"{rate:,.0f} rows/s  ETA {int(eta_s) // 60}m{int(eta_s) % 60:02d}s"
    )


def print_progress(done: int, total: int, rows: int, elapsed_s: float) -> None:
    """Draw the bar in place on a terminal; one line per update in a log file."""
    line = progress_line(done, total, rows, elapsed_s)
    if sys.stderr.isatty():
        end = "\n" if done >= total else ""
        print(f"\r{line}", end=end, file=sys.stderr, flush=True)
    else:
        print(line, file=sys.stderr, flush=True)
