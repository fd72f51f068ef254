"""The values ingest passes around: readings, rejections and parsed topics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

from contract.topics import DeviceTopic

__all__ = ["Decoded", "DeviceTopic", "Reading", "Reason", "Rejection"]


class Reason(StrEnum):
    """Why a message was rejected. Stable codes: dashboards and devices match on them."""

    TOO_LARGE = "payload_too_large"
    BAD_TOPIC = "bad_topic"
    NOT_DECODABLE = "not_decodable"
    UNKNOWN_METRIC = "unknown_metric"
    UNIT_NOT_CONVERTIBLE = "unit_not_convertible"
    NOT_FINITE = "value_not_finite"
    OUT_OF_RANGE = "value_out_of_range"
    TIME_IN_FUTURE = "timestamp_in_future"
    TIME_TOO_OLD = "timestamp_too_old"
    BAD_TIMESTAMP = "bad_timestamp"
    UNKNOWN_DEVICE = "unknown_device"
    NO_READINGS = "no_readings"
    RATE_LIMITED = "rate_limited"
    ACCOUNT_INACTIVE = "account_inactive"
    TOO_MANY_DEVICES = "too_many_devices"
    DUPLICATE_READING = "duplicate_reading"  # two values for one (metric, time) in one message
    SEVERAL_DEVICES = "several_devices"  # a message naming devices besides its topic's
    NOT_STORABLE = "not_storable"  # the database refused it; kept as a dead letter
    INTERNAL_ERROR = "internal_error"  # a bug of ours; kept as a dead letter to replay


class Reading(NamedTuple):
    """One value of one metric of one device at one time (UTC).

    A named tuple: ingest makes one per value, and its field order is the row order
    binary COPY writes.
    """

    time: datetime
    device_id: str
    metric: str
    value: float


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a message was refused: a reason code, a sentence for people, the offending field."""

    reason: str
    sentence: str
    field: str | None = None


class Decoded(NamedTuple):
    """What one message yields: readings, or a rejection; never both."""

    topic: DeviceTopic | None
    readings: tuple[Reading, ...] | list[Reading] = ()
    rejection: Rejection | None = None
    ignored: tuple[str, ...] = ()
