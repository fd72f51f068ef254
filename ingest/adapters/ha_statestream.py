"""Home Assistant's MQTT Statestream: each entity's state on ``<base>/<domain>/<object_id>/state``.

The payload is the state as text (``21.5``, ``on``); ``unavailable`` and ``unknown`` are not
readings. Attribute topics (``<base>/<domain>/<object_id>/<attribute>``, with
``publish_attributes``) and timestamps (``last_updated``, ``last_changed``) carry no
readings. Rules are keyed by entity id (``sensor.office_co2``) or object id; the device
is the object id unless a rule's table is per device. Statestream sends no time: the
arrival time stamps the reading.
"""

from __future__ import annotations

from datetime import tzinfo

from ingest.adapters._fields import Adapted, Mapping
from ingest.adapters._state import state_measure
from ingest.errors import PayloadError
from ingest.models import Reason

NAME = "ha-statestream"
TOPIC_FILTERS = ("+/+/+/state",)
DEFAULT_DEVICE_ID = "{device}"
_NO_STATE = (b"unavailable", b"unknown", b"")


def adapt(topic: str, payload: bytes, rules: Mapping, profiles: dict[str, Mapping], tz: tzinfo) -> Adapted | None:
    parts = topic.split("/")
    if len(parts) < 4 or not all(parts):
        raise PayloadError(
            Reason.BAD_TOPIC, f"topic {topic[:120]!r} is not a statestream topic (<base>/<domain>/<object_id>/state)"
        )
    if parts[-1] != "state":
        return None  # an attribute or a timestamp
    domain, object_id = parts[-3], parts[-2]
    if payload.strip().lower() in _NO_STATE:
        return None
    table = {**rules, **profiles.get(object_id, {})}
    measure = state_measure((f"{domain}.{object_id}", object_id), payload, table, "Home Assistant statestream")
    if measure is None:
        return None
    return Adapted({"device": object_id, "entity": f"{domain}.{object_id}"}, [measure])
