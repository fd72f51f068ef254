"""Fault tests against the real broker and database: nothing lost, nothing stored twice.

Ingest runs as its own process (the real command), so it can be killed for real; the
devices behave as paho does (bench/_faults.py, which bench/faults.py runs at full size).
"""

from __future__ import annotations

import threading

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from bench import _faults
from smartcity import classroom
from smartcity.settings import Settings
from tests.fixtures.services import ensure_district
from tests.fixtures.stack import Broker, cli_env

pytestmark = pytest.mark.integration

STREAM = 80_000  # the fault lands mid-stream with tens of thousands in flight; bench/faults.py runs 200k+


def _env(settings: Settings, client_id: str) -> dict[str, str]:
    return cli_env(settings, SMARTCITY_INGEST_CLIENT_ID=client_id)


def test_sigkill_mid_stream_loses_nothing_and_stores_nothing_twice(settings: Settings, dsn: str, unique: str) -> None:
    result = _faults.run(settings, _env(settings, f"fault-kill-{unique}"), f"k{unique}", count=STREAM,
                         faults=("kill",), timeout_s=240)  # fmt: skip
    assert result.faults == ["kill"]
    assert (result.lost, result.duplicates) == (0, 0), result


def test_database_restart_mid_stream_loses_nothing(settings: Settings, dsn: str, unique: str) -> None:
    if settings.dsn:
        pytest.skip("restarting the database needs the local stack")
    result = _faults.run(settings, _env(settings, f"fault-db-{unique}"), f"r{unique}", count=STREAM,
                         faults=("database",), timeout_s=240)  # fmt: skip
    assert result.faults == ["database"]
    assert (result.lost, result.duplicates) == (0, 0), result


def test_broker_restart_mid_stream_loses_nothing_and_keeps_the_class_accounts(
    settings: Settings, dsn: str, broker: Broker, unique: str
) -> None:
    """What devices publish after a broker restart, before ingest is back, is kept for it
    (Mosquitto's per_listener_settings dropped all of it), and students can still sign in."""
    if settings.dsn:
        pytest.skip("restarting the broker needs the local stack")

    ensure_district(settings, dsn)
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
