"""Rows into SensorThings documents: ``@iot.id``, ``@iot.selfLink``, navigation links, and
the ``dataArray`` form of Observations. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sta.errors import BadRequest
from sta.model import EntityType
from sta.resources import quoted_id

# Properties the standard marks optional: left out of a document when empty.
OPTIONAL = frozenset({"phenomenonTime", "parameters", "resultTime", "properties", "metadata"})
DATA_ARRAY_COMPONENTS = ("id", "phenomenonTime", "resultTime", "result", "parameters")


def iso(value: datetime) -> str:
    """UTC with a Z, milliseconds and below as the value has them."""
    text = value.astimezone().isoformat() if value.tzinfo is None else value.isoformat()
    return text.replace("+00:00", "Z")


def plain(value: object) -> object:
    return iso(value) if isinstance(value, datetime) else value


def self_link(base: str, entity: EntityType, entity_id: str) -> str:
    return f"{base}/{entity.plural}({quoted_id(entity_id)})"


def check_select(entity: EntityType, select: Sequence[str] | None) -> None:
    if select is None:
        return
    known = {"id", "@iot.id", "@iot.selfLink", *entity.properties, *(n.name for n in entity.navs)}
    for name in select:
        if name not in known:
            raise BadRequest(f"$select: a {entity.name} has no property {name!r}; it has {', '.join(sorted(known))}")


def document(entity: EntityType, row: dict[str, Any], base: str, select: Sequence[str] | None) -> dict[str, Any]:
    """One entity as the standard shows it (``select``: only these properties)."""
    link = self_link(base, entity, row["id"])
    out: dict[str, Any] = {}
    wanted = None if select is None else set(select)
    if wanted is None or wanted & {"id", "@iot.id"}:
        out["@iot.id"] = row["id"]
    if wanted is None or "@iot.selfLink" in wanted:
        out["@iot.selfLink"] = link
    for name in entity.properties:
        if wanted is not None and name not in wanted:
            continue
        value = row.get(name)
        if value is None and name in OPTIONAL and wanted is None:
            continue
        out[name] = plain(value)
    for nav in entity.navs:
        if wanted is None or nav.name in wanted:
            out[f"{nav.name}@iot.navigationLink"] = f"{link}/{nav.name}"
    return out


def data_array(rows: list[dict[str, Any]], base: str, components: Sequence[str] | None) -> list[dict[str, Any]]:
    """Observations grouped by Datastream, each as rows of the chosen components."""
    chosen = tuple(components) if components else ("id", "phenomenonTime", "result")
    for name in chosen:
        if name not in DATA_ARRAY_COMPONENTS:
            raise BadRequest(
                f"$select: {name!r} is not a dataArray component; choose from {', '.join(DATA_ARRAY_COMPONENTS)}"
            )
    groups: dict[tuple[str, str], list[list[object]]] = {}
    for row in rows:
        groups.setdefault((row["_device"], row["_metric"]), []).append([plain(row[c]) for c in chosen])
    return [
        {
            "Datastream@iot.navigationLink": f"{base}/Datastreams({quoted_id(f'{device}:{metric}')})",
            "components": list(chosen),
            "dataArray@iot.count": len(values),
            "dataArray": values,
        }
        for (device, metric), values in groups.items()
    ]
