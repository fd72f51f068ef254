"""A stream of QoS 1 readings through ingest faults: the driver shared by bench/faults.py
and tests/test_faults.py.

Devices behave as paho does: one client with a persistent session that reconnects by
itself, keeps what it publishes while disconnected and sends it again, with DUP, until
the broker acknowledges it. Ingest runs as its own process (the real command) so it can
be killed for real; the database and the broker are the stack's own, restarted for real.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from smartcity import _mosquitto, _postgres, stack
from smartcity.settings import Settings

FAULTS = ("kill", "database", "broker")


def start_ingest(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "smartcity.cli", "ingest", "run"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def first_session(env: dict[str, str]) -> None:
    """Create ingest's persistent session, so the broker keeps what comes while it is down."""
    proc = start_ingest(env)
    time.sleep(3.0)
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)


class Devices(threading.Thread):
    """Publishes ``count`` single-reading messages at QoS 1 over ``devices`` device ids."""

    def __init__(self, settings: Settings, prefix: str, *, count: int, devices: int = 500) -> None:
        super().__init__(daemon=True)
        self.settings, self.prefix, self.count, self.devices = settings, prefix, count, devices
        self.acked = 0  # acknowledgements counted, not mids: paho's mids wrap at 65,535
        self.published = 0
        self.done = threading.Event()
        self.finished_at = 0.0
        self._lock = threading.Lock()

    def run(self) -> None:
        user, password = self.settings.mqtt_credentials()
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"devices-{self.prefix}", protocol=mqtt.MQTTv5)
        client.username_pw_set(user, password)
        client.max_inflight_messages_set(1000)
        client.reconnect_delay_set(min_delay=1, max_delay=2)
        client.on_publish = self._on_publish
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 3600
        client.connect(self.settings.mqtt_host, self.settings.mqtt_port, clean_start=False, properties=props)
        client.loop_start()
        base = datetime.now(UTC) - timedelta(hours=2)
        try:
            for i in range(self.count):
                body = {"time": (base + timedelta(milliseconds=i)).isoformat(), "metrics": {"noise_dba": 40 + i % 50}}
                client.publish(f"city/fault/noise/{self.prefix}-{i % self.devices:03d}", json.dumps(body), qos=1)
                self.published = i + 1
                while i + 1 - self.acked > 5000:  # a device's buffer: at most 5,000 unacknowledged
                    time.sleep(0.005)
            while self.acked < self.count:
                time.sleep(0.02)
            self.finished_at = time.monotonic()
        finally:
            client.loop_stop()
            client.disconnect()
            self.done.set()

    def _on_publish(self, client: mqtt.Client, userdata: object, mid: int, reason: object, props: object) -> None:
        with self._lock:
            self.acked += 1


def stored(conn: psycopg.Connection[tuple[object, ...]], prefix: str) -> tuple[int, int]:
    """(rows, distinct (device, time)) stored for ``prefix``."""
    row = conn.execute(
        "SELECT count(*), count(DISTINCT (device_id, time)) FROM readings WHERE device_id LIKE %s", (prefix + "-%",)
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


@dataclass
class FaultRun:
    sent: int
    rows: int
    distinct: int
    drain_s: float
    faults: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return self.sent - self.distinct

    @property
    def duplicates(self) -> int:
        return self.rows - self.distinct


def _wait(probe: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if probe():
            return True
        time.sleep(0.25)
    return probe()


def run(
    settings: Settings,
    env: dict[str, str],
    prefix: str,
    *,
    count: int,
    faults: Iterable[str] = FAULTS,
    timeout_s: float = 600.0,
) -> FaultRun:
    """Stream ``count`` readings and apply each fault in turn at an even share of the stream.

    ``env`` runs ``smartcity ingest run`` against ``settings``' stack with its own
    client id. Returns what was sent and stored, and how long the drain took after the
    devices' last acknowledgement.
    """
    dsn = settings.database_dsn()
    first_session(env)
    ingest = start_ingest(env)
    devices = Devices(settings, prefix, count=count)
    done_faults: list[str] = []
    planned = list(faults)

    def count_stored() -> int:
        try:
            with psycopg.connect(dsn, autocommit=True, connect_timeout=3) as conn:
                return stored(conn, prefix)[1]
        except psycopg.OperationalError:
            return 0

    devices.start()
    try:
        for n, fault in enumerate(planned, start=1):
            share = count * n // (len(planned) + 1)
            if not _wait(lambda s=share: count_stored() >= s, timeout_s):  # type: ignore[misc]
                raise RuntimeError(f"ingest stored fewer than {share} readings before the {fault} fault")
            if devices.done.is_set():
                raise RuntimeError(f"the stream ended before the {fault} fault: the run would prove nothing")
            if fault == "kill":
                ingest.send_signal(signal.SIGKILL)
                ingest.wait(10)
                time.sleep(1.0)
                ingest = start_ingest(env)
            elif fault == "database":
                _postgres.down(settings)
                time.sleep(2.0)
                stack.up(settings)
            elif fault == "broker":
                _mosquitto.down(settings)
                time.sleep(2.0)
                stack.up(settings)
            else:
                raise ValueError(f"unknown fault {fault!r}; known: {', '.join(FAULTS)}")
            done_faults.append(fault)
        if not devices.done.wait(timeout_s):
            raise RuntimeError(f"the devices' {count} readings were not all acknowledged in {timeout_s:.0f} s")
        _wait(lambda: count_stored() >= count, timeout_s)
        drained_at = time.monotonic()
        time.sleep(1.0)  # anything redelivered late would show up now
        with psycopg.connect(dsn, autocommit=True) as conn:
            rows, distinct = stored(conn, prefix)
        return FaultRun(count, rows, distinct, max(0.0, drained_at - devices.finished_at), done_faults)
    finally:
        ingest.send_signal(signal.SIGTERM)
        ingest.wait(30)
