"""The SensorThings API 1.1 (read: Sensing Core, filtering, dataArray) on a Flask server.

``install`` mounts it at ``/sta/v1.1`` on the server that serves the dashboard. Public
reading of city data is the default; class devices are shown only to their owner and
their teacher (``viewer``, passed in by whoever wires the server, tells who asks).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, request

from sta import queries, render
from sta.errors import BadRequest, NotFound, StaError, Unauthorized
from sta.model import ENTITY_TYPES, EntityType, entity_set, key_columns
from sta.odata import MAX_TOP, Options, parse_options
from sta.queries import JOINS, Viewer
from sta.resources import Segment, parse_path, quoted_id

log = logging.getLogger(__name__)
DEFAULT_TOP = 100
CONFORMANCE = (
    "http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/resource-path/resource-path-to-entities",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/request-data",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/data-array/data-array",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/receive-updates-via-mqtt/receive-updates",
)


@dataclass(frozen=True)
class StaConfig:
    dsn: str
    public: bool = True  # anyone may read city data; False: a signed-in viewer is needed
    prefix: str = "/sta/v1.1"
    mqtt_endpoint: str | None = None  # advertised in the root document, e.g. mqtt://host:1883


@dataclass(frozen=True)
class _Asking:
    """One request's database, viewer and service root."""

    dsn: str
    viewer: Viewer
    base: str


@dataclass(frozen=True)
class Target:
    """What a resource path names: entities of a set with some columns pinned, one or many."""

    entity: EntityType
    pinned: dict[str, object]
    single: bool
    property: str | None = None
    raw_value: bool = False
    ref: bool = False


def install(server: Flask, config: StaConfig, viewer: Callable[[], Viewer | None]) -> None:
    """Serve the API under ``config.prefix`` on ``server``."""
    queries.open_pool(config.dsn)

    def _serve(rest: str = "") -> Response:
        base = request.url_root.rstrip("/") + config.prefix
        try:
            who = viewer()
            if who is None and not config.public:
                raise Unauthorized("sign in (HTTP Basic with a class or operator account) to read this city's data")
            status, body = answer(config, who or Viewer(), rest, _single_args(request.args), base)
        except StaError as exc:
            status, body = exc.status, {"code": exc.status, "type": "error", "message": exc.message}
        except Exception:  # a bug of ours: logged, answered in the standard's form, the server goes on
            log.exception("SensorThings request %s failed", request.full_path[:300])
            status, body = 500, {"code": 500, "type": "error", "message": "internal error; it was logged"}
        if isinstance(body, str):
            return Response(body, status=status, mimetype="text/plain")
        response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype="application/json")
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Basic realm="smartcity SensorThings"'
        return response

    server.add_url_rule(config.prefix, "sta_root", _serve)
    server.add_url_rule(config.prefix + "/", "sta_root_slash", _serve)
    server.add_url_rule(config.prefix + "/<path:rest>", "sta", _serve)


