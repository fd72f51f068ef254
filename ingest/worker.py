"""The ingest worker: MQTT in, TimescaleDB out, acknowledgements only after commit.

Threads: paho's network thread runs ``on_message``, which only decodes and hands the
message to a queue; the writer thread (the caller's) takes batches off the queue by size
or age, writes each in one transaction and then acknowledges its messages. While the
database is unreachable the writer retries the same batch with backoff and acknowledges
nothing, so the broker keeps the backlog. The number of unacknowledged messages is
capped by the MQTT v5 Receive Maximum, which bounds memory.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer

import orjson
import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from classroom.limits import ClassGuard, ClassLimits, Member, Roster
from contract.topics import INGEST_SUBSCRIPTIONS
from ingest import metrics, queries
from ingest._mqtt import FastClient
from ingest.decode import Limits, decode, decode_from_source
from ingest.models import Decoded, Reason, Rejection
from ingest.sources import Source
from ingest.writer import BatchResult, Message, Writer

log = logging.getLogger(__name__)

SUBSCRIPTIONS = INGEST_SUBSCRIPTIONS
SHARE_GROUP = "smartcity-ingest"
# Persistent session: the broker keeps our subscriptions and backlog this long offline.
SESSION_EXPIRY_S = 7 * 24 * 3600
EXAMPLE_PAYLOAD = '{"time": "2026-11-24T09:00:00+09:00", "metrics": {"pm25_ugm3": 12.5}}'


@dataclass(frozen=True)
class IngestConfig:
    dsn: str
    mqtt_host: str
    mqtt_port: int
    mqtt_username: str
    mqtt_password: str
    client_id: str = "smartcity-ingest"
    shared: bool = False
    batch_max_messages: int = 5000
    batch_max_age_s: float = 0.2
    receive_maximum: int = 20000
    limits: Limits = field(default_factory=Limits)
    auto_register: bool = True
    announce: bool = False  # notify committed readings (the SensorThings MQTT bridge listens)
    stats_interval_s: float = 10.0
    writers: int = 2
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 0  # 0: no /metrics endpoint
    class_limits: ClassLimits = field(default_factory=ClassLimits)
    roster_interval_s: float = 5.0
    # A configured source: read its broker through its adapter instead of our own topics
    # (host, port, credentials and client id then come from the source).
    source: Source | None = None


@dataclass
class Counters:
    messages: int = 0
    readings: int = 0
    inserted: int = 0
    rejected: int = 0
    batches: int = 0
    last_batch_ms: float = 0.0
    # Wall-clock seconds of the first and last commit that stored readings, and what the
    # first one stored: a drain rate is (readings - first_readings) / (last - first).
    first_commit_s: float | None = None
    last_commit_s: float | None = None
    first_readings: int = 0
    redelivered_batches: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)


@dataclass
class _Slot:
    """One writer thread's connection and writer."""

    conn: psycopg.Connection[tuple[object, ...]]
    writer: Writer
    devices_read_at: float = field(default_factory=time.monotonic)
    roster_read_at: float = 0.0


WriterFactory = Callable[[], tuple[psycopg.Connection[tuple[object, ...]], Writer]]


