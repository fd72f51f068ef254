"""One way to read a series' history, whatever tier holds it.

:func:`readings` answers the same whether the hours asked for are still in the database,
archived, or both: the archived days (those whose chunks were dropped) are read from
Parquet by DuckDB, the rest from PostgreSQL, and a reading present in both (a late
redelivery of an archived one) counts once. :func:`daily` and :func:`district_daily` read
the rollups, which outlive the raw chunks.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import duckdb
import pandas as pd
import psycopg

from storage import queries
from storage.archive import Archive

COLUMNS = ["time", "value"]


def readings(
    conn: psycopg.Connection[Any], archive: Archive, device_id: str, metric: str, start: datetime, *, end: datetime
) -> pd.DataFrame:
    """The series' readings with ``start <= time < end`` (UTC), oldest first."""
    hot = pd.DataFrame(conn.execute(queries.HOT_READINGS, (device_id, metric, start, end)).fetchall(), columns=COLUMNS)
    span = (start.astimezone(UTC).date(), end.astimezone(UTC).date())
    days = [row[0] for row in conn.execute(queries.ARCHIVED_DAYS, span).fetchall()]
    files = [archive.url(p) for day in days for p in [archive.file(day, metric)] if archive.exists(p)]
    if not files:
        frame = hot
    else:
        cold = _from_parquet(archive, files, device_id, start, end)
        frame = pd.concat([cold, hot], ignore_index=True) if len(hot) else cold
    if frame.empty:
        return pd.DataFrame({"time": pd.to_datetime([], utc=True), "value": pd.Series([], dtype=float)})
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    frame = frame.drop_duplicates("time", keep="last").sort_values("time", kind="stable")
    return frame.reset_index(drop=True)


def _from_parquet(archive: Archive, files: list[str], device_id: str, start: datetime, end: datetime) -> pd.DataFrame:
    with duckdb.connect() as db:
        db.execute("SET TimeZone = 'UTC'")
        if not archive.local:  # DuckDB reads the object store through the archive's own fsspec filesystem
            db.register_filesystem(archive.fs)
        frame = db.execute(
            queries.ARCHIVE_READINGS, {"files": files, "device": device_id, "start": start, "end": end}
        ).df()
    return frame


def reader(conn: psycopg.Connection[Any], archive: Archive):  # type: ignore[no-untyped-def]
    """:func:`readings` bound to a connection and an archive (the rollup job's ``read_span``)."""
    return lambda device, metric, start, end: readings(conn, archive, device, metric, start, end=end)


def daily(conn: psycopg.Connection[Any], device_id: str, metric: str, first: date, last: date) -> pd.DataFrame:
    """A device's days (the city's calendar) from the daily rollup: day, n, mean, min, max, last, sum."""
    rows = conn.execute(queries.DEVICE_DAILY, (device_id, metric, first, last)).fetchall()
    return pd.DataFrame(rows, columns=["day", "n", "mean", "min", "max", "last", "sum"])


def hourly(conn: psycopg.Connection[Any], device_id: str, metric: str, start: datetime, end: datetime) -> pd.DataFrame:
    rows = conn.execute(queries.DEVICE_HOURLY, (device_id, metric, start, end)).fetchall()
    return pd.DataFrame(rows, columns=["bucket", "n", "mean", "min", "max", "last", "sum"])


def district_daily(conn: psycopg.Connection[Any], district: str, metric: str, first: date, last: date) -> pd.DataFrame:
    """A district's days: every reading of its devices counted once (the mean weights each
    device by how much it reported), with how many devices reported."""
    rows = conn.execute(queries.DISTRICT_DAILY, (district, metric, first, last)).fetchall()
    return pd.DataFrame(rows, columns=["day", "n", "mean", "min", "max", "devices"])
