"""``smartcity db migrate``: apply the numbered SQL files of ``sql/`` in order, once each."""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from smartcity.errors import MigrationError

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")
# Any constant works; it only has to be the same in every migrating process.
_LOCK_KEY = 7_431_002


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(folder: Path = SQL_DIR) -> list[Migration]:
    """The migrations in ``folder``, ordered by number.

    Raises:
        MigrationError: a file is misnamed or two share a number.
    """
    found: dict[int, Migration] = {}
    for path in sorted(folder.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(f"migration file {path.name} is not named NNN_words.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"migrations {found[version].name} and {path.name} share number {version}")
        found[version] = Migration(version, path.name, path.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]


def migrate(dsn: str, folder: Path = SQL_DIR, *, wait_s: float = 30.0) -> list[str]:
    """Apply pending migrations, each in its own transaction. Returns the names applied.

    Safe to run twice and from several processes at once (an advisory lock serialises them).

    Raises:
        MigrationError: a migration fails, or an applied one's file has changed since.
    """
    migrations = discover(folder)
    conn = _connect_waiting(dsn, wait_s)
    applied: list[str] = []
    with conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        conn.commit()
        done = {
            row[0]: (row[1], row[2]) for row in conn.execute("SELECT version, name, checksum FROM schema_migrations")
        }
        for migration in migrations:
            if migration.version in done:
                name, checksum = done[migration.version]
                if checksum != migration.checksum:
                    raise MigrationError(
                        f"migration {migration.name} changed after it was applied (as {name}); "
                        "add a new migration instead"
                    )
                continue
            try:
                with conn.transaction():
                    conn.execute(migration.sql.encode())
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                        (migration.version, migration.name, migration.checksum),
                    )
            except psycopg.Error as exc:
                raise MigrationError(f"migration {migration.name} failed: {exc}") from exc
            applied.append(migration.name)
        conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
        conn.commit()
    return applied


def _connect_waiting(dsn: str, wait_s: float) -> psycopg.Connection[tuple[object, ...]]:
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return psycopg.connect(dsn, connect_timeout=5)
        except psycopg.OperationalError as exc:
            if time.monotonic() > deadline:
                raise MigrationError(f"database not reachable after {wait_s:.0f} s: {exc}") from exc
            time.sleep(0.5)
