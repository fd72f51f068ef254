"""The columnar archive of raw readings older than the retention age.

One Parquet file per (UTC day, metric): ``<root>/day=YYYY-MM-DD/metric=<metric>/readings.parquet``,
rows ``device_id`` (dictionary), ``time`` (µs, UTC, delta-encoded) and ``value`` (float64,
byte-stream-split), sorted, compressed with zstd. A day is archived in three steps, each
safe to repeat:

1. write every metric's file under a temporary name, read it back, compare row count and
   value sum with the database's, and only then rename it into place;
2. record the day in ``archive_days`` (rows, bytes, checksum);
3. drop the day's chunk and mark the day dropped, in one transaction.

A crash before 3 leaves the readings in the database and the day unmarked: the query
side keeps reading it from the database, and the next run writes it again (the same
file, replaced). Late readings for a dropped day land in a new chunk; the next run merges
them into that day's files before dropping it again.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from functools import cached_property
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
from fsspec.implementations.local import LocalFileSystem

from storage import queries
from storage.errors import ArchiveError
from storage.rollups import _own_transactions

SCHEMA = pa.schema([("device_id", pa.dictionary(pa.int32(), pa.string())), ("time", pa.timestamp("us", tz="UTC")),
                    ("value", pa.float64())])  # fmt: skip
ZSTD_LEVEL = 9


@dataclass(frozen=True)
class Archive:
    """Where the archive lives: a local folder, or any fsspec URL (``s3://bucket/city``,
    ``gcs://...``, ``memory://...``; the protocol's fsspec package installed, its
    credentials in its usual environment variables or config)."""

    root: Path | str

    @cached_property
    def _located(self) -> tuple[fsspec.AbstractFileSystem, str]:
        fs, base = fsspec.core.url_to_fs(str(self.root))
        return fs, str(base).rstrip("/")

    @property
    def fs(self) -> fsspec.AbstractFileSystem:
        return self._located[0]

    @property
    def local(self) -> bool:
        return isinstance(self.fs, LocalFileSystem)

    @property
    def base(self) -> str:
        """The root as the filesystem names it (no protocol)."""
        return self._located[1]

    def day_folder(self, day: date) -> str:
        return f"{self.base}/day={day.isoformat()}"

    def file(self, day: date, metric: str) -> str:
        return f"{self.day_folder(day)}/metric={metric}/readings.parquet"

    def files(self, day: date) -> list[str]:
        return sorted(self.fs.glob(f"{self.day_folder(day)}/metric=*/readings.parquet"))

    def exists(self, path: str) -> bool:
        return bool(self.fs.exists(path))

    def url(self, path: str) -> str:
        """``path`` as DuckDB opens it: a plain path when local, else with its protocol."""
        return path if self.local else str(self.fs.unstrip_protocol(path))


def copy_out(archive: Archive, folder: Path) -> int:
    """Every file of the archive into the local ``folder`` (which must not exist), keeping
    their paths; returns how many."""
    if not archive.exists(archive.base):
        return 0
    if archive.local:
        shutil.copytree(archive.base, folder)
        return sum(1 for p in folder.rglob("*") if p.is_file())
    names = [n for n in archive.fs.find(archive.base) if not n.rsplit("/", 1)[-1].startswith(".")]
    for name in names:
        target = folder / name[len(archive.base) :].lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(archive.fs.cat_file(name))
    return len(names)


def replace_with(archive: Archive, folder: Path) -> None:
    """Make the archive hold exactly the files under the local ``folder`` (none if it is absent)."""
    if archive.exists(archive.base):
        archive.fs.rm(archive.base, recursive=True)
    if not folder.exists():
        return
    if archive.local:
        shutil.copytree(folder, archive.base)
        return
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        archive.fs.pipe_file(f"{archive.base}/{path.relative_to(folder).as_posix()}", path.read_bytes())


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, dtime(0), tzinfo=UTC)
    return start, start + timedelta(days=1)


def write_table(frame: pd.DataFrame, archive: Archive, path: str) -> int:
    """One metric's readings of one day into ``path`` (atomically: written under a temporary
    name, read back and compared, then renamed); returns its bytes."""
    table = pa.Table.from_pandas(frame[["device_id", "time", "value"]], schema=SCHEMA, preserve_index=False)
    buffer = pa.BufferOutputStream()
    pq.write_table(
        table, buffer, compression="zstd", compression_level=ZSTD_LEVEL,
        use_dictionary=["device_id"], column_encoding={"time": "DELTA_BINARY_PACKED", "value": "BYTE_STREAM_SPLIT"},
        write_statistics=True,
    )  # fmt: skip
    data = buffer.getvalue().to_pybytes()
    fs = archive.fs
    folder, name = path.rsplit("/", 1)
    fs.makedirs(folder, exist_ok=True)
    temporary = f"{folder}/.{name}.{uuid.uuid4().hex}.tmp"
    if archive.local:
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    else:
        fs.pipe_file(temporary, data)
    back = pq.read_table(pa.BufferReader(fs.cat_file(temporary)))
    if back.num_rows != len(frame) or not np.isclose(
        float(np.sum(back.column("value").to_numpy())), float(frame["value"].sum()), rtol=1e-12, atol=1e-9
    ):
        fs.rm_file(temporary)
        raise ArchiveError(f"{path}: read back {back.num_rows} rows of {len(frame)}, or their sum differs; not kept")
    if archive.local:
        os.replace(temporary, path)
    else:  # an object store has no rename: a copy, then the temporary goes
        fs.mv(temporary, path)
    return len(data)


def read_day(archive: Archive, day: date) -> pd.DataFrame:
    """Every archived reading of a day (metric, device_id, time, value)."""
    frames = []
    for path in archive.files(day):
        frame = pq.read_table(pa.BufferReader(archive.fs.cat_file(path))).to_pandas()
        frame["device_id"] = frame["device_id"].astype(str)
        frame.insert(0, "metric", _metric_of(path))
        frames.append(frame)
    if not frames:
        return pd.DataFrame({"metric": [], "device_id": [], "time": pd.to_datetime([], utc=True), "value": []})
    merged: pd.DataFrame = pd.concat(frames, ignore_index=True)
    return merged


def _metric_of(path: str) -> str:
    return path.rsplit("/", 2)[-2].removeprefix("metric=")


def archive_day(conn: psycopg.Connection[Any], archive: Archive, day: date) -> tuple[int, int]:
    """Write one UTC day's readings to the archive (merged with what is there already, if
    the day was archived before and late readings came since), verify, record, drop.
    Returns (readings archived, bytes written)."""
    start, end = day_bounds(day)
    _own_transactions(conn)
    hot = pd.DataFrame(conn.execute(queries.DAY_READINGS, (start, end)).fetchall(),
                       columns=["metric", "device_id", "time", "value"])  # fmt: skip
    before = conn.execute(queries.ARCHIVED_DAY, (day,)).fetchone()
    frame = hot
    if before is not None and before[2] is not None:  # dropped earlier: late readings join the archived ones
        frame = pd.concat([read_day(archive, day), hot], ignore_index=True)
        frame = frame.drop_duplicates(["metric", "device_id", "time"], keep="last")
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    frame = frame.sort_values(["metric", "device_id", "time"], kind="stable")
    written = 0
    kept = set()
    for metric, part in frame.groupby("metric", sort=True):
        written += write_table(part, archive, archive.file(day, str(metric)))
        kept.add(str(metric))
    for stale in archive.files(day):  # a metric no longer in the day (cannot happen short of a manual delete)
        if _metric_of(stale) not in kept:
            archive.fs.rm_file(stale)
    checksum = float(frame["value"].sum())
    with conn.transaction():
        conn.execute(queries.RECORD_ARCHIVED, (day, len(frame), written, checksum))
    with conn.transaction():  # no reading may land in the day between the check and the drop
        for schema, name in conn.execute(queries.DAY_CHUNKS, (start, end)).fetchall():
            conn.execute(queries.lock_chunk(schema, name))
        count, total = conn.execute(queries.DAY_COUNT, (start, end)).fetchone()  # type: ignore[misc]
        if count != len(hot) or not np.isclose(float(total), float(hot["value"].sum()), rtol=1e-12, atol=1e-9):
            raise ArchiveError(f"{day}: readings arrived while it was archived; it is left for the next run")
        conn.execute(queries.DROP_DAY, (end, start))
        conn.execute(queries.MARK_DROPPED, (day,))
    return len(frame), written


def run(conn: psycopg.Connection[Any], archive: Archive, *, older_than: datetime) -> dict[str, float]:
    """Archive and drop every whole UTC day before ``older_than``; returns what was done."""
    started = time.perf_counter()
    _own_transactions(conn)
    cutoff = older_than.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    days = [row[0] for row in conn.execute(queries.DAYS_TO_ARCHIVE, (cutoff,)).fetchall()]
    readings = written = 0
    skipped: list[str] = []
    for day in days:
        try:
            n, size = archive_day(conn, archive, day)
        except ArchiveError as exc:  # this day waits for the next run; the others go on
            skipped.append(str(exc))
            continue
        readings += n
        written += size
    seconds = time.perf_counter() - started
    with conn.transaction():
        conn.execute(queries.RECORD_RUN, ("archive", readings, seconds))
    return {"days": len(days) - len(skipped), "skipped": len(skipped), "readings": readings, "bytes": written,
            "seconds": round(seconds, 2)}  # fmt: skip
