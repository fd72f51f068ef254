"""Fault tests against the real broker and database: nothing lost, nothing stored twice.

Ingest runs as its own process (the real command), so it can be killed for real.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from ingest.registry import register_sited
from smartcity import _postgres, stack
from smartcity.settings import Settings
from tests.fixtures.services import wait_for
from tests.fixtures.stack import Broker, cli_env
from twin import store
from twin.district import build_district
from twin.files import default_layers

pytestmark = pytest.mark.integration

STREAM = 200_000
DEVICES = 500


def _env(settings: Settings, client_id: str) -> dict[str, str]:
    return cli_env(settings, SMARTCITY_INGEST_CLIENT_ID=client_id)


def _start_ingest(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "smartcity.cli", "ingest", "run"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


class Publisher(threading.Thread):
    """Publishes STREAM single-reading messages at QoS 1 over DEVICES devices."""

    def __init__(self, broker: Broker, prefix: str) -> None:
        super().__init__(daemon=True)
        self.broker = broker
        self.prefix = prefix
        self.sent = 0
        self.done = threading.Event()

    def run(self) -> None:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        client.username_pw_set(self.broker.username, self.broker.password)
        client.max_inflight_messages_set(1000)
        client.connect(self.broker.host, self.broker.port)
        client.loop_start()
        base = datetime.now(UTC) - timedelta(hours=2)
        try:
            for first in range(0, STREAM, 10_000):
                infos = []
                for i in range(first, first + 10_000):
                    body = {
                        "time": (base + timedelta(milliseconds=i)).isoformat(),
                        "metrics": {"noise_dba": 40 + i % 50},
                    }
                    topic = f"city/fault/noise/{self.prefix}-{i % DEVICES:03d}"
                    infos.append(client.publish(topic, json.dumps(body), qos=1))
                for info in infos:
                    info.wait_for_publish(60)
                self.sent = first + 10_000
        finally:
            client.loop_stop()
            client.disconnect()
            self.done.set()


def _stored(conn: psycopg.Connection[tuple[object, ...]], prefix: str) -> tuple[int, int]:
    row = conn.execute(
        "SELECT count(*), count(DISTINCT (device_id, time)) FROM readings WHERE device_id LIKE %s", (prefix + "-%",)
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def _count(conn: psycopg.Connection[tuple[object, ...]], prefix: str) -> int:
    row = conn.execute("SELECT count(*) FROM readings WHERE device_id LIKE %s", (prefix + "-%",)).fetchone()
    return int(row[0]) if row else 0


def _first_session(env: dict[str, str]) -> None:
    """Create ingest's persistent session, so the broker keeps what comes while it is down."""
    proc = _start_ingest(env)
    time.sleep(3.0)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0


def test_sigkill_mid_stream_loses_nothing_and_stores_nothing_twice(
    settings: Settings, dsn: str, broker: Broker, conn: psycopg.Connection[tuple[object, ...]], unique: str
) -> None:
    prefix = f"k{unique}"
    env = _env(settings, f"fault-kill-{unique}")
    _first_session(env)
    ingest = _start_ingest(env)
    publisher = Publisher(broker, prefix)
    publisher.start()
    try:
        assert wait_for(lambda: _count(conn, prefix) > STREAM // 4, 60, interval_s=0.25), (
            "ingest stored too little before the kill"
        )
        ingest.send_signal(signal.SIGKILL)
        ingest.wait(10)
        killed_at = _count(conn, prefix)
        assert killed_at < STREAM, "the stream ended before the kill; the test proves nothing"
        time.sleep(1.0)
        ingest = _start_ingest(env)
        assert publisher.done.wait(120)
        assert publisher.sent == STREAM
        assert wait_for(lambda: _count(conn, prefix) >= STREAM, 120, interval_s=0.5)
        time.sleep(1.0)  # anything redelivered late would show up now
        assert _stored(conn, prefix) == (STREAM, STREAM)
    finally:
        ingest.send_signal(signal.SIGTERM)
        ingest.wait(30)


def test_database_restart_mid_stream_loses_nothing(
    settings: Settings, dsn: str, broker: Broker, conn: psycopg.Connection[tuple[object, ...]], unique: str
) -> None:
    if settings.dsn:
        pytest.skip("restarting the database needs the local stack")
    prefix = f"r{unique}"
    env = _env(settings, f"fault-db-{unique}")
    _first_session(env)
    ingest = _start_ingest(env)
    publisher = Publisher(broker, prefix)
    publisher.start()
    try:
        assert wait_for(lambda: _count(conn, prefix) > STREAM // 4, 60, interval_s=0.25)
        conn.close()
        assert _postgres.down(settings)
        time.sleep(2.0)
        stack.up(settings)
        assert ingest.poll() is None, "ingest died while the database was down"
        with psycopg.connect(dsn, autocommit=True) as fresh:
            assert publisher.done.wait(120)
            assert wait_for(lambda: _count(fresh, prefix) >= STREAM, 120, interval_s=0.5)
            time.sleep(1.0)
            assert _stored(fresh, prefix) == (STREAM, STREAM)
    finally:
        ingest.send_signal(signal.SIGTERM)
        ingest.wait(30)


def test_broker_restart_mid_stream_loses_nothing_and_keeps_the_class_accounts(
    settings: Settings, dsn: str, broker: Broker, unique: str
) -> None:
    """What devices publish after a broker restart, before ingest is back, is kept for it
    (Mosquitto's per_listener_settings dropped all of it), and students can still sign in."""
    if settings.dsn:
        pytest.skip("restarting the broker needs the local stack")
    from bench import _faults
    from smartcity import classroom

    with psycopg.connect(dsn) as conn:
        if not store.has_district(conn, settings.district):
            store.save_district(conn, build_district(*default_layers(), n_devices=40), register=register_sited)
    class_id = f"f{unique[:6]}"
    student = classroom.create_class(settings, class_id, students=1, names=[], days=1)[1]
    result = _faults.run(settings, _env(settings, f"fault-broker-{unique}"), f"b{unique}", count=20_000,
                         faults=("broker",), timeout_s=180)  # fmt: skip
    assert result.faults == ["broker"]
    assert (result.lost, result.duplicates) == (0, 0), result
    signed_in = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=student.username, protocol=mqtt.MQTTv5)
    client.username_pw_set(student.username, student.password)
    client.on_connect = lambda c, u, f, reason, p: signed_in.set() if not reason.is_failure else None
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        assert signed_in.wait(10), "the broker restart lost the class accounts"
    finally:
        client.loop_stop()
        client.disconnect()
        classroom.revoke(settings, class_id)
