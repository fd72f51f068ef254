"""The SensorThings API as outside systems meet it: read by ``frost-sta-client`` (the
client FROST publishes on PyPI) over real HTTP, and new Observations received over MQTT
as ingest commits them, with the broker's ACLs following the API's visibility."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import frost_sta_client as fsc
import paho.mqtt.client as mqtt
import psycopg
import pytest
from flask import Flask
from paho.mqtt.enums import CallbackAPIVersion
from werkzeug.serving import make_server

from contract import STA_CITY_DATASTREAMS, STA_OBSERVATIONS, sta_class_filter, sta_observations_topic
from ingest.decode import decode
from ingest.worker import IngestConfig
from ingest.writer import Message, Writer
from smartcity import classroom
from smartcity.settings import Settings
from sta import mqtt as sta_mqtt
from sta.service import StaConfig, install
from tests.fixtures.services import a_class, mosquitto_pub, running, wait_for
from tests.fixtures.stack import Broker, free_port

pytestmark = [
    pytest.mark.integration,
    # frost-sta-client calls an old furl spelling; the warning is the library's, not ours
    pytest.mark.filterwarnings("ignore:furl.pathstr is deprecated:DeprecationWarning"),
]


@pytest.fixture(scope="module")
def server(dsn: str) -> Iterator[str]:
    app = Flask("sta-live")
    install(app, StaConfig(dsn=dsn), lambda: None)
    port = free_port()
    http = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}/sta/v1.1"
    http.shutdown()


def test_frost_client_lists_things_and_reads_observations_with_a_filter_and_an_expand(
    dsn: str, server: str, unique: str
) -> None:
    device = f"frost-{unique}"
    start = datetime.now(UTC) - timedelta(hours=1)
    now = datetime.now(UTC)
    messages = []
    for i in range(12):
        body = json.dumps({"time": (start + timedelta(minutes=i)).isoformat(), "metrics": {"noise_dba": 50.0 + i}})
        topic = f"city/frost{unique}/noise/{device}"
        messages.append(Message(i, 1, topic, body.encode(), now, decode(topic, body.encode(), now)))
    with psycopg.connect(dsn) as conn:
        assert Writer(conn).write(messages).inserted == 12

    service = fsc.SensorThingsService(server)
    things = service.things().query().filter(f"properties/district eq 'frost{unique}'").list()
    assert [t.id for t in things] == [device]
    assert things.entities[0].name == device

    datastream = service.datastreams().find(f"{device}:noise_dba")
    assert datastream.unit_of_measurement.symbol == "dBA"
    observations = (
        datastream.get_observations()
        .query()
        .filter("result ge 60")
        .expand("Datastream")
        .orderby("result", "DESC")
        .list()
    )
    got = [o.result for o in observations]
    assert got == [61.0, 60.0]
    assert observations.entities[0].datastream.id == f"{device}:noise_dba"
    # paging through the client: every Observation once
    paged = datastream.get_observations().query().top(5).list()
    assert sorted(o.result for o in paged) == [50.0 + i for i in range(12)]


# -- MQTT receive -------------------------------------------------------------------------------


class Listener:
    """An MQTT client subscribed to SensorThings topics, with what it received."""

    def __init__(self, broker: Broker, username: str, password: str, topics: list[str]) -> None:
        self.received: list[tuple[str, dict[str, object], float]] = []
        self.subscribed = threading.Event()
        # the broker binds a class account's client id to its username
        client_id = username if "." in username else ""
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        self.client.username_pw_set(username, password)
        self.client.on_message = lambda c, u, m: self.received.append(
            (m.topic, json.loads(m.payload), time.monotonic())
        )
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.connected: list[object] = []
        self.client.on_connect = lambda c, u, f, r, p: (self.connected.append(r), c.subscribe([(t, 0) for t in topics]))
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        assert self.subscribed.wait(10), (username, self.connected)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture(scope="module")
def school(settings: Settings, dsn: str) -> Iterator[tuple[str, dict[str, classroom.Credential]]]:
    yield from a_class(settings, dsn, "stm")


def test_new_observations_arrive_on_the_datastream_topics_as_ingest_commits_them(
    dsn: str, broker: Broker, unique: str, school: tuple[str, dict[str, classroom.Credential]]
) -> None:
    class_id, members = school
    own, other, teacher = members["student01"], members["student02"], members["teacher"]
    config = IngestConfig(dsn=dsn, mqtt_host=broker.host, mqtt_port=broker.port, mqtt_username=broker.username,
                          mqtt_password=broker.password, client_id=f"test-sta-{unique}", batch_max_age_s=0.05,
                          announce=True)  # fmt: skip
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    publisher.username_pw_set(broker.username, broker.password)
    publisher.connect(broker.host, broker.port)
    publisher.loop_start()
    _, stop = sta_mqtt.start(dsn, "http://test/sta/v1.1", lambda t, p: publisher.publish(t, p, qos=0))
    city_device, class_device = f"stm-{unique}", f"{class_id}/student01/esp-{unique}"
    listeners = {
        "owner": Listener(broker, own.username, own.password, [sta_class_filter(class_id, "student01"),
                                                                STA_CITY_DATASTREAMS, STA_OBSERVATIONS]),
        "classmate": Listener(broker, other.username, other.password, ["v1.1/#"]),
        "teacher": Listener(broker, teacher.username, teacher.password, [sta_class_filter(class_id)]),
        "service": Listener(broker, broker.username, broker.password,
                            [sta_observations_topic(city_device, "pm25_ugm3")]),
    }  # fmt: skip
    try:
        for _ in running(config):
            time.sleep(2.0)  # the bridge is listening, and ingest has seen it connected
            sent = time.monotonic()
            mosquitto_pub(broker, f"city/stm{unique}/air/{city_device}", '{"metrics": {"pm25_ugm3": 17.5}}')
            mosquitto_pub(broker, f"class/{class_id}/student01/esp-{unique}", '{"metrics": {"pm25_ugm3": 42.0}}')
            assert wait_for(lambda: len(listeners["owner"].received) >= 3 and listeners["teacher"].received, 15)
            time.sleep(0.5)
    finally:
        stop.set()
        for listener in listeners.values():
            listener.close()
        publisher.loop_stop()
        publisher.disconnect()

    def seen(who: str) -> set[tuple[str, object]]:
        ours = (city_device, class_device)
        return {(t, doc["result"]) for t, doc, _ in listeners[who].received if str(doc["@iot.id"]).startswith(ours)}

    city_topic = sta_observations_topic(city_device, "pm25_ugm3")
    class_topic = sta_observations_topic(class_device, "pm25_ugm3")
    assert seen("owner") == {(city_topic, 17.5), (STA_OBSERVATIONS, 17.5), (class_topic, 42.0)}
    assert seen("teacher") == {(class_topic, 42.0)}
    assert seen("classmate") == {(city_topic, 17.5), (STA_OBSERVATIONS, 17.5)}  # never another student's device
    assert seen("service") == {(city_topic, 17.5)}
    document = next(doc for topic, doc, _ in listeners["service"].received if topic == city_topic)
    assert document["@iot.selfLink"] == f"http://test/sta/v1.1/Observations('{document['@iot.id']}')"
    assert str(document["Datastream@iot.navigationLink"]).endswith(f"Datastreams('{city_device}:pm25_ugm3')")
    latency_s = max(t for topic, _, t in listeners["service"].received if topic == city_topic) - sent
    assert latency_s < 5.0


def test_the_docs_python_example_runs_against_a_live_server(dsn: str, server: str, unique: str) -> None:
    """docs/sensorthings.md's frost-sta-client block, as a user would paste it."""
    import contextlib
    import io
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "sensorthings.md").read_text(encoding="utf-8")
    block = re.search(r"```python\n(.*?)```", text, re.S)
    assert block is not None
    device = f"air-doc{unique}"
    now = datetime.now(UTC)
    body = json.dumps({"time": now.isoformat(), "metrics": {"pm25_ugm3": 80.0}}).encode()
    topic = f"city/doc{unique}/air/{device}"
    with psycopg.connect(dsn) as conn:
        assert Writer(conn).write([Message(1, 1, topic, body, now, decode(topic, body, now))]).inserted == 1
    code = block.group(1).replace("http://127.0.0.1:8050/sta/v1.1", server).replace("air-0001", device)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "docs/sensorthings.md", "exec"), {})  # our own documentation
    assert " 80.0" in printed.getvalue()


