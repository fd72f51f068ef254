"""ChirpStack v4 MQTT integration events (JSON marshaler), and v3's ``rx`` for older servers.

v4: topic ``application/{application id}/device/{devEUI}/event/up``; ``deviceInfo`` names
the device (``devEui``, ``deviceName``, ``applicationName``, ``deviceProfileName``); the
codec's output is ``object``; the time is ``time`` (RFC 3339, nanoseconds allowed).
v3: topic ``application/{id}/device/{devEUI}/rx``; ``devEUI``, ``deviceName``,
``applicationName``; the codec output is ``object`` (or ``objectJSON``, a JSON string);
v3 carries no event time, so the reading's time is the first gateway's ``rxInfo[].time``
when present, else the arrival time.
Other events (``join``, ``status``, ``ack``, ``txack``, ``log``, ``location``,
``integration``) carry no readings. A per-profile mapping is chosen by device profile
name, else by application name.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

import orjson

from ingest.adapters._fields import Adapted, Mapping, flatten, measures, no_mapped_fields
from ingest.adapters._json import json_object
from ingest.errors import PayloadError
from ingest.formats._common import parse_time
from ingest.models import Reason

NAME = "chirpstack-v4"
TOPIC_FILTERS = ("application/+/device/+/event/up", "application/+/device/+/rx")
DEFAULT_DEVICE_ID = "{dev_eui}"


def adapt(topic: str, payload: bytes, rules: Mapping, profiles: dict[str, Mapping], tz: tzinfo) -> Adapted | None:
    parts = topic.split("/")
    if len(parts) < 5 or parts[0] != "application" or parts[2] != "device":
        raise PayloadError(
            Reason.BAD_TOPIC,
            f"topic {topic[:120]!r} is not a ChirpStack topic (application/<id>/device/<devEUI>/event/up)",
        )
    if parts[4:] == ["event", "up"]:
        return _v4(parts[3], json_object(payload, "a ChirpStack v4 up event"), rules, profiles)
    if parts[4:] == ["rx"]:
        return _v3(parts[3], json_object(payload, "a ChirpStack v3 rx event"), rules, profiles)
    return None  # join, status, ack, txack, log, location: no readings


def _v4(topic_eui: str, body: dict[str, Any], rules: Mapping, profiles: dict[str, Mapping]) -> Adapted:
    info = body.get("deviceInfo")
    if not isinstance(info, dict):
        raise PayloadError(Reason.NOT_DECODABLE, "up event has no deviceInfo object", "deviceInfo")
    ids = _ids(info.get("devEui") or topic_eui, info.get("deviceName"), info.get("applicationName"))
    time = parse_time(body["time"], "time") if body.get("time") is not None else None
    table = _table(rules, profiles, info.get("deviceProfileName"), info.get("applicationName"))
    return _read(ids, body.get("object"), table, time)


def _v3(topic_eui: str, body: dict[str, Any], rules: Mapping, profiles: dict[str, Mapping]) -> Adapted:
    ids = _ids(body.get("devEUI") or topic_eui, body.get("deviceName"), body.get("applicationName"))
    decoded = body.get("object")
    if decoded is None and isinstance(body.get("objectJSON"), str) and body["objectJSON"]:
        try:
            decoded = orjson.loads(body["objectJSON"])
        except orjson.JSONDecodeError as exc:
            raise PayloadError(Reason.NOT_DECODABLE, f"objectJSON is not JSON: {exc}", "objectJSON") from None
    time = None
    rx = body.get("rxInfo")
    if isinstance(rx, list) and rx and isinstance(rx[0], dict) and rx[0].get("time") is not None:
        time = parse_time(rx[0]["time"], "rxInfo[0].time")
    return _read(ids, decoded, _table(rules, profiles, None, body.get("applicationName")), time)


def _ids(dev_eui: object, name: object, application: object) -> dict[str, str]:
    if not isinstance(dev_eui, str) or not dev_eui:
        raise PayloadError(Reason.NOT_DECODABLE, "the event names no devEui", "deviceInfo.devEui")
    ids = {"dev_eui": dev_eui.lower()}
    if isinstance(name, str) and name:
        ids["device"] = name
    if isinstance(application, str) and application:
        ids["application"] = application
    return ids


def _table(rules: Mapping, profiles: dict[str, Mapping], profile: object, application: object) -> Mapping:
    for key in (profile, application):
        if isinstance(key, str) and key in profiles:
            return {**rules, **profiles[key]}
    return rules


def _read(ids: dict[str, str], decoded: object, table: Mapping, time: Any) -> Adapted:
    if not isinstance(decoded, dict):
        raise PayloadError(
            Reason.NO_READINGS,
            "the event has no decoded object: add a codec to the device profile in ChirpStack "
            "(the raw data bytes alone cannot be read)",
            "object",
        )
    got, ignored = measures(flatten(decoded), table, time, "object")
    if not got:
        raise no_mapped_fields(ignored, "ChirpStack")
    return Adapted(ids, got, ignored)
