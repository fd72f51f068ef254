"""The local stack's private PostgreSQL cluster with TimescaleDB, under ``<home>/pg``."""

from __future__ import annotations

import os
import pwd
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from smartcity import _processes as proc
from smartcity.errors import BinaryMissingError, StackError
from smartcity.settings import Settings

_SERVER_CONF = "postgresql.smartcity.conf"


def find_bindir() -> Path:
    """The newest PostgreSQL server whose share folder carries the TimescaleDB extension.

    Raises:
        BinaryMissingError: no server, or none with TimescaleDB.
    """
    override = os.environ.get("SMARTCITY_PG_BINDIR")
    if override:
        return Path(override)
    servers = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
        reverse=True,
    )
    if not servers:
        raise BinaryMissingError("no PostgreSQL server under /usr/lib/postgresql: run scripts/setup")
    for server in servers:
        version = server.parent.parent.name
        if Path(f"/usr/share/postgresql/{version}/extension/timescaledb.control").exists():
            return server.parent
    raise BinaryMissingError(
        f"PostgreSQL {servers[0].parent.parent.name} has no TimescaleDB extension: run scripts/setup to build it"
    )


@dataclass(frozen=True)
class PostgresPaths:
    data: Path
    socket_dir: Path
    log: Path

    @classmethod
    def under(cls, base: Path) -> PostgresPaths:
        return cls(data=base / "data", socket_dir=base / "run", log=base / "postgres.log")

    @classmethod
    def of(cls, settings: Settings) -> PostgresPaths:
        return cls.under((settings.home / "pg").resolve())


def _run_as(user: pwd.struct_passwd | None, argv: list[str]) -> subprocess.CompletedProcess[str]:
    if user is not None:
        argv = ["runuser", "-u", "postgres", "--", *argv]
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def is_running(settings: Settings) -> bool:
    paths = PostgresPaths.of(settings)
    return proc.read_pid(paths.data / "postmaster.pid", expect="postgres") is not None


def up(settings: Settings, db_password: str) -> bool:
    """Initialise (first time) and start the cluster; create the database. Returns True if it started now.

    Raises:
        StackError: the port is taken, the cluster folder is damaged, or the server fails to start.
    """
    bindir = find_bindir()
    user = proc.service_user("postgres")
    started = False
    if not is_running(settings):
        proc.require_free_port("database", "127.0.0.1", settings.pg_port, "SMARTCITY_PG_PORT")
        base = proc.service_dir(settings.home, "pg", user)
        paths = PostgresPaths.under(base)
        paths.socket_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(paths.socket_dir, 0o700)
        proc.chown_tree(paths.socket_dir, user)
        if user is not None:
            os.chown(base, user.pw_uid, user.pw_gid)
        if not paths.data.exists():
            _init_cluster(bindir, paths, user)
        elif not (paths.data / "PG_VERSION").is_file():
            raise StackError(
                f"database cluster at {paths.data} is damaged (PG_VERSION missing); "
                "move it aside and run 'smartcity stack up'"
            )
        _write_server_conf(paths, settings)
        result = _run_as(
            user,
            [str(bindir / "pg_ctl"), "-D", str(paths.data), "-l", str(paths.log), "-w", "-t", "60", "start"],
        )
        if result.returncode != 0:
            raise StackError(f"database did not start: {proc.tail(paths.log)}")
        started = True
    _ensure_database(settings, db_password)
    return started


def _init_cluster(bindir: Path, paths: PostgresPaths, user: pwd.struct_passwd | None) -> None:
    paths.data.mkdir(parents=True)
    os.chmod(paths.data, 0o700)
    proc.chown_tree(paths.data, user)
    result = _run_as(
        user,
        [
            str(bindir / "initdb"),
            "-D", str(paths.data),
            "-U", "smartcity",
            "-E", "UTF8",
            "--locale=C.UTF-8",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
        ],
    )  # fmt: skip
    if result.returncode != 0:
        raise StackError(f"initdb failed: {result.stderr.strip().splitlines()[-1] if result.stderr else result.stdout}")
    with (paths.data / "postgresql.conf").open("a", encoding="utf-8") as conf:
        conf.write(f"\ninclude_if_exists '{_SERVER_CONF}'\n")


def _write_server_conf(paths: PostgresPaths, settings: Settings) -> None:
    # Regenerated on every start so that a changed port or socket takes effect.
    (paths.data / _SERVER_CONF).write_text(
        "\n".join(
            [
                "# written by 'smartcity stack up'; edits are overwritten",
                "listen_addresses = '127.0.0.1'",
                f"port = {settings.pg_port}",
                f"unix_socket_directories = '{paths.socket_dir}'",
                "unix_socket_permissions = 0700",
                "shared_preload_libraries = 'timescaledb'",
                "timescaledb.telemetry_level = off",
                "max_connections = 100",
                f"shared_buffers = {shared_buffers_mb()}MB",
                "synchronous_commit = on",
                "wal_level = minimal",
                "max_wal_senders = 0",
                # a city's ingest rewrites every series' newest index page: checkpoints far
                # apart write each page's full image to the WAL less often (bench/storage.py:
                # 127k -> 170k readings/s flat out with the rollups, with shared_buffers below)
                "max_wal_size = 8GB",
                "checkpoint_timeout = 15min",
                "log_min_messages = warning",
                "",
            ]
        ),
        encoding="utf-8",
    )


def shared_buffers_mb(memory_bytes: int | None = None) -> int:
    """A quarter of the memory this machine (or its container) has, from 128 MB to 2 GB.

    With 256 MB, ingest at 100,000 readings/s from 20,000 devices spent its time writing
    out buffers itself: every series' newest index page is hot, and they did not fit.
    """
    total = _memory_bytes() if memory_bytes is None else memory_bytes
    return max(128, min(2048, total // 4 // 2**20))


def _memory_bytes() -> int:
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for limit in (Path("/sys/fs/cgroup/memory.max"), Path("/sys/fs/cgroup/memory/memory.limit_in_bytes")):
        try:
            text = limit.read_text(encoding="ascii").strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return total


def _ensure_database(settings: Settings, db_password: str) -> None:
    admin = f"host={settings.run_dir.resolve()} port={settings.pg_port} dbname=postgres user=smartcity"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = 'smartcity'").fetchone()
            if not exists:
                conn.execute("CREATE DATABASE smartcity")
            conn.execute(sql.SQL("ALTER ROLE smartcity PASSWORD {}").format(sql.Literal(db_password)))
    except psycopg.OperationalError as exc:
        raise StackError(f"database started but cannot be reached at {settings.run_dir}: {exc}") from exc


def down(settings: Settings, *, mode: str = "fast") -> bool:
    """Stop the cluster if it runs. Returns True if it was running.

    ``mode``: pg_ctl's shutdown mode; ``immediate`` is a crash as far as the server can
    tell (the next start recovers from the write-ahead log), for fault tests."""
    if not is_running(settings):
        return False
    paths = PostgresPaths.of(settings)
    result = _run_as(
        proc.service_user("postgres"),
        [str(find_bindir() / "pg_ctl"), "-D", str(paths.data), "-m", mode, "-w", "-t", "60", "stop"],
    )
    if result.returncode != 0:
        raise StackError(f"database did not stop: {result.stderr.strip() or result.stdout.strip()}")
    return True
