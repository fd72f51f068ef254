"""smartcity's own JSON.

One set of readings::

    {"time": "2026-11-24T09:00:00+09:00", "metrics": {"pm25_ugm3": 12.5, "noise_dba": 55}}

Several, each with its own time::

    {"readings": [{"time": 1764000000, "metrics": {"pm25_ugm3": 12.5}}, ...]}

The shorthand ``{"time": ..., "pm25_ugm3": 12.5}`` (metrics beside the time) is
accepted too; ``time`` (or ``ts``) may be left out, then the arrival time is used. A
value may carry its own unit: ``{"temperature_c": {"value": 290.1, "unit": "K"}}``.
"""

from __future__ import annotations

from typing import Any

from ingest.errors import PayloadError
from ingest.formats._common import Measure, parse_time
from ingest.models import Reason

_TIME_KEYS = ("time", "ts")


def measures(document: dict[str, Any]) -> list[Measure]:
    """The measures of one canonical document.

    Raises:
        PayloadError: the document's shape is not the canonical one.
    """
    if "readings" in document:
        sets = document["readings"]
        if not isinstance(sets, list):
            raise PayloadError(Reason.NOT_DECODABLE, "readings must be a list of {time, metrics} objects", "readings")
        out: list[Measure] = []
        for i, entry in enumerate(sets):
            if not isinstance(entry, dict):
                raise PayloadError(Reason.NOT_DECODABLE, f"readings[{i}] must be an object", f"readings[{i}]")
            out.extend(_one_set(entry, prefix=f"readings[{i}]."))
        return out
    return _one_set(document, prefix="")


def _one_set(entry: dict[str, Any], prefix: str) -> list[Measure]:
    time = None
    for key in _TIME_KEYS:
        if key in entry:
            time = parse_time(entry[key], prefix + key)
            break
    if "metrics" in entry:
        metrics = entry["metrics"]
        if not isinstance(metrics, dict):
            raise PayloadError(
                Reason.NOT_DECODABLE, f"{prefix}metrics must be an object of name: value", prefix + "metrics"
            )
        field_prefix = prefix + "metrics."
    else:
        metrics = {k: v for k, v in entry.items() if k not in _TIME_KEYS}
        field_prefix = prefix
    out = []
    for name, raw in metrics.items():
        unit = None
        value = raw
        if isinstance(raw, dict):
            if "value" not in raw:
                raise PayloadError(
                    Reason.NOT_DECODABLE, f"{field_prefix}{name} is an object without 'value'", field_prefix + name
                )
            value = raw["value"]
            unit_raw = raw.get("unit")
            if unit_raw is not None and not isinstance(unit_raw, str):
                raise PayloadError(Reason.NOT_DECODABLE, f"{field_prefix}{name}.unit must be text", field_prefix + name)
            unit = unit_raw
        out.append(Measure(str(name), value, unit, time, field_prefix + str(name)))
    return out
