"""Tasmota: telemetry (``tele/<topic>/SENSOR``), relay state (``stat/<topic>/POWER``) and
status answers (``stat/<topic>/STATUS8`` or ``STATUS10``, ``{"StatusSNS": {...}}``).

Both FullTopic orders are read: ``%prefix%/%topic%/`` (the default, ``tele/<topic>/SENSOR``)
and ``%topic%/%prefix%/`` (``<topic>/tele/SENSOR``). A SENSOR body holds one object per
sensor (``BME280``, ``SCD40``, ``PMS5003``, ``ENERGY``, ``DS18B20-1`` ...) and ``Time``,
the device's *local* time without an offset: the source's ``timezone`` says which (set
the device's with ``Timezone``/``TimeStd``, and ``SetOption`` nothing else is needed).
``TempUnit`` (C or F) gives temperatures' unit.

Built-in rules, by field name in any sensor: Temperature, Humidity, CarbonDioxide (CO2),
PM2.5, PM10; ENERGY's Power (W), Total (kWh), Voltage, Current; POWER (a relay: a street
light). A rule in the source's mapping, by ``Sensor.Field`` or by field name, wins; a
device with two temperature sensors needs one of them mapped (or dropped with ``"-"``),
or its messages are refused as ``duplicate_reading``. LWT, STATE, INFO and RESULT carry
no readings.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from ingest.adapters._fields import IGNORE, Adapted, FieldRule, Mapping, no_mapped_fields, scaled
from ingest.adapters._json import json_object
from ingest.errors import PayloadError
from ingest.formats._common import Measure, in_range
from ingest.models import Reason

NAME = "tasmota"
TOPIC_FILTERS = ("tele/+/SENSOR", "stat/+/POWER", "stat/+/STATUS8", "stat/+/STATUS10")
DEFAULT_DEVICE_ID = "{device}"

BUILTIN: Mapping = {
    "Temperature": FieldRule("temperature_c", "Cel"),
    "Humidity": FieldRule("humidity_pct", "%RH"),
    "CarbonDioxide": FieldRule("co2_ppm", "ppm"),
    "PM2.5": FieldRule("pm25_ugm3", "ug/m3"),
    "PM10": FieldRule("pm10_ugm3", "ug/m3"),
    "ENERGY.Power": FieldRule("power_kw", "W"),
    "ENERGY.Total": FieldRule("energy_kwh", "kWh"),
    "ENERGY.Voltage": FieldRule("voltage_v", "V"),
    "ENERGY.Current": FieldRule("current_a", "A"),
    "POWER": FieldRule("light_on", "bool"),
}
_NOT_READINGS = frozenset({"Time", "TempUnit", "PressureUnit", "SpeedUnit", "ENERGY.TotalStartTime"})
_SWITCH = {"ON": 1.0, "OFF": 0.0}
_PREFIXES = ("tele", "stat")


def adapt(topic: str, payload: bytes, rules: Mapping, profiles: dict[str, Mapping], tz: tzinfo) -> Adapted | None:
    device, command = _split(topic)
    if command.startswith("POWER"):
        return _power(device, command, payload, rules)
    if command not in ("SENSOR", "STATUS8", "STATUS10"):
        return None  # LWT, STATE, INFO1-3, RESULT: no readings
    body = json_object(payload, f"Tasmota {command}")
    if command != "SENSOR":
        inner = body.get("StatusSNS")
        if not isinstance(inner, dict):
            return None
        body = inner
    profile = profiles.get(device)
    table = {**rules, **profile} if profile else rules
    time = _local_time(body.get("Time"), tz)
    temp_unit = {"C": "Cel", "F": "degF"}.get(str(body.get("TempUnit", "C")).upper())
    if temp_unit is None:
        sentence = f"TempUnit {body.get('TempUnit')!r} is neither C nor F"
        raise PayloadError(Reason.UNIT_NOT_CONVERTIBLE, sentence, "TempUnit")
    found, ignored = _read_sensors(body, table, time, temp_unit)
    if not found:
        raise no_mapped_fields(ignored, "Tasmota SENSOR")
    return Adapted({"device": device}, found, ignored)


def _read_sensors(
    body: dict[str, Any], table: Mapping, time: datetime | None, temp_unit: str
) -> tuple[list[Measure], list[str]]:
    """Each sensor object's mapped fields as measures; the rest listed as ignored."""
    found: list[Measure] = []
    ignored: list[str] = []
    resolved = _resolved_for(table)
    for sensor, values in body.items():
        if type(values) is not dict:
            if sensor not in _NOT_READINGS:
                ignored.append(f"{sensor}: no mapping")
            continue
        for name, value in values.items():
            hit = resolved.get((sensor, name))
            if hit is None:
                hit = _resolve(table, sensor, name, resolved)
            path, rule = hit
            if rule is None:
                if path not in _NOT_READINGS:
                    ignored.append(f"{path}: no mapping")
                continue
            if type(value) is dict:
                ignored.append(f"{path}: no mapping")
                continue
            if rule.metric == IGNORE:
                continue
            unit = temp_unit if rule is _TEMPERATURE else rule.unit
            found.append(Measure(rule.metric, scaled(value, rule.scale), unit, time, path))
    return found, ignored


