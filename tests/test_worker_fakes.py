"""The ingest worker with its outside world swapped for fakes (no broker, no database):
acknowledgements follow the commit, a database outage retries the same batch and
acknowledges nothing until it is stored, refusals are answered on the errors topic."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg

from ingest.worker import IngestConfig, IngestWorker
from ingest.writer import BatchResult, Message
from tests.fixtures.services import wait_for

GOOD = b'{"metrics": {"pm25_ugm3": 12.5}}'


class FakeClient:
    """The few paho calls the worker makes, recorded."""

    def __init__(self) -> None:
        self.acked: list[int] = []
        self.published: list[tuple[str, bytes]] = []
        self.on_connect = self.on_message = self.on_raw_message = self.on_disconnect = self.on_subscribe = None

    def reconnect_delay_set(self, **_: Any) -> None: ...

    def connect_async(self, *_: Any, **__: Any) -> None: ...

    def loop_start(self) -> None: ...

    def loop_stop(self) -> None: ...

    def disconnect(self) -> None: ...

    def ack_many(self, mids: Any) -> None:
        self.acked.extend(mids)

    def publish(self, topic: str, payload: bytes, qos: int = 0) -> None:
        self.published.append((topic, payload))


class FakeConn:
    """What the worker asks of a connection outside the writer: rosters, stats, close."""

    def close(self) -> None: ...

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        yield

    def execute(self, *_: Any) -> Any:
        class Rows:
            def fetchall(self) -> list[Any]:
                return []

        return Rows()


class FakeWriter:
    """Stores in memory; fails with an outage ``outages`` times first."""

    def __init__(self, outages: int = 0) -> None:
        self.outages = outages
        self.stored: list[Message] = []
        self.calls = 0
        self.lock = threading.Lock()

    def write(self, messages: Sequence[Message]) -> BatchResult:
        with self.lock:
            self.calls += 1
            if self.outages:
                self.outages -= 1
                raise psycopg.OperationalError("the database went away")
            result = BatchResult(messages=len(messages))
            for m in messages:
                if m.decoded.rejection is not None:
                    result.rejected.append((m, m.decoded.rejection))
                else:
                    self.stored.append(m)
                    result.readings += len(m.decoded.readings)
            return result

    def refresh_devices(self) -> None: ...


def _worker(writer: FakeWriter) -> tuple[IngestWorker, FakeClient, threading.Thread]:
    client = FakeClient()
    config = IngestConfig(dsn="", mqtt_host="", mqtt_port=0, mqtt_username="", mqtt_password="", writers=1,
                          batch_max_age_s=0.01, roster_interval_s=3600)  # fmt: skip
    worker = IngestWorker(config, client=client, open_writer=lambda: (FakeConn(), writer))  # type: ignore[arg-type,return-value]
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    return worker, client, thread


def test_acknowledged_only_after_the_batch_is_stored() -> None:
    writer = FakeWriter()
    worker, client, thread = _worker(writer)
    for mid in (1, 2, 3):
        worker._on_raw_message(f"city/fake/air/d{mid}", GOOD, mid, 1)
    assert wait_for(lambda: len(client.acked) == 3, 5.0)
    assert sorted(client.acked) == [1, 2, 3] and len(writer.stored) == 3
    worker.stop()
    thread.join(10)
    assert not thread.is_alive()


def test_an_outage_retries_the_same_batch_and_acknowledges_nothing_meanwhile() -> None:
    writer = FakeWriter(outages=2)
    worker, client, thread = _worker(writer)
    worker._on_raw_message("city/fake/air/d1", GOOD, 7, 1)
    assert wait_for(lambda: writer.calls >= 1, 5.0)
    assert client.acked == []  # nothing stored yet, nothing acknowledged
    assert wait_for(lambda: client.acked == [7], 10.0), "the batch was not stored after the outage"
    assert writer.calls == 3 and len(writer.stored) == 1
    worker.stop()
    thread.join(10)


def test_a_refusal_is_acknowledged_and_answered_on_the_errors_topic() -> None:
    writer = FakeWriter()
    worker, client, thread = _worker(writer)
    worker._on_raw_message("city/fake/air/d9", b'{"metrics": {"pm25": 1}}', 11, 1)
    assert wait_for(lambda: client.acked == [11], 5.0)
    assert client.published and client.published[0][0] == "city/fake/air/d9/errors"
    assert b"unknown_metric" in client.published[0][1]
    worker.stop()
    thread.join(10)
