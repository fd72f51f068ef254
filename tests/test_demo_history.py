"""`smartcity up` on an empty database starts a city that already has a past (real database)."""

from __future__ import annotations

import time
import uuid

import psycopg
import pytest

from smartcity import db, simulation, twin_commands
from smartcity.settings import Settings


def test_an_empty_database_is_given_a_past_once_and_a_used_one_never(settings: Settings, dsn: str) -> None:
    if "dbname=smartcity" not in dsn:
        pytest.skip("needs the local test cluster, where a scratch database can be created")
    name = f"demo_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    fresh = settings.model_copy(
        update={"dsn": dsn.replace("dbname=smartcity", f"dbname={name}"), "demo_history_days": 2.0, "sim_devices": 16}
    )
    try:
        db.migrate(fresh.database_dsn())
        twin_commands.load_district(fresh, district="goyang")
        assert simulation.fill_history_if_empty(fresh.model_copy(update={"demo_history_days": 0.0})) is False
        started = time.time()
        assert simulation.fill_history_if_empty(fresh) is True
        with psycopg.connect(fresh.database_dsn()) as conn:
            row = conn.execute(
                "SELECT count(*), count(DISTINCT device_id), extract(epoch FROM min(time)), "
                "extract(epoch FROM max(time)) FROM readings"
            ).fetchone()
            assert row is not None
            count, devices, first, last = int(row[0]), int(row[1]), float(row[2]), float(row[3])
            assert devices == 16 and count > 16 * 2 * 288  # every device, every 5 minutes, for two days
            assert started - 2 * 86400 - 600 <= first and started - 600 <= last <= started + 1
            labelled = conn.execute(
                "SELECT count(*), count(*) FILTER (WHERE ended_at > to_timestamp(%s)) FROM sim_anomalies "
                "WHERE run_id LIKE 'backfill-%%'",
                (started - 6 * 3600,),
            ).fetchone()
            assert labelled is not None and int(labelled[0]) > 0, "the past has no labelled anomalies"
            # 16 devices x 6 hours at 2 a device-day: about 8 expected; the first pass has episodes to show
            assert int(labelled[1]) >= 1, "the past's last six hours hold no labelled anomaly"
            rolled = conn.execute("SELECT count(*) FROM rollup_hourly").fetchone()
            assert rolled is not None and int(rolled[0]) >= 16 * 47, "the past's hourly rollups are not there"
            pending = conn.execute("SELECT count(*) FROM rollup_log").fetchone()
            assert pending is not None and int(pending[0]) == 0, "the past's rollups are left for later"
        assert simulation.fill_history_if_empty(fresh) is False  # a database with readings is never refilled
        with psycopg.connect(fresh.database_dsn()) as conn:
            again = conn.execute("SELECT count(*) FROM readings").fetchone()
            assert again is not None and int(again[0]) == count
    finally:
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
