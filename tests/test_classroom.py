"""Acceptance for the classroom, against the real broker and database: students publish into
the city safely, every refusal is explained, a student's spike is caught by analytics."""

from __future__ import annotations

import csv
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
import pandas as pd
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from classroom.limits import ClassLimits
from ingest.bulk import BulkWriter
from ingest.worker import IngestConfig, IngestWorker
from smartcity import classroom
from smartcity.settings import Settings
from tests.fixtures.services import a_class, running, wait_for
from tests.fixtures.stack import Broker

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def klass(settings: Settings, dsn: str) -> Iterator[tuple[str, dict[str, classroom.Credential]]]:
    """A class of three students (and a teacher) on the Goyang district."""
    yield from a_class(settings, dsn, "c")


@pytest.fixture
def guarded_ingest(dsn: str, broker: Broker) -> Iterator[IngestWorker]:
    """Ingest with a quick roster refresh and a small burst allowance."""
    config = IngestConfig(
        dsn=dsn, mqtt_host=broker.host, mqtt_port=broker.port, mqtt_username=broker.username,
        mqtt_password=broker.password, client_id=f"class-ingest-{uuid.uuid4().hex[:6]}", batch_max_age_s=0.05,
        class_limits=ClassLimits(account_rate_per_s=2.0, account_burst=10), roster_interval_s=0.3,
    )  # fmt: skip
    yield from running(config)


class Student:
    """A student's own paho client: publishes, and hears the errors topic and control answers."""

    def __init__(self, broker: Broker, cred: classroom.Credential, password: str | None = None) -> None:
        self.heard: list[tuple[str, dict[str, object]]] = []
        self.acks: dict[int, object] = {}
        self.connected = threading.Event()
        self.refused: object = None
        self.disconnected: object = None
        # the broker binds a class account's client id to its username
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=cred.username, protocol=mqtt.MQTTv5)
        self.client.username_pw_set(cred.username, cred.password if password is None else password)
        self.client.on_connect = self._on_connect
        self.client.on_message = lambda c, u, m: self.heard.append((m.topic, orjson.loads(m.payload)))
        self.client.on_publish = lambda c, u, mid, rc, p: self.acks.__setitem__(mid, rc)
        self.client.on_disconnect = lambda c, u, f, rc, p: setattr(self, "disconnected", rc)
        self.prefix = f"class/{cred.class_id}/{cred.member}"
        self.client.connect(broker.host, broker.port, keepalive=10)
        self.client.loop_start()

    def _on_connect(self, client: mqtt.Client, u: object, f: object, reason: object, p: object) -> None:
        if getattr(reason, "is_failure", False):
            self.refused = reason
            return
        client.subscribe(self.prefix + "/#", qos=1)
        self.connected.set()

    def publish(self, topic: str, payload: bytes | str) -> object:
        info = self.client.publish(topic, payload, qos=1)
        assert wait_for(lambda: info.mid in self.acks or self.disconnected is not None, 5.0)
        return self.acks.get(info.mid)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _stored(conn: psycopg.Connection[tuple[object, ...]], device_id: str) -> int:
    row = conn.execute("SELECT count(*) FROM readings WHERE device_id = %s", (device_id,)).fetchone()
    return int(row[0]) if row else 0


def test_students_readings_from_mosquitto_pub_and_paho_land_and_show_on_the_class_page(
    conn: psycopg.Connection[tuple[object, ...]],
    broker: Broker,
    klass,
    guarded_ingest: IngestWorker,  # type: ignore[no-untyped-def]
) -> None:
    class_id, creds = klass
    me = creds["student01"]
    tag = uuid.uuid4().hex[:6]
    subprocess.run(
        ["mosquitto_pub", "-h", broker.host, "-p", str(broker.port), "-i", f"{me.username}:cli",
         "-u", me.username, "-P", me.password,
         "-V", "mqttv5", "-q", "1", "-t", f"class/{class_id}/student01/cli-{tag}",
         "-m", '{"metrics": {"temperature_c": 21.5}}'],
        check=True, timeout=10,
    )  # fmt: skip
    student = Student(broker, me)
    assert student.connected.wait(5)
    ack = student.publish(f"class/{class_id}/student01/paho-{tag}", orjson.dumps({"metrics": {"noise_dba": 48.0}}))
    assert not getattr(ack, "is_failure", True)
    student.close()
    ns = f"{class_id}/student01"  # a student's devices live in their namespace
    assert wait_for(lambda: _stored(conn, f"{ns}/cli-{tag}") == 1 and _stored(conn, f"{ns}/paho-{tag}") == 1, 10.0)
    # the class page's own query shows them, under this student only
    from dashboard import queries as page_queries

    dsn = conn.info.dsn
    accepted = page_queries.class_accepted(dsn, class_id, "student01")
    mine = {f"{ns}/cli-{tag}", f"{ns}/paho-{tag}"}
    assert mine <= set(accepted["device_id"])
    assert not mine & set(page_queries.class_accepted(dsn, class_id, "student02")["device_id"])


