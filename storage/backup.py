"""Backups of a city: the database (``pg_dump``, custom format) and the archive's files,
in one folder with a manifest; restores follow TimescaleDB's documented steps (a fresh
database, ``timescaledb_pre_restore()``, ``pg_restore``, ``timescaledb_post_restore()``)
and check that every reading came back.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from storage import queries
from storage.archive import Archive, copy_out, replace_with
from storage.errors import BackupError

MANIFEST = "manifest.json"
DUMP = "database.dump"


def _counts(dsn: str) -> dict[str, float]:
    with psycopg.connect(dsn) as conn:
        hot, total, archived = conn.execute(queries.BACKUP_COUNTS).fetchone()  # type: ignore[misc]
    return {"hot_readings": int(hot), "hot_value_sum": float(total), "archived_readings": int(archived)}


def _run(argv: list[str], what: str, env: dict[str, str] | None = None) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise BackupError(f"{what} failed: {(done.stderr or done.stdout).strip()[-400:]}")


def _pg_env(dsn: str) -> tuple[list[str], dict[str, str]]:
    """Connection flags for the PostgreSQL tools (libpq reads the rest from PG* variables)."""
    import os

    parts = conninfo_to_dict(dsn)
    env = dict(os.environ)
    for key, var in (("host", "PGHOST"), ("port", "PGPORT"), ("user", "PGUSER"), ("password", "PGPASSWORD")):
        if parts.get(key):
            env[var] = str(parts[key])
    return [], env


def backup(dsn: str, archive: Archive, folder: Path, *, bindir: Path) -> dict[str, Any]:
    """Write ``folder`` (must not exist): the database dump, the archive's files, a manifest."""
    if folder.exists():
        raise BackupError(f"{folder} exists; back up into a new folder")
    started = time.perf_counter()
    folder.mkdir(parents=True)
    counts = _counts(dsn)
    _, env = _pg_env(dsn)
    name = str(conninfo_to_dict(dsn).get("dbname", "smartcity"))
    _run([str(bindir / "pg_dump"), "-Fc", "-Z", "6", "-f", str(folder / DUMP), "-d", name], "pg_dump", env)
    copy_out(archive, folder / "archive")
    manifest = counts | {"seconds": round(time.perf_counter() - started, 2), "database": name}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return manifest


def restore(dsn: str, archive: Archive, folder: Path, *, bindir: Path) -> dict[str, Any]:
    """Replace the database and the archive with the backup in ``folder``; returns the
    manifest's counts beside the restored ones (``equal``: every reading is back)."""
    manifest_path = folder / MANIFEST
    if not manifest_path.exists() or not (folder / DUMP).exists():
        raise BackupError(f"{folder} is not a smartcity backup (no {MANIFEST} or {DUMP})")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    started = time.perf_counter()
    parts = conninfo_to_dict(dsn)
    name = str(parts.get("dbname", "smartcity"))
    maintenance = make_conninfo(dsn, dbname="postgres")
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(queries.drop_database(name))
        conn.execute(queries.create_database(name))
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(queries.CREATE_TIMESCALEDB)
        conn.execute(queries.PRE_RESTORE)
    _, env = _pg_env(dsn)
    _run([str(bindir / "pg_restore"), "--no-owner", "-d", name, str(folder / DUMP)], "pg_restore", env)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(queries.POST_RESTORE)
    replace_with(archive, folder / "archive")
    restored = _counts(dsn)
    same_sum = abs(restored["hot_value_sum"] - manifest["hot_value_sum"]) <= 1e-6 * max(
        1.0, abs(manifest["hot_value_sum"])
    )
    equal = same_sum and all(restored[k] == manifest[k] for k in ("hot_readings", "archived_readings"))
    return {"restored": restored, "backup": {k: manifest[k] for k in restored}, "equal": equal,
            "seconds": round(time.perf_counter() - started, 2)}  # fmt: skip
