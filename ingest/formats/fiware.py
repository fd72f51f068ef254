"""FIWARE Smart Data Models entities, key-values or normalized (NGSI-v2 and NGSI-LD).

Known measurement attributes are mapped to our metrics with the data models' default
units or the unit given in ``unitCode`` (UN/CEFACT codes). Other attributes (address,
level texts, indices) are reported as ignored. The entity id is not used: the topic
names the device.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ingest.errors import PayloadError
from ingest.formats._common import Measure, parse_time
from ingest.models import Reason

# attribute -> (metric, unit of the value when no unitCode is given)
ATTRIBUTES: dict[str, tuple[str, str]] = {
    "pm10": ("pm10_ugm3", "ug/m3"),
    "pm25": ("pm25_ugm3", "ug/m3"),
    "no2": ("no2_ppb", "ug/m3"),
    "o3": ("o3_ppb", "ug/m3"),
    "so2": ("so2_ppb", "ug/m3"),
    "co": ("co_ppm", "ug/m3"),
    "temperature": ("temperature_c", "Cel"),
    "relativeHumidity": ("humidity_pct", "fraction"),
    "intensity": ("vehicle_count", "count"),
    "averageVehicleSpeed": ("speed_kmh", "km/h"),
    "occupancy": ("occupancy_pct", "fraction"),
    "LAeq": ("noise_dba", "dBA"),
}
UNIT_CODES = {
    "GQ": "ug/m3",
    "GP": "mg/m3",
    "59": "ppm",
    "61": "ppb",
    "CEL": "Cel",
    "KEL": "K",
    "KMH": "km/h",
    "MTS": "m/s",
    "P1": "%",
    "WTT": "W",
    "KWT": "kW",
    "KWH": "kWh",
    "MTR": "m",
    "CMT": "cm",
    "2N": "dB",
}
_NOT_MEASURES = frozenset({"id", "type", "@context"})


def is_entity(document: dict[str, Any]) -> bool:
    return isinstance(document.get("type"), str) and isinstance(document.get("id"), str)


def is_notification(document: dict[str, Any]) -> bool:
    """An Orion (NGSI-v2) or Orion-LD (NGSI-LD) notification: ``{"subscriptionId", "data": [...]}``."""
    return isinstance(document.get("subscriptionId"), str) and isinstance(document.get("data"), list)


def notified_entity(document: dict[str, Any]) -> dict[str, Any]:
    """The one entity a notification carries.

    Raises:
        PayloadError: no entity, or entities of several ids (a topic is one device's).
    """
    entities = [e for e in document["data"] if isinstance(e, dict) and is_entity(e)]
    if not entities:
        raise PayloadError(Reason.NO_READINGS, "the notification's data holds no entity with id and type", "data")
    ids = sorted({str(e["id"]) for e in entities})
    if len(ids) > 1:
        raise PayloadError(
            Reason.SEVERAL_DEVICES,
            f"the notification carries {len(ids)} entities ({', '.join(ids[:4])}); a topic is one device's: "
            "subscribe per entity, or send one notification per device topic (nothing was stored)",
            "data",
        )
    merged: dict[str, Any] = {}
    for entity in entities:  # several notifications of one entity: the later attributes win
        merged.update(entity)
    return merged


def _has(raw: Any, key: str) -> bool:
    return isinstance(raw, dict) and key in raw


def measures(entity: dict[str, Any]) -> tuple[list[Measure], list[str]]:
    """The measures of one entity and the attributes that are not readings.

    Raises:
        PayloadError: ``no_readings`` when no attribute is a measurement we know.
    """
    time = _observed_at(entity)
    out: list[Measure] = []
    ignored: list[str] = []
    for attribute, raw in entity.items():
        if attribute in _NOT_MEASURES or attribute.startswith("date"):
            continue
        if attribute not in ATTRIBUTES:
            ignored.append(attribute)
            continue
        metric, default_unit = ATTRIBUTES[attribute]
        value, code = _value_and_unit(raw)
        # NGSI-LD puts the observation time on the property itself
        observed = parse_time(raw["observedAt"], f"{attribute}.observedAt") if _has(raw, "observedAt") else time
        unit = default_unit
        if code is not None:
            if code not in UNIT_CODES:
                raise PayloadError(
                    Reason.UNIT_NOT_CONVERTIBLE,
                    f"{attribute} has unitCode {code!r}, not one of {', '.join(sorted(UNIT_CODES))}",
                    attribute,
                )
            unit = UNIT_CODES[code]
        out.append(Measure(metric, value, unit, observed, attribute))
    if not out:
        raise PayloadError(
            Reason.NO_READINGS,
            f"{entity['type']} entity has no measurement smartcity knows "
            f"(known: {', '.join(sorted(ATTRIBUTES))}; got: {', '.join(sorted(ignored)) or 'none'})",
            "type",
        )
    return out, ignored


def _value_and_unit(raw: Any) -> tuple[Any, str | None]:
    if not isinstance(raw, dict):
        return raw, None  # key-values
    value = raw.get("value")
    code = raw.get("unitCode")  # NGSI-LD
    metadata = raw.get("metadata")
    if code is None and isinstance(metadata, dict):
        unit_meta = metadata.get("unitCode")
        code = unit_meta.get("value") if isinstance(unit_meta, dict) else unit_meta
    return value, code if isinstance(code, str) else None


def _observed_at(entity: dict[str, Any]) -> datetime | None:
    for key in ("dateObservedTo", "dateObserved"):
        if key not in entity:
            continue
        raw, _ = _value_and_unit(entity[key])
        if isinstance(raw, dict):
            raw = raw.get("@value")
        if isinstance(raw, str) and "/" in raw:
            raw = raw.rsplit("/", 1)[1]  # an interval: the observation ends at its end
        return parse_time(raw, key)
    return None
