"""PostgreSQL's binary COPY format for the rollup log's rows and the latest values, encoded
with ``struct``.

psycopg dumps array values element by element in Python, which made the log of a batch's
aggregates cost more than the batch's readings; the rows here are packed whole. The format
is PostgreSQL's own (``COPY ... (FORMAT BINARY)``): a header, then per row the field
count and each field as its byte length and its value in network order (an array: its
dimensions, element type and each element with its length), then a trailer.
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache
from typing import Any

HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
TRAILER = b"\xff\xff"
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # binary timestamps count microseconds from here
_MICROSECOND = timedelta(microseconds=1)
TEXT_OID, INT4_OID, FLOAT8_OID, TIMESTAMPTZ_OID = 25, 23, 701, 1184  # the element types' ids
_FIELDS = struct.Struct(">h")
_LENGTH = struct.Struct(">i")
_TIME_AND_LATE = struct.Struct(">iqii")  # hour (8 bytes), late (4 bytes)
_ARRAY_HEAD = struct.Struct(">i5i")  # the field's length, then ndim, flags, element type, count, lower bound


def microseconds(when: datetime) -> int:
    """``when`` as PostgreSQL's binary timestamptz: microseconds since 2000-01-01 UTC, exactly."""
    return (when - _EPOCH) // _MICROSECOND


@lru_cache(maxsize=256)
def _text_array(items: tuple[str, ...]) -> bytes:
    """A text[] field (length, head, elements): a batch's devices mostly report one set of metrics."""
    names = [i.encode() for i in items]
    head = _ARRAY_HEAD.pack(20 + sum(4 + len(b) for b in names), 1, 0, TEXT_OID, len(names), 1)
    return head + b"".join(_LENGTH.pack(len(b)) + b for b in names)


@cache
def _numbers(count: int) -> struct.Struct:
    """The n, sum, min, max, last and last_time arrays of ``count`` metrics, heads included."""
    array = ">i5i"
    return struct.Struct(
        array + "ii" * count  # n: int4
        + (array[1:] + "id" * count) * 4  # sum, min, max, last: float8
        + array[1:] + "iq" * count  # last_time: timestamptz
    )  # fmt: skip


# (device_id, UTC hour) -> [late readings, {metric: [n, sum, min, max, last, last_time]}]
HourAggregates = dict[tuple[str, datetime], list[Any]]


def rollup_deltas(aggregates: HourAggregates) -> bytes:
    """COPY's binary payload for ``rollup_log (device_id, hour, late, metrics, n, sum, min,
    max, last, last_time)``: a row per (device, hour), one array element a metric."""
    out = [HEADER]
    times: dict[datetime, int] = {}  # a message's readings share their time: converted once
    for (device, hour), (late, metrics) in aggregates.items():
        count = len(metrics)
        device_bytes = device.encode()
        out.append(_FIELDS.pack(10) + _LENGTH.pack(len(device_bytes)) + device_bytes)
        out.append(_TIME_AND_LATE.pack(8, microseconds(hour), 4, late))
        out.append(_text_array(tuple(metrics)))
        slots = list(metrics.values())
        floats = 20 + 12 * count
        values: list[float | int] = [20 + 8 * count, 1, 0, INT4_OID, count, 1]
        for slot in slots:
            values += (4, slot[0])
        for column in (1, 2, 3, 4):  # sum, min, max, last
            values += (floats, 1, 0, FLOAT8_OID, count, 1)
            for slot in slots:
                values += (8, slot[column])
        values += (floats, 1, 0, TIMESTAMPTZ_OID, count, 1)
        for slot in slots:
            when = slot[5]
            stamp = times.get(when)
            if stamp is None:
                stamp = times[when] = microseconds(when)
            values += (8, stamp)
        out.append(_numbers(count).pack(*values))
    out.append(TRAILER)
    return b"".join(out)


@cache
def _latest(count: int) -> struct.Struct:
    """The metric_times and metric_values arrays of ``count`` metrics, then oldest and newest."""
    return struct.Struct(">i5i" + "iq" * count + "i5i" + "id" * count + "iqiq")


# device_id -> {metric: (time, value)}: a batch's newest value of each series
LatestValues = dict[str, dict[str, tuple[datetime, float]]]


def latest_rows(latest: LatestValues) -> bytes:
    """COPY's binary payload for ``ingest_latest (device_id, metrics, metric_times,
    metric_values, oldest, newest)``: a row per device, its metrics sorted."""
    out = [HEADER]
    times: dict[datetime, int] = {}
    for device, series in latest.items():
        names = tuple(sorted(series))
        count = len(names)
        device_bytes = device.encode()
        out.append(_FIELDS.pack(6) + _LENGTH.pack(len(device_bytes)) + device_bytes)
        out.append(_text_array(names))
        stamps = []
        for name in names:
            when = series[name][0]
            stamp = times.get(when)
            if stamp is None:
                stamp = times[when] = microseconds(when)
            stamps.append(stamp)
        values: list[float | int] = [20 + 12 * count, 1, 0, TIMESTAMPTZ_OID, count, 1]
        for stamp in stamps:
            values += (8, stamp)
        values += (20 + 12 * count, 1, 0, FLOAT8_OID, count, 1)
        for name in names:
            values += (8, series[name][1])
        values += (8, min(stamps), 8, max(stamps))
        out.append(_latest(count).pack(*values))
    out.append(TRAILER)
    return b"".join(out)
