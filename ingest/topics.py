"""Topic layout: ``city/<district>/<kind>/<device_id>[/<metric>]`` and
``class/<class>/<student>/<device_id>[/<metric>]``.

The device named in the topic is the only device a message can write for.
"""

from __future__ import annotations

import functools
import re

from ingest.errors import PayloadError
from ingest.models import DeviceTopic, Reason

_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
SCOPES = ("city", "class")
# Fifth segments that carry no readings: answers to devices and commands to them.
SERVICE_SUFFIXES = frozenset({"errors", "control", "status", "ack"})

CITY_EXAMPLE = "city/goyang/air/aq-0001"
CLASS_EXAMPLE = "class/aiot-2026/student01/esp32-1"


@functools.lru_cache(maxsize=65536)  # devices repeat their topics; results are immutable
def parse_topic(topic: str) -> DeviceTopic | None:
    """The device a data topic belongs to; None for service topics (``.../errors``).

    Raises:
        PayloadError: with reason ``bad_topic`` naming the segment that is wrong.
    """
    parts = topic.split("/")
    if len(parts) not in (4, 5) or parts[0] not in SCOPES:
        raise PayloadError(
            Reason.BAD_TOPIC,
            f"topic {topic!r} is not city/<district>/<kind>/<device_id>[/<metric>] "
            f"or class/<class>/<student>/<device_id>[/<metric>] (e.g. {CITY_EXAMPLE})",
            "topic",
        )
    if len(parts) == 5 and parts[4] in SERVICE_SUFFIXES:
        return None
    if parts[0] == "class" and parts[3] in SERVICE_SUFFIXES:
        return None  # a student's own service topics: class/<class>/<student>/control[/...]
    names = ("scope", "district or class", "kind or student", "device_id", "metric")
    for name, part in zip(names[1:], parts[1:], strict=False):
        if not _SEGMENT.match(part):
            raise PayloadError(
                Reason.BAD_TOPIC,
                f"topic segment {name} = {part!r} must be 1-64 letters, digits, '_', '.' or '-'",
                "topic",
            )
    return DeviceTopic(
        scope=parts[0],
        group=parts[1],
        owner=parts[2],
        name=parts[3],
        metric=parts[4] if len(parts) == 5 else None,
    )
