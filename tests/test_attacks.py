"""The attack list: what a hostile client or an unlucky operator did to the city, each
against the real broker and database. Every case must end in a refusal or a dead letter,
never a stopped worker, a taken session, a reading in someone else's namespace or a
reading stored twice. ``bench/faults.py`` counts ``attack_escapes`` by running this file.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import orjson
import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from classroom.errors import ClassroomError
from classroom.limits import ClassLimits
from ingest.worker import IngestConfig, IngestWorker
from smartcity import _mosquitto, classroom
from smartcity.settings import Settings, load_settings
from tests.fixtures.services import a_class, mosquitto_pub, running, wait_for
from tests.fixtures.stack import Broker

pytestmark = pytest.mark.integration

GOOD = orjson.dumps({"metrics": {"temperature_c": 20.0}})


def _count(conn: psycopg.Connection[tuple[object, ...]], device_id: str) -> int:
    row = conn.execute("SELECT count(*) FROM readings WHERE device_id = %s", (device_id,)).fetchone()
    return int(row[0]) if row else 0


def _dead(conn: psycopg.Connection[tuple[object, ...]], topic: str) -> list[tuple[str, str]]:
    rows = conn.execute("SELECT reason, detail FROM dead_letters WHERE topic = %s ORDER BY id", (topic,)).fetchall()
    return [(str(r), str(d)) for r, d in rows]


class Client:
    """A paho client that remembers whether it was refused or thrown off."""

    def __init__(self, broker: Broker, client_id: str, username: str | None, password: str | None, *, port: int = 0):
        self.refused: object = None
        self.dropped: object = None
        self.heard: list[tuple[str, dict[str, object]]] = []
        self.acks: dict[int, object] = {}
        self.connected = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda c, u, f, rc, p: setattr(self, "dropped", rc)
        self.client.on_message = lambda c, u, m: self.heard.append((m.topic, orjson.loads(m.payload)))
        self.client.on_publish = lambda c, u, mid, rc, p: self.acks.__setitem__(mid, rc)
        self.client.reconnect_delay_set(60, 120)  # a refused client must not come back during a test
        self.client.connect(broker.host, port or broker.port, keepalive=10)
        self.client.loop_start()

    def _on_connect(self, client: mqtt.Client, u: object, f: object, reason: object, p: object) -> None:
        if getattr(reason, "is_failure", False):
            self.refused = reason
        else:
            self.connected.set()

    def outcome(self, timeout_s: float = 5.0) -> str:
        wait_for(lambda: self.connected.is_set() or self.refused is not None, timeout_s)
        return "refused" if self.refused is not None else "connected" if self.connected.is_set() else "silent"

    def publish(self, topic: str, payload: bytes) -> object:
        info = self.client.publish(topic, payload, qos=1)
        wait_for(lambda: info.mid in self.acks or self.dropped is not None, 5.0)
        return self.acks.get(info.mid)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _as(broker: Broker, cred: classroom.Credential, client_id: str | None = None) -> Client:
    """A client signed in as ``cred``, with its own username as client id unless told otherwise."""
    return Client(broker, client_id or cred.username, cred.username, cred.password)


@pytest.fixture(scope="module")
def klass(settings: Settings, dsn: str) -> Iterator[tuple[str, dict[str, classroom.Credential]]]:
    """A class of three students (and a teacher) on the Goyang district."""
    yield from a_class(settings, dsn, "a")


@pytest.fixture
def service_ingest(dsn: str, broker: Broker) -> Iterator[IngestWorker]:
    """Ingest with a service client id (the reserved prefix) and small class limits."""
    config = IngestConfig(
        dsn=dsn, mqtt_host=broker.host, mqtt_port=broker.port, mqtt_username=broker.username,
        mqtt_password=broker.password, client_id=f"smartcity-ingest-{uuid.uuid4().hex[:6]}", batch_max_age_s=0.05,
        class_limits=ClassLimits(account_rate_per_s=2.0, account_burst=10, account_max_devices=5),
        roster_interval_s=0.3,
    )  # fmt: skip
    yield from running(config)


def _still_ingesting(conn: psycopg.Connection[tuple[object, ...]], broker: Broker, worker: IngestWorker) -> None:
    device = f"alive-{uuid.uuid4().hex[:8]}"
    mosquitto_pub(broker, f"city/attack/air/{device}", '{"metrics": {"pm25_ugm3": 9}}')
    assert wait_for(lambda: _count(conn, device) == 1, 10.0), "ingest stopped storing after the attack"
    assert wait_for(lambda: worker.counters.readings > 0, 5.0), "another worker stored it, not this one"


# -- one message stops ingest -------------------------------------------------------
@pytest.mark.parametrize(
    "payload",
    [
        b'{"time": "0001-01-01T00:00:00+01:00", "metrics": {"pm25_ugm3": 1}}',
        b'{"time": "9999-12-31T23:59:59-01:00", "metrics": {"pm25_ugm3": 1}}',
        b'{"time": "0001-01-01T00:00:00+01:00", "metrics": {"pm25_ugm3": {"value": 1, "unit": "ug/m3"}}}',
        b'{"id": "x", "type": "AirQualityObserved", "dateObserved": "0001-01-01T00:30:00+01:00", "pm25": 3}',
        b'[{"bn": "urn:dev:x:", "bt": 1e300, "n": "temperature", "u": "Cel", "v": 20}]',
        b'{"time": 1e308, "metrics": {"pm25_ugm3": 1}}',
    ],
    ids=["year1-plus1", "year9999-minus1", "year1-unit", "fiware-year1", "senml-huge-bt", "epoch-1e308"],
)
def test_a_time_off_the_calendar_is_refused_and_ingest_goes_on(
    conn: psycopg.Connection[tuple[object, ...]], broker: Broker, service_ingest: IngestWorker, payload: bytes
) -> None:
    topic = f"city/attack/air/t-{uuid.uuid4().hex[:8]}"
    mosquitto_pub(broker, topic, payload)
    assert wait_for(lambda: _dead(conn, topic), 10.0), "the message was neither stored nor dead-lettered"
    assert _dead(conn, topic)[0][0] == "bad_timestamp"
    _still_ingesting(conn, broker, service_ingest)


@pytest.mark.parametrize(
    "payload",
    [
        b'{"metrics": {"pm25\\u0000": 1}}',
        b'{"id": "x", "type": "Air\\u0000Quality", "foo": 3}',
        b'{"id": "x", "type": "A", "noSuchThing\\u0000": 3}',
        b'[{"n": "temp\\u0000", "v": 1}]',
        b'{"metrics": {"\\ud800": 1}}',
    ],
    ids=["metric-nul", "fiware-type-nul", "fiware-attr-nul", "senml-name-nul", "lone-surrogate"],
)
def test_nul_and_broken_text_become_a_readable_dead_letter(
    conn: psycopg.Connection[tuple[object, ...]], broker: Broker, service_ingest: IngestWorker, payload: bytes
) -> None:
    topic = f"city/attack/air/n-{uuid.uuid4().hex[:8]}"
    mosquitto_pub(broker, topic, payload)
    assert wait_for(lambda: _dead(conn, topic), 10.0), "the message was neither stored nor dead-lettered"
    reason, detail = _dead(conn, topic)[0]
    assert reason in {"unknown_metric", "no_readings", "not_decodable"}, (reason, detail)
    assert "\x00" not in detail
    _still_ingesting(conn, broker, service_ingest)


def test_the_same_poison_sent_again_is_set_aside_each_time_never_looped(
    conn: psycopg.Connection[tuple[object, ...]], broker: Broker, service_ingest: IngestWorker
) -> None:
    topic = f"city/attack/air/p-{uuid.uuid4().hex[:8]}"
    for _ in range(3):
        mosquitto_pub(broker, topic, b'{"time": "0001-01-01T00:00:00+01:00", "metrics": {"pm25_ugm3": 1}}')
    assert wait_for(lambda: len(_dead(conn, topic)) == 3, 10.0)
    time.sleep(1.0)
    assert len(_dead(conn, topic)) == 3, "a poison message came back"
    _still_ingesting(conn, broker, service_ingest)


# -- anyone can take ingest's place -------------------------------------------------
def test_nobody_but_the_services_can_take_a_service_client_id(
    conn: psycopg.Connection[tuple[object, ...]],
    broker: Broker,
    settings: Settings,
    klass,  # type: ignore[no-untyped-def]
    service_ingest: IngestWorker,
) -> None:
    _, creds = klass
    student = creds["student01"]
    thief = _as(broker, student, service_ingest.config.client_id)
    assert thief.outcome() == "refused"
    thief.close()
    if settings.mqtt_demo_port:  # anonymous, on the demo listener
        anonymous = Client(broker, service_ingest.config.client_id, None, None, port=settings.mqtt_demo_port)
        assert anonymous.outcome() == "refused"
        anonymous.close()
    assert service_ingest.wait_connected(0.1), "ingest was thrown off its session"
    _still_ingesting(conn, broker, service_ingest)


def test_a_student_cannot_take_a_classmates_session_nor_a_made_up_id(broker: Broker, klass) -> None:  # type: ignore[no-untyped-def]
    _, creds = klass
    victim = _as(broker, creds["student02"])
    assert victim.outcome() == "connected"
    try:
        thief = _as(broker, creds["student01"], creds["student02"].username)
        assert thief.outcome() == "refused"
        thief.close()
        other = _as(broker, creds["student01"], f"x{uuid.uuid4().hex[:6]}")
        assert other.outcome() == "refused"
        other.close()
        time.sleep(0.5)
        assert victim.dropped is None, "the classmate was disconnected"
        own = _as(broker, creds["student01"], f"{creds['student01'].username}:laptop")
        assert own.outcome() == "connected"
        own.close()
    finally:
        victim.close()


# -- namespaces end at the broker ----------------------------------------------------
def test_a_students_device_named_like_a_city_device_lands_in_the_students_namespace(
    conn: psycopg.Connection[tuple[object, ...]],
    broker: Broker,
    klass,  # type: ignore[no-untyped-def]
    service_ingest: IngestWorker,
) -> None:
    class_id, creds = klass
    city_device = f"air-{uuid.uuid4().hex[:6]}"
    mosquitto_pub(broker, f"city/attack/air/{city_device}", '{"metrics": {"pm25_ugm3": 11}}')
    assert wait_for(lambda: _count(conn, city_device) == 1, 10.0)
    for member in ("student01", "student02"):
        me = _as(broker, creds[member])
        assert me.outcome() == "connected"
        assert not getattr(me.publish(f"class/{class_id}/{member}/{city_device}", GOOD), "is_failure", True)
        me.close()
    assert wait_for(lambda: _count(conn, f"{class_id}/student02/{city_device}") == 1, 10.0)
    assert _count(conn, f"{class_id}/student01/{city_device}") == 1
    assert _count(conn, city_device) == 1, "a student wrote the city's device"
    owners = conn.execute("SELECT source, owner FROM devices WHERE device_id = %s", (city_device,)).fetchall()
    assert owners == [("city", None)]


def test_new_device_ids_do_not_bypass_the_limits_and_one_student_cannot_limit_another(
    conn: psycopg.Connection[tuple[object, ...]],
    broker: Broker,
    klass,  # type: ignore[no-untyped-def]
    service_ingest: IngestWorker,
) -> None:
    class_id, creds = klass
    tag = uuid.uuid4().hex[:4]
    flooder = _as(broker, creds["student03"])
    assert flooder.outcome() == "connected"
    flooder.client.subscribe(f"class/{class_id}/student03/#", qos=1)
    for i in range(100):  # eight device ids (the account may have five), far over the burst of ten
        flooder.client.publish(f"class/{class_id}/student03/f{tag}-{i % 8}", GOOD, qos=1)
    # the classmate's device of the same name is untouched by the flood
    mate = _as(broker, creds["student01"])
    assert mate.outcome() == "connected"
    mate.publish(f"class/{class_id}/student01/f{tag}-0", GOOD)
    assert wait_for(lambda: _count(conn, f"{class_id}/student01/f{tag}-0") == 1, 10.0), "one student limited another"
    assert wait_for(lambda: any(b.get("reason") == "rate_limited" for _, b in flooder.heard), 10.0)
    time.sleep(1.0)
    stored = conn.execute(
        "SELECT count(*), count(DISTINCT device_id) FROM readings WHERE device_id LIKE %s",
        (f"{class_id}/student03/f{tag}-%",),
    ).fetchone()
    registered = conn.execute(
        "SELECT count(*) FROM devices WHERE district = %s AND owner = 'student03'", (class_id,)
    ).fetchone()
    assert stored is not None and registered is not None
    assert stored[0] <= 12, f"the account's burst of 10 let {stored[0]} readings through"
    assert stored[1] <= 5 and registered[0] <= 5, "more devices than the account may have"
    reasons = {str(b.get("reason")) for _, b in flooder.heard}
    assert {"rate_limited", "too_many_devices"} <= reasons, reasons
    flooder.close()
    mate.close()


def test_an_account_expires_at_the_broker_the_second_it_passes(
    settings: Settings,
    broker: Broker,
    dsn: str,
    klass,  # type: ignore[no-untyped-def]
) -> None:
    class_id = f"e{uuid.uuid4().hex[:6]}"
    created = classroom.create_class(settings, class_id, students=1, names=[], days=4 / 86400)
    student = next(c for c in created if c.member == "student01")
    online = _as(broker, student)
    assert online.outcome() == "connected"
    assert wait_for(lambda: online.dropped is not None, 10.0), "an expired account stayed connected"
    late = _as(broker, student)
    assert late.outcome() == "refused"
    late.close()
    online.close()


def test_class_and_account_names_cannot_collide(settings: Settings, klass) -> None:  # type: ignore[no-untyped-def]
    class_id, creds = klass
    with pytest.raises(ClassroomError, match="class id"):
        classroom.create_class(settings, f"{class_id}.student03", students=1, names=[], days=1)
    assert classroom.revoke(settings, creds["student03"].username) == 1
    states = {str(m["member"]): m["state"] for m in classroom.members(settings, class_id)}
    assert states["student03"] == "revoked"
    assert states["student01"] == states["student02"] == states["teacher"] == "active"


def test_a_retained_reading_is_not_stored_again_when_ingest_reconnects(
    conn: psycopg.Connection[tuple[object, ...]], broker: Broker, dsn: str
) -> None:
    device = f"ret-{uuid.uuid4().hex[:8]}"
    topic = f"city/attack/air/{device}"
    config = IngestConfig(dsn=dsn, mqtt_host=broker.host, mqtt_port=broker.port, mqtt_username=broker.username,
                          mqtt_password=broker.password, client_id=f"ret-{device}", batch_max_age_s=0.05)  # fmt: skip
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    publisher.username_pw_set(broker.username, broker.password)
    publisher.connect(broker.host, broker.port)
    publisher.loop_start()
    try:
        for _ in range(3):  # three ingest sessions, each subscribing anew
            worker = IngestWorker(config)
            thread = threading.Thread(target=worker.run, daemon=True)
            thread.start()
            assert worker.wait_connected(10)
            if _count(conn, device) == 0:
                publisher.publish(topic, b'{"metrics": {"pm25_ugm3": 7}}', qos=1, retain=True).wait_for_publish(5)
                assert wait_for(lambda: _count(conn, device) == 1, 10.0)
            time.sleep(0.5)
            worker.stop()
            thread.join(30)
            config = IngestConfig(**{**config.__dict__, "client_id": f"{config.client_id}x"})
        assert _count(conn, device) == 1, "the retained reading was stored again"
    finally:
        publisher.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
        publisher.loop_stop()
        publisher.disconnect()


def test_anonymous_access_is_off_by_default_and_then_only_for_the_simulated_district(
    tmp_path,  # type: ignore[no-untyped-def]
    settings: Settings,
    broker: Broker,
) -> None:
    default = load_settings(home=tmp_path)
    config = _mosquitto.render_config(default, tmp_path)
    assert "allow_anonymous false" in config and "per_listener_settings" not in config
    assert "smartcity_auth.so" in config
    if not settings.mqtt_demo_port:
        return
    anonymous = Client(broker, f"anon-{uuid.uuid4().hex[:6]}", None, None, port=settings.mqtt_demo_port)
    assert anonymous.outcome() == "connected"
    for topic in ("city/elsewhere/air/x", "class/x/y/z", "sim/goyang/scenario"):
        ack = anonymous.publish(topic, GOOD)
        assert getattr(ack, "is_failure", False), (topic, ack)
    ack = anonymous.publish(f"city/{settings.district}/air/anon-{uuid.uuid4().hex[:6]}", GOOD)
    assert not getattr(ack, "is_failure", True)
    anonymous.close()


def test_a_bug_while_decoding_becomes_a_dead_letter_not_a_dead_thread(
    monkeypatch: pytest.MonkeyPatch, dsn: str, broker: Broker
) -> None:
    """paho's network thread runs the callback: whatever decoding raises must stay there."""
    import ingest.worker as worker_module

    def broken(*args: object, **kwargs: object) -> object:
        raise RecursionError("a bug of ours")

    worker = IngestWorker(IngestConfig(dsn=dsn, mqtt_host=broker.host, mqtt_port=broker.port,
                                       mqtt_username=broker.username, mqtt_password=broker.password))  # fmt: skip
    monkeypatch.setattr(worker_module, "decode", broken)
    worker._on_raw_message("city/attack/air/x", b"{}", 7, 1)
    (message,) = list(worker._inbox)
    assert message.mid == 7 and message.decoded.rejection is not None
    assert message.decoded.rejection.reason == "internal_error"
    assert "a bug of ours" in message.decoded.rejection.sentence
