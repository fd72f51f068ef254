"""Every MQTT topic smartcity speaks, built and parsed here and nowhere else.

Data: ``city/<district>/<kind>/<device>[/<metric>]`` and
``class/<class>/<student>/<device>[/<metric>]``; answers on ``.../<device>/errors``.
Control: ``sim/<district>/scenario`` (state retained under ``/state``),
``sim/<district>/assign/<class>/<student>``, ``class/<class>/<student>/control``
(answers under ``/answer``). Alerts: ``alerts/<district>/<device>/<metric>``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

SCOPES = ("city", "class")
# Fifth segments that carry no readings: answers to devices and commands to them.
SERVICE_SUFFIXES = frozenset({"errors", "control", "status", "ack"})
# Names a student may not take: the fourth segment of their own service topics.
RESERVED_NAMES = frozenset({"teacher", *SERVICE_SUFFIXES})
INGEST_SUBSCRIPTIONS = ("city/#", "class/#")
CITY_ALL = "city/#"
ALERTS_ALL = "alerts/#"
SIM_ALL = "sim/#"
CONTROL_REQUESTS = "class/+/+/control"
CONTROL_ANSWERS = "class/+/+/control/answer"

CITY_EXAMPLE = "city/goyang/air/aq-0001"
CLASS_EXAMPLE = "class/aiot-2026/student01/esp32-1"
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


class TopicError(ValueError):
    """A topic that is not one of smartcity's; the message names the wrong segment."""


@dataclass(frozen=True, slots=True)
class DeviceTopic:
    """Who a message is from, read off its topic (the topic is authoritative).

    ``scope`` is ``city`` or ``class`` (or ``adapter``, for a device read through a
    configured source); ``group`` the district or class; ``owner`` the device kind (city,
    adapter) or student (class); ``name`` the device segment of the topic;
    ``metric`` is set for per-metric topics.
    """

    scope: str
    group: str
    owner: str
    name: str
    metric: str | None = None

    @property
    def device_id(self) -> str:
        """The id readings are stored under. A student's device lives in its namespace,
        ``<class>/<student>/<name>``: no topic segment holds a ``/``, so it can never be
        a city device's id nor a classmate's."""
        if self.scope == "class":
            return class_namespace(self.group, self.owner) + self.name
        return self.name

    @property
    def errors_topic(self) -> str:
        return f"{self.scope}/{self.group}/{self.owner}/{self.name}/errors"

    @property
    def kind(self) -> str:
        return "student" if self.scope == "class" else self.owner

    @property
    def example_topic(self) -> str:
        """A data topic this sender may use, for answers that show how."""
        return class_topic(self.group, self.owner, self.name) if self.scope == "class" else CITY_EXAMPLE


@functools.lru_cache(maxsize=65536)  # devices repeat their topics; results are immutable
def parse_topic(topic: str) -> DeviceTopic | None:
    """The device a data topic belongs to; None for service topics (``.../errors``).

    Raises:
        TopicError: naming the segment that is wrong.
    """
    parts = topic.split("/")
    if len(parts) not in (4, 5) or parts[0] not in SCOPES:
        raise TopicError(
            f"topic {topic!r} is not city/<district>/<kind>/<device_id>[/<metric>] "
            f"or class/<class>/<student>/<device_id>[/<metric>] (e.g. {CITY_EXAMPLE})"
        )
    if len(parts) == 5 and parts[4] in SERVICE_SUFFIXES:
        return None
    if parts[0] == "class" and parts[3] in SERVICE_SUFFIXES:
        return None  # a student's own service topics: class/<class>/<student>/control[/...]
    names = ("scope", "district or class", "kind or student", "device_id", "metric")
    for name, part in zip(names[1:], parts[1:], strict=False):
        if not _SEGMENT.match(part):
            raise TopicError(f"topic segment {name} = {part!r} must be 1-64 letters, digits, '_', '.' or '-'")
    return DeviceTopic(parts[0], parts[1], parts[2], parts[3], parts[4] if len(parts) == 5 else None)


def city_topic(district: str, kind: str, device_id: str) -> str:
    return f"city/{district}/{kind}/{device_id}"


def class_topic(class_id: str, student: str, device: str = "<device_id>") -> str:
    return f"class/{class_id}/{student}/{device}"


def class_namespace(class_id: str, student: str) -> str:
    """The prefix of a student's stored device ids (and of their topics' fourth segment on)."""
    return f"{class_id}/{student}/"


def class_filter(class_id: str, student: str | None = None) -> str:
    """A subscription filter for one student's topics, or a whole class's."""
    return f"class/{class_id}/{student}/#" if student else f"class/{class_id}/#"


def control_topic(class_id: str, student: str) -> str:
    return f"class/{class_id}/{student}/control"


def control_answer_topic(class_id: str, student: str) -> str:
    return control_topic(class_id, student) + "/answer"


def scenario_topic(district: str) -> str:
    """Where a teacher or the exhibit asks for a scenario."""
    return f"sim/{district}/scenario"


def scenario_state_topic(district: str) -> str:
    """The simulator's retained answer: the scenario now playing."""
    return scenario_topic(district) + "/state"


def assign_topic(district: str, class_id: str = "+", student: str = "+") -> str:
    """Which student drives which simulated sensor (retained); ``+`` for a filter."""
    return f"sim/{district}/assign/{class_id}/{student}"


def assign_filter(district: str) -> str:
    return f"sim/{district}/assign/#"


def alerts_topic(district: str, device_id: str, metric: str) -> str:
    return f"alerts/{district}/{device_id}/{metric}"


def district_filter(district: str) -> str:
    return f"city/{district}/#"


# -- OGC SensorThings MQTT extension (read): new Observations, as ingest commits them --------
STA_VERSION = "v1.1"
STA_OBSERVATIONS = f"{STA_VERSION}/Observations"  # every new city Observation (class ones never)
# A city Datastream's id holds no '/', so this filter reaches city series only: class ids
# (``<class>/<student>/<name>``) add topic levels, which the class filters below reach.
STA_CITY_DATASTREAMS = f"{STA_VERSION}/+/Observations"
# The database channel ingest announces committed readings on (LISTEN/NOTIFY), and the
# application name a listener connects with: ingest announces only while one is connected.
READINGS_CHANNEL = "smartcity_readings"
READINGS_LISTENER = "smartcity-readings-listener"


def sta_datastream_id(device_id: str, metric: str) -> str:
    return f"{device_id}:{metric}"


def sta_observations_topic(device_id: str, metric: str) -> str:
    """``v1.1/Datastreams('<device>:<metric>')/Observations``: a Datastream's new Observations."""
    quoted = sta_datastream_id(device_id, metric).replace("'", "''")
    return f"{STA_VERSION}/Datastreams('{quoted}')/Observations"


def sta_class_filter(class_id: str, student: str | None = None) -> str:
    """The SensorThings topics of one student's Datastreams, or a whole class's."""
    return f"{STA_VERSION}/Datastreams('{class_namespace(class_id, student) if student else class_id + '/'}#"


def is_class_device_id(device_id: str) -> bool:
    """A class device's stored id (``<class>/<student>/<name>``); city and adapter ids hold no '/'."""
    return "/" in device_id