def _single_args(args: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for key in args:
        values = args.getlist(key)
        if key.startswith("$") and len(values) > 1:
            raise BadRequest(f"query option {key} is given {len(values)} times; give it once")
        out[key] = values[0]
    return out


def answer(config: StaConfig, viewer: Viewer, path: str, args: Mapping[str, str], base: str) -> tuple[int, Any]:
    """The status and document (or plain text, for ``$value``) answering one GET."""
    segments = parse_path(path)
    if not segments:
        return 200, _root(config, base)
    options = parse_options(args)
    target = resolve(config.dsn, viewer, segments)
    entity = target.entity
    if target.property is not None:
        row = _one(config.dsn, viewer, target)
        value = render.plain(row.get(target.property))
        if target.raw_value:
            return 200, "" if value is None else (value if isinstance(value, str) else json.dumps(value))
        return 200, {target.property: value}
    asking = _Asking(config.dsn, viewer, base)
    if target.single:
        row = _one(config.dsn, viewer, target)
        if target.ref:
            return 200, {"@iot.selfLink": render.self_link(base, entity, row["id"])}
        return 200, _expanded(asking, entity, row, options)
    if options.result_format == "dataArray" and entity.plural != "Observations":
        raise BadRequest("$resultFormat=dataArray is offered for Observations only")
    here = f"{base}/" + "/".join(s.name + (f"({quoted_id(s.key)})" if s.key is not None else "") for s in segments)
    return 200, _collection(asking, target, options, here, args)


def resolve(dsn: str, viewer: Viewer, segments: list[Segment]) -> Target:
    """Walk a resource path; each navigation reads its parent (which must exist and be visible)."""
    first = segments[0]
    entity = entity_set(first.name)
    pinned: dict[str, object] = key_columns(entity, first.key) if first.key is not None else {}
    target = Target(entity, pinned, first.key is not None)
    for i, segment in enumerate(segments[1:], start=1):
        last = i == len(segments) - 1
        if segment.name == "$ref":
            if not last:
                raise BadRequest("$ref ends a resource path")
            return Target(target.entity, target.pinned, target.single, ref=True)
        if segment.name == "$value":
            if not (last and target.property is not None):
                raise BadRequest("$value follows a property name and ends the path")
            return Target(target.entity, target.pinned, True, target.property, raw_value=True)
        if target.property is not None:
            raise BadRequest(f"{target.property} is a value; nothing can follow it but $value")
        if not target.single:
            raise BadRequest(f"{segment.name}: choose one {target.entity.name} by id before navigating from it")
        nav = target.entity.nav(segment.name)
        if nav is None:
            if segment.name in target.entity.properties or segment.name == "id":
                if segment.key is not None:
                    raise BadRequest(f"{segment.name} is a property; it takes no id")
                target = Target(target.entity, target.pinned, True, segment.name)
                continue
            raise NotFound(f"a {target.entity.name} has no property or navigation {segment.name!r}")
        parent = _one(dsn, viewer, target)
        child = ENTITY_TYPES[nav.target]
        pinned = {dst: parent[src] for dst, src in JOINS[(target.entity.plural, nav.name)]}
        if segment.key is not None:
            if not nav.many:
                raise BadRequest(f"{nav.name} is one entity; it takes no id")
            pinned |= key_columns(child, segment.key)
        target = Target(child, pinned, not nav.many or segment.key is not None)
    return target


def _one(dsn: str, viewer: Viewer, target: Target) -> dict[str, Any]:
    chosen = queries.select(target.entity, viewer=viewer, pinned=target.pinned, where=None, orderby=(),
                            limit=1, offset=0)  # fmt: skip
    rows = queries.rows(dsn, chosen)
    if not rows:
        raise NotFound(f"no {target.entity.name} here (it does not exist, or is not yours to see)")
    return rows[0]


def _collection(
    asking: _Asking, target: Target, options: Options, here: str, args: Mapping[str, str]
) -> dict[str, Any]:
    dsn, viewer, base = asking.dsn, asking.viewer, asking.base
    entity = target.entity
    top = min(options.top if options.top is not None else DEFAULT_TOP, MAX_TOP)
    if options.result_format != "dataArray":
        render.check_select(entity, options.select)
    chosen = queries.select(entity, viewer=viewer, pinned=target.pinned, where=options.filter,
                            orderby=options.orderby, limit=top + 1, offset=options.skip)  # fmt: skip
    rows = queries.rows(dsn, chosen)
    more = len(rows) > top
    rows = rows[:top]
    out: dict[str, Any] = {}
    if options.count:
        out["@iot.count"] = queries.count(dsn, chosen)
    if options.result_format == "dataArray":
        out["value"] = render.data_array(rows, base, options.select)
    else:
        out["value"] = [_expanded(asking, entity, row, options) for row in rows]
    if more:
        following = dict(args) | {"$skip": str(options.skip + top), "$top": str(top)}
        out["@iot.nextLink"] = f"{here}?{urlencode(following)}"
    return out


def _expanded(asking: _Asking, entity: EntityType, row: dict[str, Any], options: Options) -> dict[str, Any]:
    dsn, viewer, base = asking.dsn, asking.viewer, asking.base
    render.check_select(entity, options.select)
    doc = render.document(entity, row, base, options.select)
    for item in options.expand:
        nav = entity.nav(item.nav)
        if nav is None:
            raise BadRequest(f"$expand: a {entity.name} has no navigation property {item.nav!r}")
        child = ENTITY_TYPES[nav.target]
        pinned = {dst: row[src] for dst, src in JOINS[(entity.plural, nav.name)]}
        inner = item.options
        top = min(inner.top if inner.top is not None else DEFAULT_TOP, MAX_TOP) if nav.many else 1
        chosen = queries.select(child, viewer=viewer, pinned=pinned, where=inner.filter, orderby=inner.orderby,
                                limit=top + 1, offset=inner.skip)  # fmt: skip
        rows = queries.rows(dsn, chosen)
        if nav.many:
            doc[nav.name] = [_expanded(asking, child, r, inner) for r in rows[:top]]
            if inner.count:
                doc[f"{nav.name}@iot.count"] = queries.count(dsn, chosen)
            if len(rows) > top:
                link = f"{render.self_link(base, entity, row['id'])}/{nav.name}"
                doc[f"{nav.name}@iot.nextLink"] = f"{link}?{urlencode({'$top': top, '$skip': inner.skip + top})}"
        elif rows:
            doc[nav.name] = _expanded(asking, child, rows[0], inner)
    return doc


def _root(config: StaConfig, base: str) -> dict[str, Any]:
    settings: dict[str, Any] = {"conformance": list(CONFORMANCE)}
    if config.mqtt_endpoint:
        settings["http://www.opengis.net/spec/iot_sensing/1.1/req/receive-updates-via-mqtt/receive-updates"] = {
            "endpoints": [config.mqtt_endpoint]
        }
    return {
        "value": [{"name": name, "url": f"{base}/{name}"} for name in ENTITY_TYPES],
        "serverSettings": settings,
    }