_TEMPERATURE = BUILTIN["Temperature"]
_Resolved = dict[tuple[str, str], tuple[str, FieldRule | None]]
_caches: dict[int, tuple[Mapping, _Resolved]] = {}  # by the table's id; the table is kept alive with it


def _resolved_for(table: Mapping) -> _Resolved:
    """The field -> rule answers already worked out for this table (a source's rules live as
    long as the source; a per-device profile's merged table is new each message and cached
    only briefly)."""
    entry = _caches.get(id(table))
    if entry is None or entry[0] is not table:
        if len(_caches) > 64:
            _caches.clear()
        entry = _caches[id(table)] = (table, {})
    return entry[1]


def _resolve(table: Mapping, sensor: str, name: str, resolved: _Resolved) -> tuple[str, FieldRule | None]:
    """A field's path and rule (None: a non-reading or unmapped), remembered for the table."""
    path = f"{sensor}.{name}"
    rule = None
    if path not in _NOT_READINGS:
        rule = (table.get(path) or table.get(name) if table else None) or BUILTIN.get(path) or BUILTIN.get(name)
    if len(resolved) < 4096:  # field names come from devices: bounded
        resolved[(sensor, name)] = (path, rule)
    return path, rule


def _split(topic: str) -> tuple[str, str]:
    """(device topic, command) from either FullTopic order."""
    parts = topic.split("/")
    if len(parts) == 3 and parts[0] in _PREFIXES and parts[1]:
        return parts[1], parts[2]
    if len(parts) == 3 and parts[1] in _PREFIXES and parts[0]:
        return parts[0], parts[2]
    raise PayloadError(
        Reason.BAD_TOPIC, f"topic {topic[:120]!r} is not a Tasmota topic (tele/<topic>/SENSOR or stat/<topic>/POWER)"
    )


def _power(device: str, command: str, payload: bytes, rules: Mapping) -> Adapted | None:
    rule = rules.get(command) or BUILTIN.get(command)
    word = payload.decode("utf-8", "replace").strip().upper()
    if rule is None:
        raise no_mapped_fields([f"{command}: no mapping"], "Tasmota POWER")
    if rule.metric == IGNORE:
        return None
    if word not in _SWITCH:
        raise PayloadError(Reason.NOT_DECODABLE, f"{command} = {word[:20]!r}; expected ON or OFF", command)
    return Adapted({"device": device}, [Measure(rule.metric, _SWITCH[word], None, None, command)])


def _local_time(raw: Any, tz: tzinfo) -> datetime | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise PayloadError(Reason.BAD_TIMESTAMP, f"Time = {raw!r} is not text", "Time")
    text = raw.strip()
    if len(text) >= 10 and text[4] == "." and text[7] == ".":  # older firmware: 2018.02.15 01:00:50
        text = text[:10].replace(".", "-") + text[10:]
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise PayloadError(Reason.BAD_TIMESTAMP, f"Time = {raw[:40]!r} is not ISO 8601", "Time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)  # the device's local clock
    return in_range(parsed, raw, "Time")
