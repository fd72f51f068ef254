"""Committed readings as database notifications: what the SensorThings MQTT bridge (and
anything else that LISTENs) hears, sent inside the commit's transaction so a reading is
announced if and only if it was committed. Pure: readings in, payloads out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import orjson

from ingest.models import Reading

MAX_NOTIFY_BYTES = 7_900  # PostgreSQL's payload limit is 8000 bytes
_CHUNK = 48  # readings per payload to start with; halved while a payload is too long
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def payloads(readings: Sequence[Reading]) -> list[str]:
    """JSON arrays of ``[device_id, metric, epoch microseconds, value]``, each under the limit."""
    rows = [[r.device_id, r.metric, (r.time - _EPOCH) // _MICROSECOND, r.value] for r in readings]
    out: list[str] = []
    pending = [rows[i : i + _CHUNK] for i in range(0, len(rows), _CHUNK)]
    while pending:
        chunk = pending.pop()
        text = orjson.dumps(chunk).decode()
        if len(text) <= MAX_NOTIFY_BYTES or len(chunk) == 1:
            if len(text) <= MAX_NOTIFY_BYTES:
                out.append(text)
            continue  # one reading too long to announce (ids are capped far below): stored, not announced
        half = len(chunk) // 2
        pending += [chunk[half:], chunk[:half]]
    return out
