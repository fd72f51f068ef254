"""SenML JSON (RFC 8428): base fields, relative times and packs, mapped to our metrics.

A record's metric comes from the last segment of its resolved name (``...:temperature``)
when that is a known name or alias, else from its unit (``Cel`` is a temperature).
Location records (``lon``, ``lat``) are not readings and are reported as ignored.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from ingest.errors import PayloadError
from ingest.formats._common import Measure, parse_time
from ingest.models import Reason
from ingest.vocabulary import METRICS

# RFC 8428 section 4.5.3: times below 2**28 are relative to now.
_RELATIVE_LIMIT_S = 2**28
_KNOWN_FIELDS = frozenset({"bn", "bt", "bu", "bv", "bs", "bver", "n", "u", "v", "vs", "vb", "vd", "s", "t", "ut"})
_LOCATION_UNITS = frozenset({"lon", "lat"})

NAME_ALIASES = {
    "temperature": "temperature_c",
    "temp": "temperature_c",
    "humidity": "humidity_pct",
    "voltage": "voltage_v",
    "current": "current_a",
    "power": "power_kw",
    "energy": "energy_kwh",
    "pm25": "pm25_ugm3",
    "pm2.5": "pm25_ugm3",
    "pm10": "pm10_ugm3",
    "no2": "no2_ppb",
    "o3": "o3_ppb",
    "co": "co_ppm",
    "co2": "co2_ppm",
    "noise": "noise_dba",
    "battery": "battery_pct",
    "level": "water_level_m",
}
UNIT_METRICS = {
    "Cel": "temperature_c",
    "K": "temperature_c",
    "%RH": "humidity_pct",
    "V": "voltage_v",
    "A": "current_a",
    "W": "power_kw",
    "kW": "power_kw",
    "Wh": "energy_kwh",
    "kWh": "energy_kwh",
    "%EL": "battery_pct",
    "dBA": "noise_dba",
}


def _metric_for(name: str, unit: str | None) -> str | None:
    segment = name.replace("/", ":").rstrip(":").rsplit(":", 1)[-1]
    if segment in METRICS:
        return segment
    if segment.lower() in NAME_ALIASES:
        return NAME_ALIASES[segment.lower()]
    if unit is not None:
        return UNIT_METRICS.get(unit)
    return None


def measures(pack: list[Any], now: datetime) -> tuple[list[Measure], list[str]]:
    """The measures of a SenML pack and the names of records that are not readings.

    Raises:
        PayloadError: a record is malformed or names nothing we know.
    """
    if not pack:
        raise PayloadError(Reason.NO_READINGS, "the SenML pack is empty", "[]")
    base_name, base_time, base_unit, base_value = "", 0.0, None, 0.0
    out: list[Measure] = []
    ignored: list[str] = []
    devices: dict[str, str] = {}  # the device part of each resolved name -> first record naming it
    for i, record in enumerate(pack):
        where = f"[{i}]"
        if not isinstance(record, dict):
            raise PayloadError(Reason.NOT_DECODABLE, f"SenML record {where} must be an object", where)
        for key in record:
            if key not in _KNOWN_FIELDS and key.endswith("_"):
                raise PayloadError(
                    Reason.NOT_DECODABLE, f"SenML record {where} has must-understand field {key!r}", where
                )
        base_name = _text(record, "bn", where, base_name)
        base_time = _number(record, "bt", where, base_time)
        base_unit = _text(record, "bu", where, base_unit) if "bu" in record else base_unit
        base_value = _number(record, "bv", where, base_value)
        name = base_name + _text(record, "n", where, "")
        unit = _text(record, "u", where, None) if "u" in record else base_unit
        if not name:
            raise PayloadError(Reason.NOT_DECODABLE, f"SenML record {where} has no name (n or bn)", where)
        if "v" not in record:
            if any(k in record for k in ("vs", "vb", "vd", "s")):
                ignored.append(f"{where} {name} (non-numeric value)")
                continue
            if "bn" in record or "bt" in record or "bu" in record:
                continue  # a record that only sets base values
            raise PayloadError(Reason.NOT_DECODABLE, f"SenML record {where} ({name}) has no value 'v'", where)
        if unit in _LOCATION_UNITS:
            ignored.append(f"{where} {name} ({unit}: location, not a reading)")
            continue
        metric = _metric_for(name, unit)
        if metric is None:
            raise PayloadError(
                Reason.UNKNOWN_METRIC,
                f"SenML record {where} name {name!r} with unit {unit!r} matches no smartcity metric",
                where,
            )
        value = record["v"]
        if isinstance(value, int | float) and not isinstance(value, bool):
            try:
                value = base_value + value
            except OverflowError:  # a CBOR bignum: refused as not finite downstream
                value = math.inf
        t = base_time + _number(record, "t", where, 0.0)
        time = now + timedelta(seconds=t) if abs(t) < _RELATIVE_LIMIT_S else parse_time(t, where + ".t")
        out.append(Measure(metric, value, unit, time, where))
        devices.setdefault(_device_part(name), where)
    named = {d: w for d, w in devices.items() if d}
    if len(named) > 1:
        listed = ", ".join(f"{d!r} ({w})" for d, w in list(named.items())[:4])
        raise PayloadError(
            Reason.SEVERAL_DEVICES,
            f"the SenML pack names {len(named)} devices: {listed}; a topic is one device's, "
            "so send one pack per device on its own topic (nothing was stored)",
            next(iter(named.values())),
        )
    return out, ignored


def _device_part(name: str) -> str:
    """The resolved name without its last segment (the measurement): which device it names."""
    cleaned = name.replace("/", ":").rstrip(":")
    return cleaned.rsplit(":", 1)[0] if ":" in cleaned else ""


def _text(record: dict[str, Any], key: str, where: str, default: str | None) -> Any:
    if key not in record:
        return default
    value = record[key]
    if not isinstance(value, str):
        raise PayloadError(Reason.NOT_DECODABLE, f"SenML field {where}.{key} must be text", f"{where}.{key}")
    return value


def _number(record: dict[str, Any], key: str, where: str, default: float) -> float:
    if key not in record:
        return default
    value = record[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PayloadError(Reason.NOT_DECODABLE, f"SenML field {where}.{key} must be a number", f"{where}.{key}")
    try:
        number = float(value)
    except OverflowError:  # a CBOR bignum
        number = math.inf
    if not math.isfinite(number):
        raise PayloadError(
            Reason.NOT_FINITE, f"SenML field {where}.{key} = {value!r:.40} is not finite", f"{where}.{key}"
        )
    return number