class IngestWorker:
    """One ingest process's worth of work. Call :meth:`run`; :meth:`stop` from any thread.

    Args:
        config: what to connect to and how to batch.
        client: the MQTT client to read with (a :class:`FastClient` by default); the worker
            sets its callbacks. A test passes a fake with the same few methods.
        open_writer: connects and returns (connection, :class:`Writer`); by default to
            ``config.dsn``. A test passes one that returns fakes.
    """

    def __init__(
        self, config: IngestConfig, *, client: FastClient | None = None, open_writer: WriterFactory | None = None
    ) -> None:
        self.config = config
        self.counters = Counters()
        # on_message appends, the writer pops: deque operations are atomic, and the
        # event is set only when the writer may be waiting, so a message costs no lock.
        self._inbox: deque[Message] = deque()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._counters_lock = threading.Lock()
        self._fatal: Exception | None = None
        self._connected = threading.Event()
        self._guard = ClassGuard(config.class_limits)
        self._aliases: dict[str, str] = {}  # external id -> registered device id (sources only)
        self._client = self._wire(client if client is not None else self._make_client())
        self._connect_writer: WriterFactory = open_writer or self._connect_database

    # -- MQTT side (paho's thread) -------------------------------------------------
    def _make_client(self) -> FastClient:
        source = self.config.source
        client = FastClient(
            CallbackAPIVersion.VERSION2,
            client_id=source.client_id if source else self.config.client_id,
            protocol=mqtt.MQTTv5 if self._mqtt5 else mqtt.MQTTv311,
            clean_session=None if self._mqtt5 else False,
            manual_ack=True,
        )
        if source is None:
            client.username_pw_set(self.config.mqtt_username, self.config.mqtt_password)
        else:
            if source.username:
                client.username_pw_set(source.username, source.password)
            if source.tls:
                client.tls_set(ca_certs=source.ca_file)
        client.max_inflight_messages_set(1000)
        client.max_queued_messages_set(0)
        return client

    @property
    def _mqtt5(self) -> bool:
        """MQTT 5 (ours, most sources), else 3.1.1 (The Things Stack): no properties, no options."""
        return self.config.source is None or self.config.source.mqtt_version == 5

    @property
    def _address(self) -> tuple[str, int]:
        source = self.config.source
        return (source.host, source.port) if source else (self.config.mqtt_host, self.config.mqtt_port)

    def _wire(self, client: FastClient) -> FastClient:
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        client.on_raw_message = self._on_raw_message
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        return client

    def _on_subscribe(self, client: mqtt.Client, userdata: object, mid: int, reasons: object, props: object) -> None:
        self._connected.set()

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object, reason: object, props: object) -> None:
        if getattr(reason, "is_failure", False):
            log.error("broker refused the connection: %s", reason)
            return
        source = self.config.source
        if source is not None:
            if self._mqtt5:
                keep = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_DO_NOT_SEND)
                client.subscribe([(t, keep) for t in source.topics])
            else:
                client.subscribe([(t, 1) for t in source.topics])
            log.info("source %s: connected to %s:%s, subscribed to %s", source.name, *self._address, source.topics)
            return
        topics = [f"$share/{SHARE_GROUP}/{t}" if self.config.shared else t for t in SUBSCRIPTIONS]
        # Retained messages are not sent on (re)subscribing: a retained reading without a
        # time would otherwise be stored again, stamped anew, after every reconnect.
        # No Local: ingest's own answers on .../errors need not come back to it (MQTT v5
        # forbids the flag on shared subscriptions, where they still arrive and are skipped).
        options = SubscribeOptions(
            qos=1, retainHandling=SubscribeOptions.RETAIN_DO_NOT_SEND, noLocal=not self.config.shared
        )
        client.subscribe([(t, options) for t in topics])
        log.info("connected to %s:%s, subscribed to %s", self.config.mqtt_host, self.config.mqtt_port, topics)

    def _on_disconnect(
        self, client: mqtt.Client, userdata: object, flags: object, reason: object, props: object
    ) -> None:
        self._connected.clear()
        if not self._stop.is_set():
            log.warning("disconnected from broker (%s); paho reconnects", reason)

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        self._on_raw_message(msg.topic, bytes(msg.payload), msg.mid, msg.qos)

    def _on_raw_message(self, topic: str, payload: bytes, mid: int, qos: int) -> None:
        now = datetime.now(UTC)
        try:
            decoded = self._admit(topic, payload, now)
        except Exception as exc:  # paho's network thread must outlive any bug of ours
            log.exception("decoding a message on %r failed; kept as a dead letter", topic[:200])
            sentence = f"ingest failed on this message: {type(exc).__name__}: {exc}"
            decoded = Decoded(None, (), Rejection(str(Reason.INTERNAL_ERROR), sentence))
        self._inbox.append(Message(mid, qos, topic, payload, now, decoded))
        if not self._wake.is_set():
            self._wake.set()

    def _admit(self, topic: str, payload: bytes, now: datetime) -> Decoded:
        source = self.config.source
        if source is not None:
            return decode_from_source(source, topic, payload, now, self.config.limits, aliases=self._aliases)
        decoded = decode(topic, payload, now, self.config.limits)
        device = decoded.topic
        if device is not None and device.scope == "class" and decoded.rejection is None:
            refusal = self._guard.check(device, now, time.monotonic())
            if refusal is not None:
                return Decoded(device, (), Rejection(refusal.reason, refusal.sentence, refusal.field))
        return decoded

    # -- writer side ---------------------------------------------------------------
    def run(self) -> Counters:
        """Connect, consume until :meth:`stop`, flush and commit what was received, disconnect."""
        connect_props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        connect_props.SessionExpiryInterval = SESSION_EXPIRY_S
        connect_props.ReceiveMaximum = self.config.receive_maximum
        self._client.reconnect_delay_set(min_delay=1, max_delay=10)
        # Several writers on their own connections: while PostgreSQL works on one batch,
        # Python encodes the next. A free slot is taken per batch and given back after it.
        slots: queue.Queue[_Slot] = queue.Queue()
        for _ in range(self.config.writers):
            slots.put(_Slot(*self._open_writer()))
        if self.config.source is not None:  # registered devices by external id, before the first message
            first = slots.get()
            self._read_aliases(first.conn)
            first.roster_read_at = time.monotonic()
            slots.put(first)
        host, port = self._address
        if self._mqtt5:
            self._client.connect_async(host, port, keepalive=30, clean_start=False, properties=connect_props)
        else:  # MQTT 3.1.1: the persistent session comes from clean_session=False, no properties
            self._client.connect_async(host, port, keepalive=30)
        self._client.loop_start()
        last_stats = time.monotonic()
        executor = ThreadPoolExecutor(max_workers=self.config.writers, thread_name_prefix="ingest-writer")
        exporter = self._serve_metrics()
        try:
            while not self._stop.is_set() or self._inbox:
                batch = self._take_batch()
                if batch:
                    executor.submit(self._commit_on, slots.get(), batch, slots)
                if time.monotonic() - last_stats > self.config.stats_interval_s:
                    slot = slots.get()
                    self._record_stats(slot.conn)
                    slots.put(slot)
                    last_stats = time.monotonic()
        finally:
            if exporter is not None:
                exporter.shutdown()
                exporter.server_close()
            executor.shutdown(wait=True)
            self._client.disconnect()
            self._client.loop_stop()
            while not slots.empty():
                slots.get().conn.close()
        if self._fatal is not None:
            raise self._fatal
        return self.counters

    def _commit_on(self, slot: _Slot, batch: list[Message], slots: queue.Queue[_Slot]) -> None:
        try:
            slot.conn, slot.writer = self._write_until_committed(slot.conn, slot.writer, batch)
            if time.monotonic() - slot.devices_read_at > 30:
                slot.writer.refresh_devices()
                slot.devices_read_at = time.monotonic()
            if time.monotonic() - slot.roster_read_at > self.config.roster_interval_s:
                if self.config.source is None:
                    self._read_roster(slot.conn)
                else:
                    self._read_aliases(slot.conn)
                slot.roster_read_at = time.monotonic()
        except Exception as exc:  # neither stored nor refused: leave it unacknowledged, stop, report
            log.exception("ingest writer failed; stopping without acknowledging the batch")
            self._fatal = exc
            self._stop.set()
        finally:
            slots.put(slot)

    def _read_roster(self, conn: psycopg.Connection[tuple[object, ...]]) -> None:
        try:
            with conn.transaction():
                rows = conn.execute(queries.CLASS_ROSTER).fetchall()
                devices = conn.execute(queries.CLASS_DEVICES).fetchall()
        except psycopg.errors.UndefinedTable:
            return  # a schema without classes: nothing to check
        except psycopg.OperationalError:
            return  # keep the last roster; the batch retry handles the outage
        roster = Roster({(str(c), str(m)): Member(e, bool(r)) for c, m, e, r in rows})  # type: ignore[arg-type]
        self._guard.update(roster, ((str(c), str(m), str(d)) for c, m, d in devices))

    def _read_aliases(self, conn: psycopg.Connection[tuple[object, ...]]) -> None:
        try:
            with conn.transaction():
                rows = conn.execute(queries.DEVICE_ALIASES).fetchall()
        except psycopg.OperationalError:
            return  # keep the last ones; the batch retry handles the outage
        self._aliases = {str(external): str(device) for external, device in rows}

    def _serve_metrics(self) -> ThreadingHTTPServer | None:
        if not self.config.metrics_port:
            return None
        try:
            return metrics.serve(self.config.metrics_host, self.config.metrics_port, self.metrics_text)
        except OSError as exc:  # metrics are not worth stopping ingestion for
            log.warning(
                "no /metrics endpoint: cannot listen on %s:%d (%s); set SMARTCITY_INGEST_METRICS_PORT",
                self.config.metrics_host,
                self.config.metrics_port,
                exc,
            )
            return None

    def metrics_text(self) -> str:
        """The worker's counters in Prometheus text format."""
        with self._counters_lock:
            c = self.counters
            values = {
                "messages": c.messages,
                "readings": c.readings,
                "inserted": c.inserted,
                "rejected": c.rejected,
                "batches": c.batches,
                "redelivered_batches": c.redelivered_batches,
                "last_batch_ms": c.last_batch_ms,
                "backlog_messages": len(self._inbox),
            }
            by_reason = dict(c.rejected_by_reason)
        return metrics.render(values, by_reason, worker=self.config.client_id)

    def stop(self) -> None:
        """Finish the batch in hand and everything already received, then return from run()."""
        self._stop.set()

    def wait_connected(self, timeout_s: float) -> bool:
        """Wait until the broker has confirmed the subscriptions."""
        return self._connected.wait(timeout_s)

    def _take_batch(self) -> list[Message]:
        """Up to batch_max_messages, waiting at most batch_max_age_s after the first arrives."""
        inbox = self._inbox
        if not inbox:
            self._wake.clear()
            if not inbox:  # checked again after clear: a message may have come in between
                self._wake.wait(0.1)
            if not inbox:
                return []
        deadline = time.monotonic() + self.config.batch_max_age_s
        limit = self.config.batch_max_messages
        while len(inbox) < limit and time.monotonic() < deadline and not self._stop.is_set():
            time.sleep(0.002)
        return [inbox.popleft() for _ in range(min(len(inbox), limit))]

    def _write_until_committed(
        self, conn: psycopg.Connection[tuple[object, ...]], writer: Writer, batch: list[Message]
    ) -> tuple[psycopg.Connection[tuple[object, ...]], Writer]:
        delay_s = 0.2
        while True:
            started = time.perf_counter()
            try:
                result = writer.write(batch)
                break
            except psycopg.OperationalError as exc:
                log.warning("database unavailable (%s); retrying the batch of %d in %.1f s", exc, len(batch), delay_s)
                time.sleep(delay_s)
                delay_s = min(delay_s * 2, 5.0)
                conn.close()
                conn, writer = self._open_writer()
        self._after_commit(batch, result, (time.perf_counter() - started) * 1000)
        return conn, writer

    def _after_commit(self, batch: list[Message], result: BatchResult, latency_ms: float) -> None:
        self._client.ack_many(msg.mid for msg in batch if msg.qos == 1)
        for msg, rejection in result.rejected:
            self._answer(msg, rejection)
        with self._counters_lock:
            self._count(result, latency_ms)

    def _count(self, result: BatchResult, latency_ms: float) -> None:
        c = self.counters
        c.messages += result.messages
        c.readings += result.readings
        c.inserted += result.inserted
        c.rejected += len(result.rejected)
        for _, rejection in result.rejected:
            c.rejected_by_reason[rejection.reason] = c.rejected_by_reason.get(rejection.reason, 0) + 1
        c.redelivered_batches += int(result.redelivered)
        c.batches += 1
        c.last_batch_ms = latency_ms
        if result.readings:
            c.last_commit_s = time.time()
            if c.first_commit_s is None:
                c.first_commit_s = c.last_commit_s
                c.first_readings = result.readings

    def _answer(self, msg: Message, rejection: Rejection) -> None:
        device = msg.decoded.topic
        if device is None or self.config.source is not None:
            return  # no device to answer, or a foreign broker: the dead letter is the answer
        example_topic = device.example_topic
        body = {
            "topic": msg.topic,
            "reason": rejection.reason,
            "sentence": rejection.sentence,
            "field": rejection.field,
            "received_at": msg.received_at.isoformat(),
            "example": {"topic": example_topic, "payload": orjson.loads(EXAMPLE_PAYLOAD)},
        }
        self._client.publish(device.errors_topic, orjson.dumps(body), qos=1)

    def _record_stats(self, conn: psycopg.Connection[tuple[object, ...]]) -> None:
        c = self.counters
        try:
            with conn.transaction():
                conn.execute(
                    queries.INSERT_STATS,
                    (datetime.now(UTC), self.config.client_id, c.messages, c.readings, c.rejected, c.last_batch_ms),
                )
        except psycopg.OperationalError:
            log.warning("could not record ingest stats; database unavailable")

    def _connect_database(self) -> tuple[psycopg.Connection[tuple[object, ...]], Writer]:
        conn = psycopg.connect(self.config.dsn, connect_timeout=5)
        return conn, Writer(conn, auto_register=self.config.auto_register, announce=self.config.announce)

    def _open_writer(self) -> tuple[psycopg.Connection[tuple[object, ...]], Writer]:
        """Connect and prepare a writer, retrying with backoff while the database is away."""
        delay_s = 0.2
        while True:
            try:
                return self._connect_writer()
            except psycopg.OperationalError as exc:
                if self._stop.is_set() and not self._inbox:
                    raise
                log.warning("database unavailable (%s); retrying in %.1f s", exc, delay_s)
                time.sleep(delay_s)
                delay_s = min(delay_s * 2, 5.0)
