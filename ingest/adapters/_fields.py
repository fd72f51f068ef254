"""Mapping tables: which field of a foreign payload is which metric of ours, in which unit."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from ingest.errors import PayloadError, SourceError
from ingest.formats._common import Measure
from ingest.models import Reason
from ingest.vocabulary import METRICS

_MAX_FIELDS = 256  # a payload with more leaves than this is refused, not walked


@dataclass(frozen=True, slots=True)
class FieldRule:
    """One field's meaning: our metric, the unit the device sends it in, a factor first."""

    metric: str
    unit: str | None = None
    scale: float = 1.0


Mapping = dict[str, FieldRule]
IGNORE = "-"  # a rule's metric that drops a field on purpose (not listed as unmapped)


class Adapted(NamedTuple):
    """What an adapter read from one message.

    ``ids`` name the device in the ecosystem's own terms (``device``, ``dev_eui``,
    ``application``, ...): the source's device-id rule and the registry's external ids
    are matched against them.
    """

    ids: dict[str, str]
    measures: list[Measure]
    ignored: list[str] = []  # noqa: RUF012  # never mutated: adapters pass their own list


def rules_from_config(raw: object, where: str) -> Mapping:
    """A mapping table from configuration (``{"field": {"metric": ..., "unit": ...}}``,
    or ``{"field": "metric"}``; ``"-"`` drops a field on purpose).

    Raises:
        SourceError: naming the entry and what is wrong with it.
    """
    if not isinstance(raw, dict):
        raise SourceError(f"{where} must be a table of field = {{metric = ..., unit = ...}}")
    rules: Mapping = {}
    for name, given in raw.items():
        entry = f"{where}.{name}"
        spec = {"metric": given} if isinstance(given, str) else given
        if not isinstance(spec, dict):
            raise SourceError(f"{entry} must be a metric name or a table with metric, unit and scale")
        unknown = set(spec) - {"metric", "unit", "scale"}
        if unknown:
            raise SourceError(f"{entry} has unknown keys {sorted(unknown)}; allowed: metric, unit, scale")
        metric = spec.get("metric")
        if metric != IGNORE and metric not in METRICS:
            raise SourceError(f"{entry}: metric {metric!r} is not in the vocabulary (see docs/topics-and-payloads.md)")
        unit = spec.get("unit")
        if unit is not None and not isinstance(unit, str):
            raise SourceError(f"{entry}: unit must be text, got {unit!r}")
        scale = spec.get("scale", 1.0)
        if isinstance(scale, bool) or not isinstance(scale, int | float) or scale == 0:
            raise SourceError(f"{entry}: scale must be a non-zero number, got {scale!r}")
        rules[str(name)] = FieldRule(str(metric), unit, float(scale))
    return rules


def flatten(document: dict[str, Any], prefix: str = "") -> dict[str, object]:
    """Leaves of nested objects under dotted paths (``BME280.Temperature``); lists are leaves."""
    if not prefix and len(document) <= _MAX_FIELDS:
        for value in document.values():
            if type(value) is dict:
                break
        else:
            return document  # flat already, as most payload formatters write
    out: dict[str, object] = {}
    stack: list[tuple[str, dict[str, Any]]] = [(prefix, document)]
    while stack:
        base, node = stack.pop()
        for key, value in node.items():
            path = f"{base}{key}"
            if isinstance(value, dict):
                stack.append((path + ".", value))
            else:
                out[path] = value
            if len(out) > _MAX_FIELDS:
                raise PayloadError(Reason.NOT_DECODABLE, f"payload has more than {_MAX_FIELDS} fields", "payload")
    return out


def measures(
    fields: dict[str, object], rules: Mapping, time: datetime | None, where: str, skip: Iterable[str] = ()
) -> tuple[list[Measure], list[str]]:
    """Values of the fields that have a rule; the others listed as ignored (``skip``: known
    non-readings such as units and clocks, not listed)."""
    found: list[Measure] = []
    ignored: list[str] = []
    skipped = set(skip) if skip else ()
    for name, value in fields.items():
        rule = rules.get(name)
        if rule is None:
            if name not in skipped:
                ignored.append(f"{where}.{name}: no mapping")
            continue
        if rule.metric == IGNORE:
            continue
        if rule.scale != 1.0:
            value = scaled(value, rule.scale)  # noqa: PLW2901
        found.append(Measure(rule.metric, value, rule.unit, time, f"{where}.{name}"))
    return found, ignored


def scaled(value: object, scale: float) -> object:
    """A number times the rule's factor; anything else as it is, for validation to refuse."""
    if scale != 1.0 and isinstance(value, int | float) and not isinstance(value, bool):
        return value * scale
    return value


def no_mapped_fields(ignored: list[str], adapter: str) -> PayloadError:
    """The refusal for a message none of whose fields has a rule."""
    listed = ", ".join(i.split(":", 1)[0] for i in ignored[:8]) or "none"
    return PayloadError(
        Reason.NO_READINGS,
        f"no field of this {adapter} message is mapped to a metric (fields: {listed}); "
        "add them to the source's mapping table (docs/sources.md)",
        "payload",
    )
