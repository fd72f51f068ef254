"""The batch writer against the real database: exactly-once storage and the latest table."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from ingest.decode import decode
from ingest.writer import Message, Writer

pytestmark = pytest.mark.integration


def _messages(device: str, start: datetime, n: int) -> list[Message]:
    now = datetime.now(UTC)
    out = []
    for i in range(n):
        topic = f"city/test/air/{device}"
        body = json.dumps(
            {"time": (start + timedelta(seconds=i)).isoformat(), "metrics": {"pm25_ugm3": i, "pm10_ugm3": 2 * i}}
        )
        out.append(Message(i, 1, topic, body.encode(), now, decode(topic, body.encode(), now)))
    return out


def test_redelivered_batch_is_stored_once_and_new_readings_still_land(
    conn: psycopg.Connection[tuple[object, ...]], dsn: str, unique: str
) -> None:
    device = f"w-{unique}"
    start = datetime.now(UTC) - timedelta(hours=1)
    first = _messages(device, start, 10)
    with psycopg.connect(dsn) as wconn:
        writer = Writer(wconn)
        assert writer.write(first).inserted == 20
        assert writer.redelivered_batches == 0
        again = writer.write(first[5:] + _messages(device, start + timedelta(seconds=10), 5))
        assert again.inserted == 10  # the 5 redelivered messages add nothing, the 5 new ones add 10 readings
        assert writer.redelivered_batches == 1
        within = writer.write(first[:2] + first[:2])
        assert within.inserted == 0
    count = conn.execute(
        "SELECT count(*), count(DISTINCT (metric, time)) FROM readings WHERE device_id = %s", (device,)
    ).fetchone()
    assert count == (30, 30)
    latest = conn.execute(
        "SELECT metric, value FROM latest_readings WHERE device_id = %s ORDER BY metric", (device,)
    ).fetchall()
    assert latest == [("pm10_ugm3", 8.0), ("pm25_ugm3", 4.0)]


def test_older_reading_does_not_overwrite_latest(
    conn: psycopg.Connection[tuple[object, ...]], dsn: str, unique: str
) -> None:
    device = f"w-{unique}"
    now = datetime.now(UTC)
    with psycopg.connect(dsn) as wconn:
        writer = Writer(wconn)
        writer.write(_messages(device, now - timedelta(minutes=1), 1))
        late = _messages(device, now - timedelta(minutes=5), 4)  # arrives later, observed earlier
        writer.write(late)
    row = conn.execute(
        "SELECT time FROM latest_readings WHERE device_id = %s AND metric = 'pm25_ugm3'", (device,)
    ).fetchone()
    assert row == (now - timedelta(minutes=1),)


def test_latest_values_are_each_series_newest_stored_reading(
    conn: psycopg.Connection[tuple[object, ...]], dsn: str, unique: str
) -> None:
    """Messages carrying different sets of metrics, late ones, and ones repeating a stored
    time with another value, in batches: after each batch the latest values are exactly
    each series' newest stored reading (a device's row is replaced whole or merged)."""
    import random

    rng = random.Random(5)
    devices = [f"lv{k}-{unique}" for k in range(3)]
    metrics = ["no2_ppb", "pm10_ugm3", "pm25_ugm3"]
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    now = datetime.now(UTC)
    with psycopg.connect(dsn) as wconn:
        writer = Writer(wconn)
        for step in range(25):
            batch = []
            for k in range(rng.randint(1, 6)):
                device = rng.choice(devices)
                topic = f"city/test/air/{device}"
                # now, again the time of the step before (a tie with what may be stored), or late
                seconds = rng.choice([step * 60, max(0, step - 1) * 60, rng.randint(0, step * 60)])
                when = base + timedelta(seconds=seconds)
                carried = sorted(rng.sample(metrics, rng.randint(1, 3)))
                values = {m: rng.choice([rng.randint(0, 99), rng.random() * 99, -0.0]) for m in carried}
                body = json.dumps({"time": when.isoformat(), "metrics": values})  # exact doubles kept exactly
                batch.append(Message(k, 1, topic, body.encode(), now, decode(topic, body.encode(), now)))
            writer.write(batch)
            latest = conn.execute(
                "SELECT device_id, metric, time, value FROM latest_readings WHERE device_id = ANY(%s) ORDER BY 1, 2",
                (devices,),
            ).fetchall()
            newest = conn.execute(
                """SELECT DISTINCT ON (device_id, metric) device_id, metric, time, value FROM readings
                   WHERE device_id = ANY(%s) ORDER BY device_id, metric, time DESC""",
                (devices,),
            ).fetchall()
            assert latest == newest, f"after batch {step}"
    rows = conn.execute(
        "SELECT metrics, oldest, newest, metric_times FROM latest_values WHERE device_id = ANY(%s)", (devices,)
    ).fetchall()
    for names, oldest, newest, times in rows:
        assert list(names) == sorted(names) and (oldest, newest) == (min(times), max(times))  # type: ignore[call-overload, type-var]


def test_unknown_device_is_refused_when_auto_registration_is_off(
    conn: psycopg.Connection[tuple[object, ...]], dsn: str, unique: str
) -> None:
    device = f"stranger-{unique}"
    with psycopg.connect(dsn) as wconn:
        result = Writer(wconn, auto_register=False).write(
            _messages(device, datetime.now(UTC) - timedelta(minutes=5), 2)
        )
    assert result.inserted == 0
    assert [r.reason for _, r in result.rejected] == ["unknown_device", "unknown_device"]
    assert "not registered" in result.rejected[0][1].sentence
    dead = conn.execute(
        "SELECT count(*) FROM dead_letters WHERE device_id = %s AND reason = 'unknown_device'", (device,)
    )
    assert dead.fetchone() == (2,)
    assert conn.execute("SELECT 1 FROM devices WHERE device_id = %s", (device,)).fetchone() is None
