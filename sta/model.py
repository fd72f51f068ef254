"""The SensorThings entity types as smartcity serves them, and how each id reads.

A Thing is a device; its Location (and one HistoricalLocation) is where the twin placed
it; a Datastream is one of its series (device x metric), measured by the Sensor of its
kind and observing the ObservedProperty of its metric; Observations are its readings;
the FeatureOfInterest is the building it stands on, else its own position.

Ids are text: a Thing's is the device id (a class device's holds ``/``), a Datastream's
``<device id>:<metric>``, an Observation's ``<device id>:<metric>:<epoch µs>``, a
FeatureOfInterest's ``building:<id>`` or ``point:<device id>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sta.errors import NotFound

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Nav:
    """A navigation property: the target entity set and whether it holds many."""

    name: str
    target: str
    many: bool


@dataclass(frozen=True)
class EntityType:
    name: str  # Thing
    plural: str  # Things: the entity set
    properties: tuple[str, ...]  # in the order a document shows them
    navs: tuple[Nav, ...]

    def nav(self, name: str) -> Nav | None:
        return next((n for n in self.navs if n.name == name), None)


ENTITY_TYPES: dict[str, EntityType] = {
    t.plural: t
    for t in (
        EntityType("Thing", "Things", ("name", "description", "properties"), (
            Nav("Locations", "Locations", True), Nav("HistoricalLocations", "HistoricalLocations", True),
            Nav("Datastreams", "Datastreams", True))),
        EntityType("Location", "Locations", ("name", "description", "encodingType", "location", "properties"), (
            Nav("Things", "Things", True), Nav("HistoricalLocations", "HistoricalLocations", True))),
        EntityType("HistoricalLocation", "HistoricalLocations", ("time",), (
            Nav("Thing", "Things", False), Nav("Locations", "Locations", True))),
        EntityType("Datastream", "Datastreams", (
            "name", "description", "unitOfMeasurement", "observationType", "phenomenonTime", "properties"), (
            Nav("Thing", "Things", False), Nav("Sensor", "Sensors", False),
            Nav("ObservedProperty", "ObservedProperties", False), Nav("Observations", "Observations", True))),
        EntityType("Sensor", "Sensors", ("name", "description", "encodingType", "metadata", "properties"), (
            Nav("Datastreams", "Datastreams", True),)),
        EntityType("ObservedProperty", "ObservedProperties", ("name", "definition", "description", "properties"), (
            Nav("Datastreams", "Datastreams", True),)),
        EntityType("Observation", "Observations", ("phenomenonTime", "resultTime", "result", "parameters"), (
            Nav("Datastream", "Datastreams", False), Nav("FeatureOfInterest", "FeaturesOfInterest", False))),
        EntityType("FeatureOfInterest", "FeaturesOfInterest", (
            "name", "description", "encodingType", "feature", "properties"), (
            Nav("Observations", "Observations", True),)),
    )
}  # fmt: skip


def entity_set(name: str) -> EntityType:
    found = ENTITY_TYPES.get(name)
    if found is None:
        raise NotFound(f"no entity set {name!r}; the sets are {', '.join(ENTITY_TYPES)}")
    return found


def key_columns(entity: EntityType, raw_id: str) -> dict[str, object]:
    """The columns an id pins down, so a lookup uses the tables' keys (a Datastream's
    ``device:metric`` is its device and metric, not a string built per row).

    Raises:
        NotFound: an id that cannot name an entity of this set.
    """
    if entity.plural == "Datastreams":
        device, sep, metric = raw_id.rpartition(":")
        if not sep or not device or not metric:
            raise NotFound(f"Datastream id {raw_id[:80]!r} is not <device id>:<metric>")
        return {"_device": device, "_metric": metric}
    if entity.plural == "Observations":
        head, sep, micros = raw_id.rpartition(":")
        device, sep2, metric = head.rpartition(":")
        if not (sep and sep2 and micros.isdigit() and len(micros) < 19):
            raise NotFound(f"Observation id {raw_id[:80]!r} is not <device id>:<metric>:<epoch microseconds>")
        return {"_device": device, "_metric": metric, "phenomenonTime": EPOCH + timedelta(microseconds=int(micros))}
    return {"id": raw_id}


def observation_id(device_id: str, metric: str, time: datetime) -> str:
    delta = time - EPOCH
    micros = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
    return f"{device_id}:{metric}:{micros}"