def test_every_refusal_stores_nothing_and_is_explained(
    conn: psycopg.Connection[tuple[object, ...]], broker: Broker, settings: Settings, klass,  # type: ignore[no-untyped-def]
    guarded_ingest: IngestWorker,
) -> None:  # fmt: skip
    class_id, creds = klass
    tag = uuid.uuid4().hex[:6]
    me = Student(broker, creds["student02"])
    assert me.connected.wait(5)
    good = orjson.dumps({"metrics": {"temperature_c": 20.0}})
    # on the city's topics, or another student's: the broker says no (PUBACK: not authorized)
    for topic in (f"city/goyang/air/x-{tag}", f"class/{class_id}/student03/y-{tag}"):
        ack = me.publish(topic, good)
        assert getattr(ack, "is_failure", False) and "authori" in str(ack).lower(), (topic, ack)
    # a wrong password: no connection at all
    wrong = Student(broker, creds["student02"], password="not-it")
    assert wait_for(lambda: wrong.refused is not None, 5.0)
    assert "authori" in str(wrong.refused).lower() or "password" in str(wrong.refused).lower()
    wrong.close()
    # a burst over the rate limit: ingest keeps the first ten, refuses the rest and says why
    for i in range(30):
        me.client.publish(f"class/{class_id}/student02/burst-{tag}", orjson.dumps({"metrics": {"temperature_c": i}}))
    assert wait_for(lambda: any(b.get("reason") == "rate_limited" for _, b in me.heard), 10.0)
    assert 8 <= _stored(conn, f"{class_id}/student02/burst-{tag}") <= 14
    answer = next(b for t, b in me.heard if b.get("reason") == "rate_limited")
    assert "slow down" in str(answer["sentence"]) and answer["example"]["topic"].startswith(f"class/{class_id}/")  # type: ignore[index]
    # a payload over the broker's size limit: the broker closes the connection, nothing lands
    big = b'{"metrics": {"temperature_c": 1}, "pad": "' + b"x" * settings.mqtt_max_packet_bytes + b'"}'
    me.client.publish(f"class/{class_id}/student02/big-{tag}", big, qos=1)
    assert wait_for(lambda: me.disconnected is not None, 5.0)
    assert "too large" in str(me.disconnected).lower() or me.disconnected is not None
    me.close()
    # an expired account: ingest refuses at once (before any broker change) and explains
    other = Student(broker, creds["student03"])
    assert other.connected.wait(5)
    conn.execute("UPDATE class_members SET expires_at = now() - interval '1 second' WHERE username = %s",
                 (creds["student03"].username,))  # fmt: skip
    time.sleep(1.0)  # the roster refresh (0.3 s) happens after a batch: send one to trigger it
    other.client.publish(f"class/{class_id}/student03/poke-{tag}", good, qos=1)
    time.sleep(1.0)
    other.client.publish(f"class/{class_id}/student03/late-{tag}", good, qos=1)
    assert wait_for(lambda: any(b.get("reason") == "account_inactive" for _, b in other.heard), 10.0)
    assert _stored(conn, f"{class_id}/student03/late-{tag}") == 0
    other.close()
    # revoked: the broker forgets the account at once
    classroom.revoke(settings, creds["student02"].username)
    again = Student(broker, creds["student02"])
    assert wait_for(lambda: again.refused is not None, 5.0)
    again.close()
    for device in (f"x-{tag}", f"y-{tag}", f"{class_id}/student03/y-{tag}", f"{class_id}/student02/big-{tag}"):
        assert _stored(conn, device) == 0, device


