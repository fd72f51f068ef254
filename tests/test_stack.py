"""The local stack and migrations against the real services."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from smartcity import _processes, db, stack
from smartcity.errors import MigrationError, PortInUseError
from smartcity.settings import Settings
from tests.fixtures.stack import cli_env, free_port

pytestmark = pytest.mark.integration


def test_status_reports_both_services(settings: Settings, dsn: str) -> None:
    if settings.dsn:
        pytest.skip("external services given by SMARTCITY_TEST_*: no local stack to report")
    env = cli_env(settings)
    out = subprocess.run(
        [sys.executable, "-m", "smartcity.cli", "stack", "status", "--json"],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    status = json.loads(out.stdout)
    assert status["database_running"] is True
    assert status["broker_running"] is True
    assert status["broker_port"] == settings.mqtt_port
    with psycopg.connect(status["database_dsn"]) as conn:
        assert conn.execute("SELECT extname FROM pg_extension WHERE extname = 'timescaledb'").fetchone()


def test_stack_up_is_idempotent(settings: Settings) -> None:
    if settings.dsn:
        pytest.skip("external services given by SMARTCITY_TEST_*")
    lines = stack.up(settings)
    assert lines[0].startswith("database: already running")
    assert lines[1].startswith("broker: already running")


def test_migrate_twice_applies_nothing_the_second_time(dsn: str) -> None:
    assert db.migrate(dsn) == []


def test_edited_migration_is_refused(dsn: str, tmp_path: Path) -> None:
    for migration in db.discover():
        (tmp_path / migration.name).write_text(migration.sql)
    first = db.discover()[0]
    (tmp_path / first.name).write_text(first.sql + "\n-- edited\n")
    with pytest.raises(MigrationError, match=f"{first.name} changed after it was applied"):
        db.migrate(dsn, tmp_path)


def test_port_in_use_gives_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PortInUseError, match=f"port 127.0.0.1:{port} is taken.*SMARTCITY_PG_PORT"):
            _processes.require_free_port("database", "127.0.0.1", port, "SMARTCITY_PG_PORT")


def test_damaged_cluster_is_named(tmp_path: Path) -> None:
    from smartcity import _postgres
    from smartcity.errors import StackError
    from smartcity.settings import load_settings

    broken = load_settings(home=tmp_path, pg_port=free_port())
    (tmp_path / "pg" / "data").mkdir(parents=True)
    with pytest.raises(StackError, match=r"damaged \(PG_VERSION missing\)"):
        _postgres.up(broken, "pw")


def test_missing_binary_names_the_package() -> None:
    from smartcity.errors import BinaryMissingError

    with pytest.raises(BinaryMissingError, match="install the Debian package mosquitto-nonexistent"):
        _processes.find_binary("no-such-broker-binary", Path("/nonexistent"), package="mosquitto-nonexistent")


def test_shared_buffers_are_a_quarter_of_memory_within_bounds() -> None:
    from smartcity._postgres import shared_buffers_mb

    assert shared_buffers_mb(4 * 2**30) == 1024
    assert shared_buffers_mb(64 * 2**30) == 2048  # a big server: capped
    assert shared_buffers_mb(256 * 2**20) == 128  # a small container: the floor
    assert 128 <= shared_buffers_mb() <= 2048  # this machine's, cgroup limit included


def test_the_cluster_runs_with_the_written_settings(dsn: str) -> None:
    with psycopg.connect(dsn) as conn:
        found = dict(
            conn.execute(
                "SELECT name, setting FROM pg_settings WHERE name IN ('max_wal_size', 'checkpoint_timeout')"
            ).fetchall()
        )
    assert found == {"max_wal_size": "8192", "checkpoint_timeout": "900"}  # MB, s
