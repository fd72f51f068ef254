"""Write a batch of decoded messages to TimescaleDB in one transaction.

Readings go straight into the hypertable with binary COPY. When that collides with a
stored reading (a message the broker delivered again after a crash), the batch takes
the slower path: COPY into a temporary staging table, then ``INSERT ... ON CONFLICT DO
NOTHING``. Either way a message delivered twice is stored once. The latest-value
table, auto-registered devices and dead letters are written in the same transaction:
after commit, every message of the batch is either stored or kept as a dead letter,
and only then may the caller acknowledge it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import psycopg

from ingest import queries
from ingest.models import Decoded, Reading, Reason, Rejection

# Dead letters keep at most this much of a payload (the size is kept in full).
DEAD_LETTER_PAYLOAD_BYTES = 65536


@dataclass(slots=True)
class Message:
    """One received MQTT message and what decoding made of it."""

    mid: int
    qos: int
    topic: str
    payload: bytes
    received_at: datetime
    decoded: Decoded


@dataclass(slots=True)
class BatchResult:
    messages: int = 0
    readings: int = 0
    inserted: int = 0
    redelivered: bool = False
    rejected: list[tuple[Message, Rejection]] = field(default_factory=list)


class Writer:
    """Writes batches on one connection. Not thread-safe: one writer per thread.

    Args:
        conn: an open connection (autocommit off).
        auto_register: store readings of devices not in ``devices`` and register them;
            when False such messages are rejected with ``unknown_device``.
    """

    def __init__(self, conn: psycopg.Connection[tuple[object, ...]], *, auto_register: bool = True) -> None:
        self._conn = conn
        self._auto_register = auto_register
        self._known: set[str] = set()
        self.redelivered_batches = 0
        conn.execute(queries.CREATE_STAGING)
        conn.execute(queries.CREATE_LATEST_STAGING)
        self._known.update(str(row[0]) for row in conn.execute(queries.KNOWN_DEVICES))
        conn.commit()

    def refresh_devices(self) -> None:
        """Re-read the device registry (devices registered by other processes)."""
        self._known.update(str(row[0]) for row in self._conn.execute(queries.KNOWN_DEVICES))
        self._conn.commit()

    def write(self, messages: Sequence[Message]) -> BatchResult:
        """Store a batch in one transaction. Raises psycopg errors; nothing is committed then."""
        result = BatchResult(messages=len(messages))
        readings: list[Reading] = []
        new_devices: dict[str, tuple[str, str, str, str, str | None]] = {}
        for msg in messages:
            decoded = msg.decoded
            if decoded.rejection is not None:
                result.rejected.append((msg, decoded.rejection))
                continue
            device = decoded.topic
            if device is None:
                continue
            if device.device_id not in self._known:
                if not self._auto_register:
                    result.rejected.append(
                        (
                            msg,
                            Rejection(
                                str(Reason.UNKNOWN_DEVICE),
                                f"device {device.device_id!r} is not registered; ask the operator to add it",
                                "topic",
                            ),
                        )
                    )
                    continue
                owner = device.owner if device.scope == "class" else None
                new_devices[device.device_id] = (device.device_id, device.kind, device.group, device.scope, owner)
            readings.extend(decoded.readings)
        result.readings = len(readings)
        with self._conn.transaction():
            if new_devices:
                with self._conn.cursor() as cur:
                    cur.executemany(queries.REGISTER_DEVICE, list(new_devices.values()))
            if readings:
                before = self.redelivered_batches
                result.inserted = self._insert(readings)
                result.redelivered = self.redelivered_batches > before
                self._upsert_latest(readings)
            if result.rejected:
                with self._conn.cursor() as cur:
                    cur.executemany(
                        queries.INSERT_DEAD_LETTER,
                        [
                            (
                                msg.received_at,
                                msg.topic,
                                msg.decoded.topic.device_id if msg.decoded.topic else None,
                                msg.payload[:DEAD_LETTER_PAYLOAD_BYTES],
                                len(msg.payload),
                                rejection.reason,
                                rejection.sentence,
                            )
                            for msg, rejection in result.rejected
                        ],
                    )
        self._known.update(new_devices)
        return result

    def _insert(self, readings: list[Reading]) -> int:
        """Store readings inside the caller's transaction; returns how many were new."""
        try:
            with self._conn.transaction(), self._conn.cursor() as cur:  # a savepoint
                _copy(cur, queries.COPY_READINGS, readings)
            return len(readings)
        except psycopg.errors.UniqueViolation:
            self.redelivered_batches += 1
        with self._conn.cursor() as cur:
            _copy(cur, queries.COPY_STAGING, readings)
            cur.execute(queries.INSERT_READINGS)
            inserted = cur.rowcount
        return inserted

    def _upsert_latest(self, readings: list[Reading]) -> None:
        latest: dict[tuple[str, str], Reading] = {}
        for r in readings:
            key = (r.device_id, r.metric)
            seen = latest.get(key)
            if seen is None or seen.time < r.time:
                latest[key] = r
        with self._conn.cursor() as cur:
            _copy(cur, queries.COPY_LATEST, list(latest.values()))
            cur.execute(queries.UPSERT_LATEST)


def _copy(cur: psycopg.Cursor[tuple[object, ...]], statement: str, readings: list[Reading]) -> None:
    with cur.copy(statement) as copy:
        copy.set_types(queries.READING_TYPES)
        for r in readings:
            copy.write_row(r)  # a Reading is the row: (time, device_id, metric, value)