def test_student_spike_on_their_simulated_sensor_is_flagged_by_analytics(  # noqa: PLR0917 - fixtures
    conn: psycopg.Connection[tuple[object, ...]], broker: Broker, settings: Settings, klass, dsn: str,  # type: ignore[no-untyped-def]
    guarded_ingest: IngestWorker,
) -> None:  # fmt: skip
    from analytics.jobs import AnalyticsConfig, run_pass
    from sensors_sim.backfill import backfill
    from sensors_sim.publisher import SimConfig, run

    class_id, creds = klass
    me = creds["student01"]
    assert me.sim_device_id and me.sim_device_id.startswith("air-")
    fleet = pd.DataFrame({"device_id": [me.sim_device_id], "kind": ["air"]})
    end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=10)
    with psycopg.connect(dsn) as wconn:  # a day of history, so the detector knows the sensor's normal
        backfill(wconn, fleet, end - timedelta(days=1), end, interval_s=300, seed=1, anomalies_per_device_day=0,
                 run_id=f"class-{class_id}", sink=BulkWriter(wconn))  # fmt: skip
    config = SimConfig(
        mqtt_host=broker.host, mqtt_port=broker.port, district=settings.district, mqtt_username=broker.username,
        mqtt_password=broker.password, interval_s=0.5,
    )  # fmt: skip
    labels: list[pd.DataFrame] = []
    stop = threading.Event()
    sim = threading.Thread(target=run, args=(config, fleet, stop), kwargs={"on_truth": labels.append}, daemon=True)
    sim.start()
    student = Student(broker, me)
    try:
        assert student.connected.wait(5)
        time.sleep(1.5)  # the retained assignment reaches the simulator
        student.client.publish(
            f"class/{class_id}/student01/control",
            orjson.dumps({"action": "spike", "metric": "pm25_ugm3", "value": 850}),
            qos=1,
        )
        assert wait_for(lambda: any(t.endswith("/control/answer") for t, _ in student.heard), 5.0)
        answer = next(b for t, b in student.heard if t.endswith("/control/answer"))
        assert answer["ok"] is True and answer["device_id"] == me.sim_device_id, answer
        spiked = wait_for(
            lambda: (
                conn.execute(
                    "SELECT count(*) FROM readings WHERE device_id = %s AND metric = 'pm25_ugm3' AND value = 850",
                    (me.sim_device_id,),
                ).fetchone()
                == (1,)
            ),
            10.0,
        )
        assert spiked
    finally:
        stop.set()
        sim.join(10)
        student.close()
    assert labels and labels[0]["kind"].iloc[0] == "spike"
    time.sleep(0.5)
    result = run_pass(conn, AnalyticsConfig(dsn=dsn, devices=me.sim_device_id), datetime.now(UTC))
    flagged = [ep for device, metric, ep in result.new_episodes if device == me.sim_device_id and metric == "pm25_ugm3"]
    assert any(ep.kind == "spike" for ep in flagged), result.new_episodes


def test_a_class_of_thirty_is_ready_in_under_ten_seconds_and_exports_its_sheet(
    settings: Settings, dsn: str, tmp_path: Path, broker: Broker
) -> None:
    class_id = f"big{uuid.uuid4().hex[:6]}"
    started = time.perf_counter()
    created = classroom.create_class(settings, class_id, students=30, names=[], days=0.5)
    assert time.perf_counter() - started < 10
    assert len(created) == 31 and sum(c.role == "student" for c in created) == 30
    last = next(c for c in created if c.member == "student30")
    probe = Student(broker, last)
    assert probe.connected.wait(5), "the 30th student cannot connect"
    probe.close()
    csv_path, html_path = classroom.export(settings, class_id, tmp_path)
    with csv_path.open(encoding="utf-8") as sheet:
        rows = list(csv.DictReader(sheet))
    assert len(rows) == 31
    assert {r["username"]: r["password"] for r in rows}[last.username] == last.password
    assert all(r["example"].startswith("mosquitto_pub ") for r in rows)
    page = html_path.read_text(encoding="utf-8")
    assert all(c.username in page and c.password in page for c in created)
    classroom.revoke(settings, class_id)
    assert all(m["state"] == "revoked" for m in classroom.members(settings, class_id))


def test_the_quick_start_python_example_works_as_written(
    conn: psycopg.Connection[tuple[object, ...]],
    broker: Broker,
    klass,
    guarded_ingest: IngestWorker,  # type: ignore[no-untyped-def]
) -> None:
    import os
    import re
    import sys

    doc = (Path(__file__).resolve().parents[1] / "docs" / "classroom.md").read_text(encoding="utf-8")
    code = re.search(r"```python\n(.*?)```", doc, re.S)
    assert code, "docs/classroom.md lost its Python example"
    class_id, creds = klass
    me = creds["student01"]
    env = dict(os.environ, CLASS_USER=me.username, CLASS_PASSWORD=me.password, CLASS_BROKER=broker.host,
               CLASS_PORT=str(broker.port))  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code.group(1)], env=env, capture_output=True, text=True, timeout=30,
                          check=False)  # fmt: skip
    assert done.returncode == 0 and "sent True" in done.stdout, done.stderr
    assert wait_for(lambda: _stored(conn, f"{class_id}/student01/my-sensor") >= 2, 10.0)  # temperature and humidity


def test_the_teacher_may_start_scenarios_and_students_may_not(broker: Broker, klass) -> None:  # type: ignore[no-untyped-def]
    _, creds = klass
    teacher, student = Student(broker, creds["teacher"]), Student(broker, creds["student01"])
    try:
        assert teacher.connected.wait(5) and student.connected.wait(5)
        request = orjson.dumps({"scenario": "none"})
        assert not getattr(teacher.publish("sim/goyang/scenario", request), "is_failure", True)
        assert getattr(student.publish("sim/goyang/scenario", request), "is_failure", False)
    finally:
        teacher.close()
        student.close()
