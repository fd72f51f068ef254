"""Acceptance: the live fleet's messages are accepted by ingest, except the deliberately
malformed share, which is refused with the right reasons (real broker and database)."""

from __future__ import annotations

import threading

import pandas as pd
import psycopg
import pytest

from ingest.worker import IngestWorker
from sensors_sim.publisher import MALFORMED, SimConfig, run
from sensors_sim.signals import METRICS_BY_KIND
from tests.fixtures.services import wait_for
from tests.fixtures.stack import Broker

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("payload_format", ["canonical", "senml"])
def test_live_fleet_is_accepted_except_the_malformed_share(
    conn: psycopg.Connection[tuple[object, ...]], broker: Broker, ingest: IngestWorker, unique: str, payload_format: str
) -> None:
    kinds = list(METRICS_BY_KIND)
    fleet = pd.DataFrame(
        {
            "device_id": [f"{k}-{unique}-{i}" for k in kinds for i in range(4)],
            "kind": [k for k in kinds for _ in range(4)],
        }
    )
    district = f"live{unique}"
    config = SimConfig(
        mqtt_host=broker.host, mqtt_port=broker.port, district=district, mqtt_username=broker.username,
        mqtt_password=broker.password, interval_s=0.5, payload_format=payload_format, malformed_share=0.25,
    )  # fmt: skip
    stop = threading.Event()
    sent = run(config, fleet, stop, duration_s=1.6)
    steps = sent // len(fleet)
    assert steps >= 3

    def stored_messages() -> int:
        row = conn.execute(
            "SELECT count(DISTINCT (device_id, time)) FROM readings WHERE device_id LIKE %s", (f"%-{unique}-%",)
        ).fetchone()
        return int(row[0]) if row else 0

    def dead() -> list[tuple[str, int]]:
        return conn.execute(
            "SELECT reason, count(*) FROM dead_letters WHERE topic LIKE %s GROUP BY reason ORDER BY reason",
            (f"city/{district}/%",),
        ).fetchall()

    assert wait_for(lambda: stored_messages() + sum(n for _, n in dead()) >= sent, 10.0)
    reasons = dict(dead())
    assert sum(reasons.values()) > 0, "no malformed message was sent; the test proves nothing"
    assert set(reasons) <= {reason for _, reason in MALFORMED}
    assert stored_messages() + sum(reasons.values()) == sent
    assert 0.1 < sum(reasons.values()) / sent < 0.45
    # every dead letter is one of the broken payloads, refused for its own reason
    pairs = conn.execute(
        "SELECT payload, reason FROM dead_letters WHERE topic LIKE %s", (f"city/{district}/%",)
    ).fetchall()
    assert {(bytes(p), r) for p, r in pairs} <= set(MALFORMED)
