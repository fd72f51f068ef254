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

import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import psycopg

from contract import READINGS_CHANNEL, READINGS_LISTENER
from ingest import _pgbinary, announce, queries
from ingest.models import Decoded, Reading, Reason, Rejection

log = logging.getLogger(__name__)

# Dead letters keep at most this much of a payload (the size is kept in full).
DEAD_LETTER_PAYLOAD_BYTES = 65536
# Text columns of a dead letter keep at most this many characters.
DEAD_LETTER_TEXT_CHARS = 2000


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


LISTENER_CHECK_S = 1.0
ONE_HOUR = timedelta(hours=1)
LATE_AFTER = timedelta(minutes=10)  # a reading arriving this long after its time counts as late


class Writer:
    """Writes batches on one connection. Not thread-safe: one writer per thread.

    Args:
        conn: an open connection (autocommit off).
        auto_register: store readings of devices not in ``devices`` and register them;
            when False such messages are rejected with ``unknown_device``.
        announce: notify committed readings on the readings channel (the SensorThings
            MQTT bridge listens), in the same transaction.
    """

    def __init__(
        self, conn: psycopg.Connection[tuple[object, ...]], *, auto_register: bool = True, announce: bool = False
    ) -> None:
        self._conn = conn
        self._auto_register = auto_register
        self._announce = announce
        self._listened = False  # announcing costs a third of a batch: only while a listener is connected
        self._listened_checked_at = -1e9
        self._known: set[str] = set()
        self.redelivered_batches = 0
        conn.execute(queries.CREATE_STAGING)
        conn.execute(queries.CREATE_LATEST_STAGING)
        self._known.update(str(row[0]) for row in conn.execute(queries.KNOWN_DEVICES))
        conn.commit()
        self.rebuilt_latest = rebuild_latest_if_lost(conn)

    def refresh_devices(self) -> None:
        """Re-read the device registry (devices registered by other processes)."""
        self._known.update(str(row[0]) for row in self._conn.execute(queries.KNOWN_DEVICES))
        self._conn.commit()

    def write(self, messages: Sequence[Message]) -> BatchResult:
        """Store a batch in one transaction; every message is stored or dead-lettered.

        When the database refuses the batch for anything but a lost connection (a value
        it will not take, a bug of ours), the batch is written again message by message,
        each in its own savepoint, and a message the database still refuses becomes a
        dead letter with the database's words: one bad message never stops the stream
        and is never retried in a loop.

        Raises:
            psycopg.OperationalError: the database is unreachable; nothing was committed.
        """
        try:
            return self._write_batch(messages)
        except psycopg.OperationalError:
            raise
        except (psycopg.Error, ValueError, TypeError, OverflowError) as exc:
            if self._conn.broken:
                raise psycopg.OperationalError(f"connection lost while writing: {exc}") from exc
            return self._write_one_by_one(messages)

    def _write_one_by_one(self, messages: Sequence[Message]) -> BatchResult:
        total = BatchResult(messages=len(messages))
        with self._conn.transaction():
            for msg in messages:
                try:
                    with self._conn.transaction():  # a savepoint per message
                        one = self._write_batch([msg], outer=False)
                except psycopg.OperationalError:
                    raise
                except (psycopg.Error, ValueError, TypeError, OverflowError) as exc:
                    refusal = Rejection(
                        str(Reason.NOT_STORABLE),
                        f"the database refused this message: {type(exc).__name__}: {exc}",
                        None,
                    )
                    one = BatchResult(messages=1, rejected=[(msg, refusal)])
                    self._dead_letters(one.rejected)
                # ON COMMIT DELETE ROWS waits for the end: one message's rows must not meet the next's
                self._conn.execute(queries.CLEAR_STAGING)
                self._conn.execute(queries.CLEAR_LATEST_STAGING)
                total.readings += one.readings
                total.inserted += one.inserted
                total.redelivered |= one.redelivered
                total.rejected.extend(one.rejected)
        return total

    def _write_batch(self, messages: Sequence[Message], *, outer: bool = True) -> BatchResult:
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
        with self._conn.transaction() if outer else contextlib.nullcontext():
            if new_devices:
                with self._conn.cursor() as cur:
                    # in id order: two writers registering the same new devices cannot deadlock
                    cur.executemany(queries.REGISTER_DEVICE, [row for _, row in sorted(new_devices.items())])
            if readings:
                before = self.redelivered_batches
                result.inserted = self._insert(readings)
                result.redelivered = self.redelivered_batches > before
                self._upsert_latest(readings)
                received_at = min(m.received_at for m in messages)
                if result.redelivered:  # which readings were new: recompute their hours from the table
                    self._log_touched_hours(messages, received_at)
                else:
                    self._log_deltas(messages, received_at)
                if self._announce and self._someone_listens():
                    self._conn.execute(queries.ANNOUNCE_READINGS, (READINGS_CHANNEL, announce.payloads(readings)))
            if result.rejected:
                self._dead_letters(result.rejected)
        self._known.update(new_devices)
        return result

    def _dead_letters(self, rejected: list[tuple[Message, Rejection]]) -> None:
        rows = [
            (
                msg.received_at,
                safe_text(msg.topic),
                safe_text(msg.decoded.topic.device_id) if msg.decoded.topic else None,
                msg.payload[:DEAD_LETTER_PAYLOAD_BYTES],
                len(msg.payload),
                safe_text(rejection.reason),
                safe_text(rejection.sentence),
            )
            for msg, rejection in rejected
        ]
        # COPY: a flood of refused messages (a broken fleet, a fuzzer) is written as fast as readings
        with self._conn.cursor() as cur, cur.copy(queries.COPY_DEAD_LETTERS) as copy:
            copy.set_types(queries.DEAD_LETTER_TYPES)
            for row in rows:
                copy.write_row(row)

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

    def _someone_listens(self) -> bool:
        """Whether a listener (the SensorThings MQTT bridge) is connected; asked once a second."""
        now = time.monotonic()
        if now - self._listened_checked_at >= LISTENER_CHECK_S:
            found = self._conn.execute(queries.READINGS_LISTENED, (READINGS_LISTENER,)).fetchone()
            self._listened = bool(found and found[0])
            self._listened_checked_at = now
        return self._listened

    def _log_touched_hours(self, messages: Sequence[Message], received_at: datetime) -> None:
        """Which (device, hour) this batch changed, so every metric of those hours is
        recomputed, with how many of its readings came late (completeness counts them)."""
        touched = _hour_aggregates(messages, received_at)
        with self._conn.cursor() as cur, cur.copy(queries.COPY_TOUCHED_HOURS) as copy:
            copy.set_types(queries.TOUCHED_TYPES)
            for (device, hour), (late, _metrics) in touched.items():
                copy.write_row((device, hour, late))

    def _log_deltas(self, messages: Sequence[Message], received_at: datetime) -> None:
        """Every reading of the batch was stored: its aggregates per (device, hour), a
        metric an element, for the rollups to merge (no reading is read back from the table)."""
        payload = _pgbinary.rollup_deltas(_hour_aggregates(messages, received_at))
        with self._conn.cursor() as cur, cur.copy(queries.COPY_ROLLUP_DELTAS) as copy:
            copy.write(payload)

    def _upsert_latest(self, readings: list[Reading]) -> None:
        latest: _pgbinary.LatestValues = {}
        for r in readings:
            series = latest.get(r.device_id)
            if series is None:
                series = latest[r.device_id] = {}
            seen = series.get(r.metric)
            if seen is None or seen[0] < r.time:  # on a tie the first stays: it is the one stored
                series[r.metric] = (r.time, r.value)
        with self._conn.cursor() as cur:
            with cur.copy(queries.COPY_LATEST) as copy:
                copy.write(_pgbinary.latest_rows(latest))
            cur.execute(queries.UPSERT_LATEST)


