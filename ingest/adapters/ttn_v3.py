"""The Things Stack v3 (The Things Network, TTI): uplink messages of its MQTT integration.

Topic ``v3/{application id}@{tenant id}/devices/{device id}/up``; the body names the device
in ``end_device_ids`` (``device_id``, ``dev_eui``, ``application_ids.application_id``) and
carries the payload formatter's output in ``uplink_message.decoded_payload``. The time is
``uplink_message.received_at`` (the network server's), else the top-level ``received_at``.
Other message types (``join``, ``down/*``, ``service/data``, ``location/solved``) carry
no readings. A message without ``decoded_payload`` (no payload formatter configured) is
refused: the raw ``frm_payload`` bytes mean nothing without the device's codec.
"""

from __future__ import annotations

from datetime import tzinfo

from ingest.adapters._fields import Adapted, Mapping, flatten, measures, no_mapped_fields
from ingest.adapters._json import json_object, obj, text
from ingest.errors import PayloadError
from ingest.formats._common import parse_time
from ingest.models import Reason

NAME = "ttn-v3"
TOPIC_FILTERS = ("v3/+/devices/+/up",)
DEFAULT_DEVICE_ID = "{device}"


def adapt(topic: str, payload: bytes, rules: Mapping, profiles: dict[str, Mapping], tz: tzinfo) -> Adapted | None:
    parts = topic.split("/")
    if len(parts) < 5 or parts[0] != "v3" or parts[2] != "devices":
        raise PayloadError(
            Reason.BAD_TOPIC,
            f"topic {topic[:120]!r} is not a The Things Stack v3 topic (v3/<app>@<tenant>/devices/<id>/up)",
        )
    if parts[4:] != ["up"]:
        return None  # join, downlink and service events carry no readings
    body = json_object(payload, "a The Things Stack uplink")
    ids = obj(body, "end_device_ids", "uplink")
    uplink = obj(body, "uplink_message", "uplink")
    raw_application = ids.get("application_ids")
    application: dict[str, object] = raw_application if isinstance(raw_application, dict) else {}
    found = {"device": text(ids, "device_id", "end_device_ids")}
    for key, value in (("dev_eui", ids.get("dev_eui")), ("application", application.get("application_id"))):
        if isinstance(value, str) and value:
            found[key] = value.lower() if key == "dev_eui" else value
    raw_time = uplink.get("received_at", body.get("received_at"))
    time = parse_time(raw_time, "uplink_message.received_at") if raw_time is not None else None
    decoded = uplink.get("decoded_payload")
    if not isinstance(decoded, dict):
        raise PayloadError(
            Reason.NO_READINGS,
            "uplink_message has no decoded_payload: configure a payload formatter for this device or "
            "application in The Things Stack (frm_payload alone cannot be read)",
            "uplink_message.decoded_payload",
        )
    profile = profiles.get(found.get("application", ""))
    table = {**rules, **profile} if profile else rules
    got, ignored = measures(flatten(decoded), table, time, "decoded_payload")
    if not got:
        raise no_mapped_fields(ignored, "The Things Stack uplink")
    return Adapted(found, got, ignored)
