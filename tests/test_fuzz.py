"""Fuzzing as a habit: hostile messages of every format against the pure decoder
(hypothesis), the crashers found so far as regression cases, and a live worker fed
generated messages that must store or dead-letter every one and keep running."""

from __future__ import annotations

import base64
import json
import math
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings

from ingest.decode import Limits, decode
from ingest.models import Decoded
from ingest.vocabulary import METRICS
from ingest.worker import IngestConfig, IngestWorker
from tests.fixtures.services import wait_for
from tests.fixtures.stack import Broker
from tests.fuzzing import Generator, bare_values, payloads, topics

NOW = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)
CRASHERS = Path(__file__).parent / "data" / "fuzz-crashers.jsonl"


def _check(decoded: Decoded) -> None:
    """What any answer of the decoder must be: readings or a reason, never both, and only sane readings."""
    limits = Limits()
    assert isinstance(decoded, Decoded)
    if decoded.rejection is not None:
        assert not decoded.readings
        assert decoded.rejection.reason and isinstance(decoded.rejection.sentence, str)
        return
    # no two readings of one message share (metric, time): the writer's ON CONFLICT would
    # drop one without a word, so the decoder must have refused the message instead
    keys = [(r.device_id, r.metric, r.time) for r in decoded.readings]
    assert len(keys) == len(set(keys)), keys
    for reading in decoded.readings:
        metric = METRICS[reading.metric]
        assert math.isfinite(reading.value) and metric.min_value <= reading.value <= metric.max_value
        assert reading.time.tzinfo is not None
        assert (
            NOW - timedelta(seconds=limits.max_age_s)
            <= reading.time
            <= NOW + timedelta(seconds=limits.future_tolerance_s)
        )


@hsettings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(topic=topics, payload=payloads())
def test_decode_never_raises_on_any_format(topic: str, payload: bytes) -> None:
    _check(decode(topic, payload, NOW))


@hsettings(max_examples=500, deadline=None)
@given(topic=topics, payload=bare_values)
def test_decode_never_raises_on_per_metric_topics(topic: str, payload: bytes) -> None:
    _check(decode(topic + "/pm25_ugm3", payload, NOW))
    _check(decode(topic, payload, NOW))


def test_the_crashers_found_so_far_are_refused_with_their_reason() -> None:
    cases = [json.loads(line) for line in CRASHERS.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(cases) >= 10
    for case in cases:
        decoded = decode(case["topic"], base64.b64decode(case["payload_b64"]), NOW)
        _check(decoded)
        assert decoded.rejection is not None, case["why"]
        assert decoded.rejection.reason == case["reason"], (case["why"], decoded.rejection)


def test_the_generator_makes_every_shape_and_many_refusals() -> None:
    gen = Generator(1)
    outcomes = [decode(*gen.message(n), NOW) for n in range(3000)]
    refused = sum(1 for d in outcomes if d.rejection is not None)
    stored = sum(1 for d in outcomes if d.readings)
    reasons = {d.rejection.reason for d in outcomes if d.rejection is not None}
    assert refused > 1000 and stored > 300
    assert {"bad_timestamp", "not_decodable", "unknown_metric", "bad_topic", "value_out_of_range"} <= reasons


@pytest.mark.integration
def test_a_live_worker_stores_or_dead_letters_every_generated_message(
    dsn: str, broker: Broker, conn: psycopg.Connection[tuple[object, ...]]
) -> None:
    run = f"fz{uuid.uuid4().hex[:6]}"
    count = 3000
    config = IngestConfig(dsn=dsn, mqtt_host=broker.host, mqtt_port=broker.port, mqtt_username=broker.username,
                          mqtt_password=broker.password, client_id=f"fuzz-{run}", batch_max_age_s=0.05)  # fmt: skip
    worker = IngestWorker(config)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    assert worker.wait_connected(10)
    gen = Generator(7)
    messages = [gen.message(n, district=run) for n in range(count)]
    now = datetime.now(UTC)
    expected_refused = sum(1 for t, p in messages if decode(t, p, now).rejection is not None)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.username_pw_set(broker.username, broker.password)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        infos = [client.publish(t, p, qos=1) for t, p in messages]
        for info in infos:
            info.wait_for_publish(30)
        assert wait_for(lambda: worker.counters.messages >= count, 60.0), worker.counters
        dead = conn.execute("SELECT count(*) FROM dead_letters WHERE topic LIKE %s", (f"city/{run}/%",)).fetchone()
        assert dead is not None, "no answer from the database"
        assert (dead[0], worker.counters.rejected) == (expected_refused, expected_refused), worker.counters
        assert thread.is_alive()
    finally:
        client.loop_stop()
        client.disconnect()
        worker.stop()
        thread.join(30)
