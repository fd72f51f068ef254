"""What every payload format yields, and the timestamp rules they share."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import NamedTuple

from ingest.errors import PayloadError
from ingest.models import Reason

# Numbers above this are read as epoch milliseconds rather than seconds (year 5138 in s).
_EPOCH_MS_THRESHOLD = 1e11
# The span a reading's time may have at all, before the (narrower) age and future limits:
# it keeps every later step (UTC conversion, arithmetic, the database) inside the calendar.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


class Measure(NamedTuple):
    """A value as the payload gave it: a metric name of ours, an optional unit and time.

    A named tuple: a message makes one per value, and a frozen dataclass costs five times
    as much to build."""

    metric: str
    value: object
    unit: str | None
    time: datetime | None
    field: str


def parse_time(raw: object, field: str) -> datetime:
    """A payload timestamp as an aware UTC datetime.

    Accepts ISO 8601 text (naive text is read as UTC) and epoch seconds or
    milliseconds as numbers.

    Raises:
        PayloadError: ``bad_timestamp``, naming the field and the value.
    """
    if isinstance(raw, bool):
        raise PayloadError(Reason.BAD_TIMESTAMP, f"{field} = {raw!r} is not a timestamp", field)
    if isinstance(raw, int | float):
        seconds = float(raw)
        if not math.isfinite(seconds):
            raise PayloadError(Reason.BAD_TIMESTAMP, f"{field} = {raw!r} is not a finite epoch time", field)
        if abs(seconds) > _EPOCH_MS_THRESHOLD:
            seconds /= 1000.0
        try:
            parsed = datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise PayloadError(Reason.BAD_TIMESTAMP, f"{field} = {raw!r} is outside the calendar", field) from None
        return in_range(parsed, raw, field)
    if isinstance(raw, str):
        try:
            parsed = datetime.fromisoformat(raw.strip())
        except ValueError:
            raise PayloadError(
                Reason.BAD_TIMESTAMP,
                f"{field} = {raw!r} is not ISO 8601 (e.g. 2026-11-24T09:00:00+09:00) nor epoch seconds",
                field,
            ) from None
        return in_range(parsed, raw, field)
    raise PayloadError(Reason.BAD_TIMESTAMP, f"{field} has type {type(raw).__name__}; expected text or a number", field)


def in_range(parsed: datetime, raw: object, field: str) -> datetime:
    """``parsed`` in UTC (naive read as UTC) if it lies in the supported span.

    Raises:
        PayloadError: ``bad_timestamp`` for a time before 1970 or after 2199, or one whose
            offset takes it off the calendar (``0001-01-01T00:00:00+01:00``).
    """
    try:
        utc = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        utc = None
    if utc is None or not EARLIEST <= utc < LATEST:
        raise PayloadError(
            Reason.BAD_TIMESTAMP,
            f"{field} = {str(raw)[:64]!r} is outside the supported range {EARLIEST:%Y-%m-%d}..{LATEST:%Y-%m-%d} (UTC)",
            field,
        )
    return utc
