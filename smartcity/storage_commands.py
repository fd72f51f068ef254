"""``smartcity storage ...``, ``smartcity report completeness`` and ``smartcity backup|restore``:
the storage lifecycle wired to the settings, and its loop for ``smartcity up``."""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from smartcity.errors import SmartcityError
from smartcity.settings import Settings
from storage import archive, backup, completeness, history, rollups
from storage.errors import StorageError

log = logging.getLogger(__name__)


def archive_of(settings: Settings) -> archive.Archive:
    """A local folder (default ``<home>/archive``) or an fsspec URL such as ``s3://bucket/city``."""
    where = settings.storage_archive_dir
    if not where:
        return archive.Archive(settings.home / "archive")
    return archive.Archive(where if "://" in where else Path(where))


def rollup(settings: Settings, *, since: str | None = None) -> int:
    """Bring the rollups up to date (``since``: first re-mark every hour from then on)."""
    with psycopg.connect(settings.database_dsn()) as conn:
        if since:
            start = _when(since, "--since")
            marked = rollups.mark_range(conn, start, datetime.now(UTC) + timedelta(days=1))
            print(f"marked {marked} device-metric-hours from {start.isoformat()}")
        done = rollups.work_off(conn, settings.city_timezone, history.reader(conn, archive_of(settings)))
    print(f"rollups: {done} touched hours brought up to date")
    return 0


def archive_old(settings: Settings, *, older_than_days: float | None = None) -> int:
    days = settings.storage_retention_days if older_than_days is None else older_than_days
    with psycopg.connect(settings.database_dsn()) as conn:
        rollups.work_off(conn, settings.city_timezone, history.reader(conn, archive_of(settings)))
        done = archive.run(conn, archive_of(settings), older_than=datetime.now(UTC) - timedelta(days=days))
    print(json.dumps(done))
    return 0 if not done["skipped"] else 1


def status(settings: Settings, *, as_json: bool) -> int:
    from storage import queries

    with psycopg.connect(settings.database_dsn()) as conn:
        row = conn.execute(queries.STATUS_ROWS).fetchone()
        sizes = conn.execute(queries.STATUS_BYTES).fetchone()
    assert row is not None and sizes is not None
    (readings, hourly, daily, daily_bytes, oldest, newest, pending, lag_s, archived_days, archived_rows,
     archive_bytes) = row  # fmt: skip
    raw_bytes, hourly_bytes, chunks = sizes
    figures: dict[str, Any] = {
        "raw_readings": readings, "raw_bytes": raw_bytes, "raw_chunks": chunks,
        "raw_bytes_per_reading": round(raw_bytes / readings, 1) if readings else None,
        "oldest_chunk": oldest.isoformat() if oldest else None, "newest_chunk": newest.isoformat() if newest else None,
        "rollup_hourly_rows": hourly, "rollup_hourly_bytes": hourly_bytes, "rollup_daily_rows": daily,
        "rollup_daily_bytes": daily_bytes, "rollup_pending_hours": pending,
        "rollup_lag_s": round(float(lag_s), 1) if lag_s is not None else 0.0,
        "archived_days": archived_days, "archived_readings": archived_rows, "archive_bytes": archive_bytes,
        "archive_bytes_per_reading": round(archive_bytes / archived_rows, 2) if archived_rows else None,
        "archive_folder": str(archive_of(settings).root),
    }  # fmt: skip
    if as_json:
        print(json.dumps(figures))
    else:
        width = max(map(len, figures)) + 2
        for key, value in figures.items():
            print(f"{key:{width}s} {value}")
    return 0


def report_completeness(settings: Settings, *, hours: float, district: str | None, as_csv: bool) -> int:
    end = datetime.now(UTC)
    with psycopg.connect(settings.database_dsn()) as conn:
        scored = completeness.report(conn, end - timedelta(hours=hours), end, district)
    if as_csv:
        scored.to_csv(sys.stdout, index=False)
    else:
        overall = completeness.overall_pct(scored)
        print(f"{overall if overall is not None else '-'}% of expected readings in the last {hours:g} h "
              f"({len(scored)} devices, worst first)")  # fmt: skip
        print(scored.head(20).to_string(index=False))
    return 0


def make_backup(settings: Settings, folder: str) -> int:
    from smartcity._postgres import find_bindir

    done = backup.backup(settings.database_dsn(), archive_of(settings), Path(folder), bindir=find_bindir())
    print(json.dumps(done))
    return 0


def restore(settings: Settings, folder: str, *, yes: bool) -> int:
    from smartcity._postgres import find_bindir

    if not yes:
        raise SmartcityError("restore replaces the database and the archive; add --yes to go on")
    done = backup.restore(settings.database_dsn(), archive_of(settings), Path(folder), bindir=find_bindir())
    print(json.dumps(done, default=str))
    return 0 if done["equal"] else 1


def loop(settings: Settings, stop: threading.Event) -> int:
    """The lifecycle service: rollups every few seconds, archiving once an interval."""
    last_archive = 0.0
    while not stop.is_set():
        try:
            with psycopg.connect(settings.database_dsn()) as conn:
                read = history.reader(conn, archive_of(settings))
                while not stop.is_set():
                    rollups.work_off(conn, settings.city_timezone, read)
                    if time.monotonic() - last_archive > settings.storage_archive_interval_s:
                        cutoff = datetime.now(UTC) - timedelta(days=settings.storage_retention_days)
                        done = archive.run(conn, archive_of(settings), older_than=cutoff)
                        if done["days"] or done["skipped"]:
                            log.info("archive: %s", done)
                        last_archive = time.monotonic()
                    stop.wait(settings.storage_rollup_interval_s)
        except (psycopg.OperationalError, StorageError) as exc:  # the loop outlives an outage or a bad day
            log.warning("storage lifecycle: %s; retrying in 5 s", exc)
            stop.wait(5.0)
    return 0


def _when(text: str, option: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise SmartcityError(f"{option} {text!r} is not an ISO 8601 date or time") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