def test_ingest_announces_only_while_a_listener_is_connected(dsn: str, unique: str) -> None:
    """Announcing costs ingest a third of a batch: nobody listening, nothing is announced."""
    from contract import READINGS_CHANNEL, READINGS_LISTENER

    def batch(i: int) -> list[Message]:
        now = datetime.now(UTC)
        body = json.dumps({"time": (now - timedelta(seconds=i)).isoformat(), "metrics": {"noise_dba": 40.0}}).encode()
        topic = f"city/ann{unique}/noise/ann-{unique}"
        return [Message(i, 1, topic, body, now, decode(topic, body, now))]

    with psycopg.connect(dsn, autocommit=True) as anonymous:
        anonymous.execute(f"LISTEN {READINGS_CHANNEL}")
        with psycopg.connect(dsn) as conn:
            writer = Writer(conn, announce=True)
            writer.write(batch(1))
            assert not [n for n in anonymous.notifies(timeout=0.5) if f"ann-{unique}" in n.payload]
            with psycopg.connect(dsn, autocommit=True, application_name=READINGS_LISTENER) as bridge:
                bridge.execute(f"LISTEN {READINGS_CHANNEL}")
                time.sleep(1.1)  # the writer looks again after a second
                writer.write(batch(2))
                heard = [n for n in bridge.notifies(timeout=2.0, stop_after=1) if f"ann-{unique}" in n.payload]
            assert heard
