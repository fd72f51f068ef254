"""The adapters by name, as a source names them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import tzinfo

from ingest.adapters import chirpstack_v4, esphome, ha_statestream, tasmota, ttn_v3
from ingest.adapters._fields import Adapted, Mapping
from ingest.errors import SourceError


@dataclass(frozen=True)
class Adapter:
    """An ecosystem's decoder, the topic filters it reads by default, its device-id rule."""

    name: str
    adapt: Callable[[str, bytes, Mapping, dict[str, Mapping], tzinfo], Adapted | None]
    topic_filters: tuple[str, ...]
    default_device_id: str


ADAPTERS: dict[str, Adapter] = {
    m.NAME: Adapter(m.NAME, m.adapt, m.TOPIC_FILTERS, m.DEFAULT_DEVICE_ID)
    for m in (ttn_v3, chirpstack_v4, tasmota, esphome, ha_statestream)
}


def adapter_named(name: str) -> Adapter:
    """The adapter called ``name``; SourceError listing the known ones otherwise."""
    try:
        return ADAPTERS[name]
    except KeyError:
        raise SourceError(f"unknown adapter {name!r}; known: {', '.join(sorted(ADAPTERS))}") from None