def _hour_aggregates(messages: Sequence[Message], received_at: datetime) -> _pgbinary.HourAggregates:
    """The batch's readings aggregated per (device, UTC hour): how many came over 10 min
    late and, per metric, count, sum, min, max, the newest value and its time. Walked per
    message: a message is one device's, and its readings mostly share one time and hour."""
    late_before = received_at - LATE_AFTER
    out: _pgbinary.HourAggregates = {}
    hour = end = received_at  # the hour last seen: most readings of a batch fall in one
    for msg in messages:
        readings = msg.decoded.readings
        if not readings or msg.decoded.rejection is not None:
            continue
        entry = None
        for r in readings:
            when = r.time
            if not hour <= when < end:
                hour = when.replace(minute=0, second=0, microsecond=0)
                end = hour + ONE_HOUR
                entry = None
            if entry is None:
                key = (r.device_id, hour)
                entry = out.get(key)
                if entry is None:
                    entry = out[key] = [0, {}]
            if when < late_before:
                entry[0] += 1
            value = r.value
            metrics = entry[1]
            seen = metrics.get(r.metric)
            if seen is None:
                metrics[r.metric] = [1, value, value, value, value, when]
                continue
            seen[0] += 1
            seen[1] += value
            seen[2] = min(seen[2], value)
            seen[3] = max(seen[3], value)
            if when > seen[5]:
                seen[4], seen[5] = value, when
    return out


def rebuild_latest_if_lost(conn: psycopg.Connection[tuple[object, ...]]) -> int:
    """Rebuild the latest-value table when a database crash emptied it (it is unlogged);
    returns the devices rebuilt (0: nothing was lost). Called before a writer's first batch."""
    with conn.transaction():
        found = conn.execute(queries.LATEST_LOST).fetchone()
        if not (found and found[1]):
            return 0
        conn.execute(queries.STAGE_LATEST_KEPT)
        rows = conn.execute(queries.UPSERT_LATEST).rowcount
    log.warning("a database crash emptied the latest values; %d devices' rebuilt from the rollups and readings", rows)
    return rows


def _copy(cur: psycopg.Cursor[tuple[object, ...]], statement: str, readings: list[Reading]) -> None:
    with cur.copy(statement) as copy:
        copy.set_types(queries.READING_TYPES)
        for r in readings:
            copy.write_row(r)  # a Reading is the row: (time, device_id, metric, value)


def safe_text(text: str) -> str:
    """``text`` as PostgreSQL's text type takes it: no NUL, no lone surrogate, bounded.

    NUL (which PostgreSQL text cannot hold) becomes the visible ``\\x00``; anything
    UTF-8 cannot encode becomes its backslash escape.
    """
    cleaned = text.replace("\x00", "\\x00")
    if len(cleaned) > DEAD_LETTER_TEXT_CHARS:
        cleaned = cleaned[:DEAD_LETTER_TEXT_CHARS] + "…"
    try:
        cleaned.encode("utf-8")
    except UnicodeEncodeError:
        cleaned = cleaned.encode("utf-8", "backslashreplace").decode("utf-8")
    return cleaned
