"""Acceptance against the real broker and database: readings land, bad payloads are answered."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from ingest.worker import IngestWorker
from tests.fixtures.services import mosquitto_pub, wait_for
from tests.fixtures.stack import Broker

pytestmark = pytest.mark.integration


def _count(conn: psycopg.Connection[tuple[object, ...]], device_id: str) -> int:
    row = conn.execute("SELECT count(*) FROM readings WHERE device_id = %s", (device_id,)).fetchone()
    return int(row[0]) if row else 0


def test_readings_table_is_a_hypertable(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    names = [r[0] for r in conn.execute("SELECT hypertable_name FROM timescaledb_information.hypertables")]
    assert "readings" in names


def test_mosquitto_pub_reading_lands_within_2_s(
    conn: psycopg.Connection[tuple[object, ...]], broker: Broker, ingest: IngestWorker, unique: str
) -> None:
    device = f"aq-{unique}"
    mosquitto_pub(broker, f"city/test/air/{device}", json.dumps({"metrics": {"pm25_ugm3": 17.5}}))
    row = wait_for(
        lambda: conn.execute("SELECT metric, value FROM readings WHERE device_id = %s", (device,)).fetchone(), 2.0
    )
    assert row == ("pm25_ugm3", 17.5)
    latest = conn.execute("SELECT value FROM latest_readings WHERE device_id = %s", (device,)).fetchone()
    assert latest == (17.5,)
    registered = conn.execute(
        "SELECT kind, district, auto_registered FROM devices WHERE device_id = %s", (device,)
    ).fetchone()
    assert registered == ("air", "test", True)


def test_same_reading_twice_is_stored_once(
    conn: psycopg.Connection[tuple[object, ...]], broker: Broker, ingest: IngestWorker, unique: str
) -> None:
    device = f"noise-{unique}"
    payload = json.dumps({"time": datetime.now(UTC).isoformat(), "metrics": {"noise_dba": 61.0}})
    for _ in range(3):
        mosquitto_pub(broker, f"city/test/noise/{device}", payload)
    mosquitto_pub(broker, f"city/test/noise/{device}/noise_dba", "62.5")  # bare number, arrival time
    assert wait_for(lambda: _count(conn, device) == 2, 3.0)
    assert _count(conn, device) == 2


def test_bad_payload_goes_to_dead_letters_and_errors_topic(
    conn: psycopg.Connection[tuple[object, ...]], broker: Broker, ingest: IngestWorker, unique: str
) -> None:
    device = f"st-{unique}"
    base = f"class/aiot/student1/{device}"
    answers: list[dict[str, object]] = []
    subscribed = threading.Event()
    listener = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    listener.username_pw_set(broker.username, broker.password)
    listener.on_message = lambda c, u, m: answers.append(json.loads(m.payload))
    listener.on_subscribe = lambda *a: subscribed.set()
    listener.on_connect = lambda c, *a: c.subscribe(f"{base}/errors", qos=1)
    listener.connect(broker.host, broker.port)
    listener.loop_start()
    try:
        assert subscribed.wait(5)
        mosquitto_pub(broker, base, '{"metrics": {"pm25": 12}}')
        assert wait_for(lambda: answers, 2.0), "no answer on the errors topic within 2 s"
        assert answers[0]["reason"] == "unknown_metric"
        assert "pm25_ugm3" in str(answers[0]["sentence"])  # the hint names the right metric
        dead = conn.execute(
            "SELECT reason, topic, payload FROM dead_letters WHERE device_id = %s", (f"aiot/student1/{device}",)
        ).fetchall()
        assert dead == [("unknown_metric", base, b'{"metrics": {"pm25": 12}}')]
        mosquitto_pub(broker, base, '{"metrics": {"pm25_ugm3": 12}}')
        assert wait_for(lambda: _count(conn, f"aiot/student1/{device}") == 1, 2.0)  # the student's namespace
    finally:
        listener.loop_stop()
        listener.disconnect()


def test_readings_sent_while_ingest_is_down_are_kept_by_the_broker(
    dsn: str, conn: psycopg.Connection[tuple[object, ...]], broker: Broker, unique: str
) -> None:
    from ingest.worker import IngestConfig

    config = IngestConfig(
        dsn=dsn, mqtt_host=broker.host, mqtt_port=broker.port, mqtt_username=broker.username,
        mqtt_password=broker.password, client_id=f"test-backlog-{unique}", batch_max_age_s=0.05,
    )  # fmt: skip
    device = f"tr-{unique}"

    def run_once() -> None:
        worker = IngestWorker(config)
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        assert worker.wait_connected(10)
        worker.stop()
        thread.join(30)

    run_once()  # creates the persistent session and its subscription
    start = datetime.now(UTC) - timedelta(minutes=10)
    for i in range(20):
        body = {"time": (start + timedelta(seconds=i)).isoformat(), "metrics": {"vehicle_count": i}}
        mosquitto_pub(broker, f"city/test/traffic/{device}", json.dumps(body))
    assert _count(conn, device) == 0
    worker = IngestWorker(config)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        assert wait_for(lambda: _count(conn, device) == 20, 5.0)
    finally:
        worker.stop()
        thread.join(30)
