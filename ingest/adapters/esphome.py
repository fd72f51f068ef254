"""ESPHome's MQTT component with its default state topics.

``<topic_prefix>/<component>/<object_id>/state``, where the prefix is the node's name
unless ``mqtt: topic_prefix`` says otherwise (it may hold slashes); the payload is the
state as text: a number for a ``sensor`` (``nan`` when it has none, refused as not
finite), ``ON``/``OFF`` for a ``binary_sensor`` or ``switch``; a ``light`` publishes JSON
(``{"state": "ON", ...}``) and only its ``state`` is read. The device is the prefix;
rules are keyed by ``object_id`` or ``component/object_id`` (a per-node table by the
node's name wins). ``<prefix>/status``, ``debug`` and command topics carry no readings.
"""

from __future__ import annotations

from datetime import tzinfo

import orjson

from ingest.adapters._fields import Adapted, Mapping
from ingest.adapters._state import state_measure
from ingest.errors import PayloadError
from ingest.models import Reason

NAME = "esphome"
TOPIC_FILTERS = ("+/sensor/+/state", "+/binary_sensor/+/state", "+/switch/+/state", "+/light/+/state")
DEFAULT_DEVICE_ID = "{device}"
_COMPONENTS = frozenset({"sensor", "binary_sensor", "switch", "light", "fan", "number"})


def adapt(topic: str, payload: bytes, rules: Mapping, profiles: dict[str, Mapping], tz: tzinfo) -> Adapted | None:
    parts = topic.split("/")
    if len(parts) < 4 or parts[-1] != "state" or not all(parts):
        if parts and parts[-1] in ("status", "debug", "command", "set"):
            return None
        raise PayloadError(
            Reason.BAD_TOPIC, f"topic {topic[:120]!r} is not an ESPHome state topic (<node>/<component>/<id>/state)"
        )
    node, component, object_id = "/".join(parts[:-3]), parts[-3], parts[-2]
    if component not in _COMPONENTS:
        return None  # text_sensor, climate, cover ...: no numeric reading
    if component == "light":
        payload = _light_state(payload)
    table = {**rules, **profiles.get(node, {})}
    measure = state_measure((f"{component}/{object_id}", object_id), payload, table, "ESPHome")
    if measure is None:
        return None
    return Adapted({"device": node.replace("/", "-")}, [measure])


def _light_state(payload: bytes) -> bytes:
    try:
        document = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return payload  # a plain ON/OFF
    if isinstance(document, dict) and isinstance(document.get("state"), str):
        return str(document["state"]).encode()
    raise PayloadError(Reason.NOT_DECODABLE, 'light state must be {"state": "ON"|"OFF", ...}', "state")
