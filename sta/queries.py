"""SQL of the SensorThings API: one view per entity set over smartcity's tables, and the
compiler that turns a parsed ``$filter``/``$orderby`` into parameterised SQL.

Every value from a request reaches PostgreSQL as a named parameter; identifiers come
from the fixed tables below, never from the request. Class devices (and their series,
readings and positions) are visible only to their owner, their teacher and operators:
the views carry that predicate, so no path, filter or expansion can reach around it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import psycopg
import shapely
from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from contract import METRICS, READINGS_CHANNEL
from sta.errors import BadRequest, Unavailable
from sta.model import ENTITY_TYPES, EntityType
from sta.odata import COMPARISONS, Binary, Call, Expr, Literal, Path, Unary

# Who may see a device: anyone for the city's; for a class device, its owner and the class's
# teacher only (not operators: a student's experiments are the class's, not the city's).
_VISIBLE = """(d.source <> 'class' OR (d.district = %(v_class)s AND (%(v_teacher)s OR d.owner = %(v_member)s)))"""

_THINGS = """
SELECT d.device_id AS id, coalesce(s.name, d.device_id) AS name,
       d.kind || ' sensor in ' || d.district AS description,
       jsonb_strip_nulls(jsonb_build_object(
           'kind', d.kind, 'district', d.district, 'source', d.source,
           'building_id', coalesce(s.building_id, d.building_id), 'parcel_pnu', coalesce(d.parcel_pnu, s.pnu),
           'external_id', d.external_id, 'installed_on', d.installed_on, 'address', d.address,
           'owner', d.owner)) AS properties,
       coalesce(ST_Transform(s.geom, 4326), ST_SetSRID(ST_MakePoint(d.lon_deg, d.lat_deg), 4326)) AS _geom,
       d.registered_at AS _since, d.kind AS _kind,
       coalesce(s.building_id, d.building_id) AS _building,
       coalesce('building:' || coalesce(s.building_id, d.building_id), 'point:' || d.device_id) AS _foi
FROM devices d LEFT JOIN device_sites s ON s.device_id = d.device_id
WHERE {visible}"""

_LOCATIONS = """
SELECT t.id, 'Location of ' || t.id AS name, 'where the twin placed ' || t.id AS description,
       'application/geo+json' AS "encodingType", t._geom AS location, '{{}}'::jsonb AS properties
FROM ({things}) t WHERE t._geom IS NOT NULL"""

_HISTORICAL = """
SELECT t.id, t._since AS time FROM ({things}) t WHERE t._geom IS NOT NULL"""


def _vocabulary() -> sql.Composed:
    """The metric vocabulary as a VALUES list (constants of our own contract, quoted by psycopg)."""
    rows = [
        sql.SQL("({})").format(sql.SQL(", ").join(sql.Literal(_escaped(v)) for v in (
            m.name, m.unit, m.description, f"urn:smartcity:metric:{m.name}", m.min_value, m.max_value)))
        for m in METRICS.values()
    ]  # fmt: skip
    return sql.SQL("(VALUES {}) AS v(metric, symbol, description, definition, min_value, max_value)").format(
        sql.SQL(", ").join(rows)
    )


def _escaped(value: object) -> object:
    """A constant for a statement run with parameters: its % doubled (``%RH`` is a unit)."""
    return value.replace("%", "%%") if isinstance(value, str) else value


_OM = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"

_DATASTREAMS = """
SELECT lr.device_id || ':' || lr.metric AS id, lr.device_id || ' ' || lr.metric AS name,
       coalesce(v.description, lr.metric) || ' at ' || lr.device_id AS description,
       jsonb_build_object('name', coalesce(v.description, lr.metric), 'symbol', v.symbol,
                          'definition', 'https://ucum.org/ucum#' || v.symbol) AS "unitOfMeasurement",
       {om} AS "observationType", NULL::text AS "phenomenonTime",
       jsonb_build_object('metric', lr.metric, 'latest_time', lr.time, 'latest_value', lr.value) AS properties,
       lr.device_id AS _device, lr.metric AS _metric, d.kind AS _kind
FROM latest_readings lr JOIN devices d ON d.device_id = lr.device_id
LEFT JOIN {vocabulary} ON v.metric = lr.metric
WHERE {visible}"""

_SENSORS = """
SELECT DISTINCT d.kind AS id, d.kind || ' sensor' AS name,
       'smartcity ' || d.kind || ' devices (any maker)' AS description,
       'text/plain' AS "encodingType", 'device kind ' || d.kind || ' in the smartcity contract' AS metadata,
       '{{}}'::jsonb AS properties
FROM devices d WHERE {visible}"""

_OBSERVED = """
SELECT v.metric AS id, v.metric AS name, v.definition, v.description,
       jsonb_build_object('unit', v.symbol, 'min', v.min_value, 'max', v.max_value) AS properties
FROM {vocabulary}"""

_OBSERVATIONS = """
SELECT r.device_id || ':' || r.metric || ':' || (extract(epoch FROM r.time) * 1000000)::bigint AS id,
       r.time AS "phenomenonTime", r.time AS "resultTime", r.value AS result, NULL::jsonb AS parameters,
       r.device_id AS _device, r.metric AS _metric,
       coalesce('building:' || coalesce(s.building_id, d.building_id), 'point:' || d.device_id) AS _foi
FROM readings r JOIN devices d ON d.device_id = r.device_id
LEFT JOIN device_sites s ON s.device_id = r.device_id
WHERE {visible}"""

_FEATURES = """
SELECT DISTINCT ON (t._foi) t._foi AS id, coalesce(b.name, b.building_id, 'position of ' || t.id) AS name,
       CASE WHEN b.building_id IS NOT NULL THEN 'building ' || b.building_id || ' (' || coalesce(b.use, '?') || ')'
            ELSE 'the position of device ' || t.id END AS description,
       'application/geo+json' AS "encodingType",
       coalesce(ST_Transform(b.geom, 4326), t._geom) AS feature,
       jsonb_strip_nulls(jsonb_build_object('use', b.use, 'height_m', b.height_m)) AS properties
FROM ({things}) t LEFT JOIN buildings b ON b.building_id = t._building
WHERE b.building_id IS NOT NULL OR t._geom IS NOT NULL
ORDER BY t._foi"""

_VIEWS = {
    "Things": _THINGS, "Locations": _LOCATIONS, "HistoricalLocations": _HISTORICAL, "Datastreams": _DATASTREAMS,
    "Sensors": _SENSORS, "ObservedProperties": _OBSERVED, "Observations": _OBSERVATIONS,
    "FeaturesOfInterest": _FEATURES,
}  # fmt: skip

S, N, T, J, G, B = "string", "number", "datetime", "json", "geometry", "bool"
COLUMNS: dict[str, dict[str, str]] = {
    "Things": {"id": S, "name": S, "description": S, "properties": J, "_geom": G, "_since": T, "_kind": S,
               "_building": S, "_foi": S},
    "Locations": {"id": S, "name": S, "description": S, "encodingType": S, "location": G, "properties": J},
    "HistoricalLocations": {"id": S, "time": T},
    "Datastreams": {"id": S, "name": S, "description": S, "unitOfMeasurement": J, "observationType": S,
                    "phenomenonTime": S, "properties": J, "_device": S, "_metric": S, "_kind": S},
    "Sensors": {"id": S, "name": S, "description": S, "encodingType": S, "metadata": S, "properties": J},
    "ObservedProperties": {"id": S, "name": S, "definition": S, "description": S, "properties": J},
    "Observations": {"id": S, "phenomenonTime": T, "resultTime": T, "result": N, "parameters": J,
                     "_device": S, "_metric": S, "_foi": S},
    "FeaturesOfInterest": {"id": S, "name": S, "description": S, "encodingType": S, "feature": G, "properties": J},
}  # fmt: skip

# How a navigation joins: (column of the target, column of the source) pairs, all equalities.
JOINS: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    ("Things", "Locations"): (("id", "id"),),
    ("Things", "HistoricalLocations"): (("id", "id"),),
    ("Things", "Datastreams"): (("_device", "id"),),
    ("Locations", "Things"): (("id", "id"),),
    ("Locations", "HistoricalLocations"): (("id", "id"),),
    ("HistoricalLocations", "Thing"): (("id", "id"),),
    ("HistoricalLocations", "Locations"): (("id", "id"),),
    ("Datastreams", "Thing"): (("id", "_device"),),
    ("Datastreams", "Sensor"): (("id", "_kind"),),
    ("Datastreams", "ObservedProperty"): (("id", "_metric"),),
    ("Datastreams", "Observations"): (("_device", "_device"), ("_metric", "_metric")),
    ("Sensors", "Datastreams"): (("_kind", "id"),),
    ("ObservedProperties", "Datastreams"): (("_metric", "id"),),
    ("Observations", "Datastream"): (("_device", "_device"), ("_metric", "_metric")),
    ("Observations", "FeatureOfInterest"): (("id", "_foi"),),
    ("FeaturesOfInterest", "Observations"): (("_foi", "id"),),
}
# The order a page is read in when none is asked for: the tables' keys, so paging is stable.
DEFAULT_ORDER = {"Datastreams": ("_device", "_metric"), "Observations": ("_device", "_metric", "phenomenonTime")}


def view(entity_set: str) -> sql.Composable:
    """The entity set's rows as a subquery, this viewer's visibility predicate in it."""
    things = sql.SQL(_THINGS).format(visible=sql.SQL(_VISIBLE))
    return sql.SQL(_VIEWS[entity_set]).format(
        visible=sql.SQL(_VISIBLE),
        things=things,
        vocabulary=_vocabulary(),
        om=sql.Literal(_OM),
    )


@dataclass(frozen=True)
class Viewer:
    """Who is reading: a teacher sees their class's devices, a student their own; anyone else
    (operators too) the city's only."""

    role: str = "public"  # public, operator, teacher, student
    class_id: str | None = None
    member: str | None = None

    def params(self) -> dict[str, object]:
        in_class = self.role in ("teacher", "student")
        return {"v_class": self.class_id if in_class else None, "v_teacher": self.role == "teacher",
                "v_member": self.member if self.role == "student" else None}  # fmt: skip


# -- the compiler -------------------------------------------------------------------------


@dataclass
class _Hop:
    view: str
    alias: str
    conditions: list[sql.Composable]


@dataclass
class Compiler:
    """Compiles expressions against one entity set; values land in ``params`` by name."""

    params: dict[str, object] = field(default_factory=dict)
    _names: Iterator[int] = field(default_factory=itertools.count)

    def value(self, value: object, cast: str) -> sql.Composable:
        name = f"p{next(self._names)}"
        self.params[name] = value
        return sql.SQL("{}::" + cast).format(sql.Placeholder(name))

    def alias(self) -> str:
        return f"t{next(self._names)}"

    # entry points
    def predicate(self, node: Expr, entity: EntityType, alias: str) -> sql.Composable:
        text, kind = self.expr(node, entity, alias, None)
        if kind not in (B, "null"):
            raise BadRequest(f"$filter must be true or false (a comparison or a test), not a {_said(kind)}")
        return text

    def order_key(self, node: Expr, entity: EntityType, alias: str) -> sql.Composable:
        text, kind = self.expr(node, entity, alias, None)
        if kind in (G, J):
            raise BadRequest(f"$orderby cannot order by a {_said(kind)}")
        return text

    def expr(self, node: Expr, entity: EntityType, alias: str, hops: list[_Hop] | None) -> tuple[sql.Composable, str]:
        if isinstance(node, Literal):
            return self.literal(node)
        if isinstance(node, Path):
            return self.path(node.segments, entity, alias, hops, node.segments)
        if isinstance(node, Unary):
            if node.op == "not":
                inner, kind = self.expr(node.operand, entity, alias, hops)
                _want(kind, B, "not")
                return sql.SQL("(NOT {})").format(inner), B
            inner, kind = self.expr(node.operand, entity, alias, hops)
            _want(kind, N, "-")
            return sql.SQL("(- {})").format(inner), N
        if isinstance(node, Binary):
            if node.op in ("and", "or"):
                left, lk = self.expr(node.left, entity, alias, hops)
                right, rk = self.expr(node.right, entity, alias, hops)
                _want(lk, B, node.op)
                _want(rk, B, node.op)
                return sql.SQL("({} " + node.op.upper() + " {})").format(left, right), B
            if node.op in COMPARISONS:
                return self.existential(lambda h: self.comparison(node, entity, alias, h), hops)
            return self.arithmetic(node, entity, alias, hops)
        return self.existential(lambda h: self.call(node, entity, alias, h), hops)

    def existential(self, build: Any, hops: list[_Hop] | None) -> tuple[sql.Composable, str]:
        """A test over paths that may cross navigations: true if some related entity passes."""
        mine: list[_Hop] = []
        text, kind = build(mine)
        if not mine:
            return text, kind
        if kind != B:
            raise BadRequest("a path across a navigation property may only be used in a comparison or test")
        froms = sql.SQL(", ").join(sql.SQL("({}) AS {}").format(view(h.view), sql.Identifier(h.alias)) for h in mine)
        conditions = sql.SQL(" AND ").join([c for h in mine for c in h.conditions] + [text])
        return sql.SQL("EXISTS (SELECT 1 FROM {} WHERE {})").format(froms, conditions), B

    def literal(self, node: Literal) -> tuple[sql.Composable, str]:
        kind, value = node.kind, node.value
        if kind == "null":
            return sql.SQL("NULL"), "null"
        if kind == N:
            return self.value(float(value), "float8"), N  # type: ignore[arg-type]
        if kind == "bool":
            return self.value(value, "boolean"), B
        if kind == "string":
            return self.value(value, "text"), S
        if kind == "datetime":
            return self.value(value, "timestamptz"), T
        if kind == "date":
            assert isinstance(value, date)
            return self.value(datetime(value.year, value.month, value.day, tzinfo=UTC), "timestamptz"), T
        if kind == "duration":
            return self.value(value, "interval"), "duration"
        try:
            shape = shapely.from_wkt(str(value))
        except shapely.errors.GEOSException as exc:
            raise BadRequest(f"geography'{str(value)[:60]}' is not valid WKT: {exc}") from None
        if shape.is_empty:
            raise BadRequest(f"geography'{str(value)[:60]}' is empty")
        return sql.SQL("ST_GeomFromText({}, 4326)").format(self.value(shape.wkt, "text")), G

    def path(
        self, segments: tuple[str, ...], entity: EntityType, alias: str, hops: list[_Hop] | None,
        whole: tuple[str, ...],
    ) -> tuple[sql.Composable, str]:  # fmt: skip
        first, rest = segments[0], segments[1:]
        columns = COLUMNS[entity.plural]
        name = "id" if first in ("id", "@iot.id") else first
        if name in columns and not name.startswith("_"):
            column = sql.Identifier(alias, name)
            kind = columns[name]
            if not rest:
                return column, kind
            if kind != J:
                raise BadRequest(f"{'/'.join(whole)}: {first} of a {entity.name} has no member {rest[0]!r}")
            keys = sql.SQL(", ").join(sql.Literal(k) for k in rest)  # JSON keys: quoted as constants
            return sql.SQL("({} #> ARRAY[{}]::text[])").format(column, keys), J
        nav = entity.nav(first)
        if nav is None:
            known = ", ".join([*entity.properties, *(n.name for n in entity.navs)])
            raise BadRequest(f"{'/'.join(whole)}: a {entity.name} has no property {first!r}; it has id, {known}")
        if not rest:
            raise BadRequest(f"{'/'.join(whole)}: {first} is an entity, not a value; name one of its properties")
        target = ENTITY_TYPES[nav.target]
        inner_alias = self.alias()
        conditions: list[sql.Composable] = [
            sql.SQL("{} = {}").format(sql.Identifier(inner_alias, dst), sql.Identifier(alias, src))
            for dst, src in JOINS[(entity.plural, nav.name)]
        ]
        if hops is not None:
            hops.append(_Hop(nav.target, inner_alias, conditions))
            return self.path(rest, target, inner_alias, hops, whole)
        if nav.many:
            raise BadRequest(f"{'/'.join(whole)}: {first} holds many entities; order by a property of one")
        inner, kind = self.path(rest, target, inner_alias, None, whole)
        return sql.SQL("(SELECT {} FROM ({}) AS {} WHERE {} LIMIT 1)").format(
            inner, view(nav.target), sql.Identifier(inner_alias), sql.SQL(" AND ").join(conditions)
        ), kind

    def comparison(self, node: Binary, entity: EntityType, alias: str, hops: list[_Hop]) -> tuple[sql.Composable, str]:
        left, lk = self.expr(node.left, entity, alias, hops)
        right, rk = self.expr(node.right, entity, alias, hops)
        if "null" in (lk, rk):
            if node.op not in ("eq", "ne"):
                raise BadRequest(f"null can only be compared with eq or ne, not {node.op}")
            other = right if lk == "null" else left
            return sql.SQL("({} IS {}NULL)").format(other, sql.SQL("" if node.op == "eq" else "NOT ")), B
        if lk == J and rk != J:
            left, lk = _from_json(left, rk)
        elif rk == J and lk != J:
            right, rk = _from_json(right, lk)
        if lk != rk:
            raise BadRequest(f"cannot compare a {_said(lk)} with a {_said(rk)} ({node.op})")
        if lk == G:
            raise BadRequest("geometries are compared with st_equals(a, b), not eq")
        op = {"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}[node.op]
        return sql.SQL("({} " + op + " {})").format(left, right), B

    def arithmetic(
        self, node: Binary, entity: EntityType, alias: str, hops: list[_Hop] | None
    ) -> tuple[sql.Composable, str]:
        left, lk = self.expr(node.left, entity, alias, hops)
        right, rk = self.expr(node.right, entity, alias, hops)
        if lk == J:
            left, lk = _from_json(left, N)
        if rk == J:
            right, rk = _from_json(right, N)
        if lk == N and rk == N:
            template = {"add": "({} + {})", "sub": "({} - {})", "mul": "({} * {})", "div": "({} / NULLIF({}, 0))",
                        "mod": "mod({}::numeric, NULLIF({}, 0)::numeric)::float8"}[node.op]  # fmt: skip
            return sql.SQL(template).format(left, right), N
        if lk == T and rk == "duration" and node.op in ("add", "sub"):
            return sql.SQL("({} " + ("+" if node.op == "add" else "-") + " {})").format(left, right), T
        if lk == T and rk == T and node.op == "sub":
            return sql.SQL("({} - {})").format(left, right), "duration"
        raise BadRequest(f"{node.op} is not defined for a {_said(lk)} and a {_said(rk)}")

    def call(self, node: Call, entity: EntityType, alias: str, hops: list[_Hop]) -> tuple[sql.Composable, str]:
        spec = FUNCTIONS.get(node.name)
        if spec is None:
            raise BadRequest(f"unknown function {node.name}(); known: {', '.join(sorted(FUNCTIONS))}")
        wanted, returns, template = spec
        if node.name == "now" and not node.args:
            return sql.SQL("now()"), T
        if len(node.args) not in (len(wanted), len(wanted) - sum(w.endswith("?") for w in wanted)):
            raise BadRequest(f"{node.name}() takes {len(wanted)} argument(s), got {len(node.args)}")
        args = []
        for i, arg in enumerate(node.args):
            text, kind = self.expr(arg, entity, alias, hops)
            expected = wanted[i].rstrip("?")
            if kind == J and expected != J:
                text, kind = _from_json(text, expected)
            if kind != expected:
                raise BadRequest(f"{node.name}() argument {i + 1} must be a {_said(expected)}, not a {_said(kind)}")
            args.append(text)
        if len(args) < len(wanted):
            template = template[1]
        elif isinstance(template, tuple):
            template = template[0]
        return sql.SQL(template).format(*args), returns


_DT = "({} AT TIME ZONE 'UTC')"
# name -> (argument kinds, result kind, SQL template(s)); "?" marks an optional last argument
FUNCTIONS: dict[str, tuple[tuple[str, ...], str, Any]] = {
    "substringof": ((S, S), B, "(strpos({1}, {0}) > 0)"),
    "contains": ((S, S), B, "(strpos({0}, {1}) > 0)"),
    "endswith": ((S, S), B, "(right({0}, char_length({1})) = {1})"),
    "startswith": ((S, S), B, "(left({0}, char_length({1})) = {1})"),
    "length": ((S,), N, "char_length({})::float8"),
    "indexof": ((S, S), N, "(strpos({0}, {1}) - 1)::float8"),
    "substring": ((S, N, "number?"), S, ("substr({0}, ({1})::int + 1, ({2})::int)", "substr({0}, ({1})::int + 1)")),
    "tolower": ((S,), S, "lower({})"),
    "toupper": ((S,), S, "upper({})"),
    "trim": ((S,), S, "btrim({})"),
    "concat": ((S, S), S, "({} || {})"),
    "year": ((T,), N, f"extract(year FROM {_DT})::float8"),
    "month": ((T,), N, f"extract(month FROM {_DT})::float8"),
    "day": ((T,), N, f"extract(day FROM {_DT})::float8"),
    "hour": ((T,), N, f"extract(hour FROM {_DT})::float8"),
    "minute": ((T,), N, f"extract(minute FROM {_DT})::float8"),
    "second": ((T,), N, f"floor(extract(second FROM {_DT}))::float8"),
    "fractionalseconds": ((T,), N, f"(extract(second FROM {_DT}) - floor(extract(second FROM {_DT})))::float8"),
    "date": ((T,), T, "date_trunc('day', {}, 'UTC')"),
    "totaloffsetminutes": ((T,), N, "(0 * extract(epoch FROM {}))::float8"),
    "now": ((), T, "now()"),
    "round": ((N,), N, "round({})"),
    "floor": ((N,), N, "floor({})"),
    "ceiling": ((N,), N, "ceil({})"),
    "geo.distance": ((G, G), N, "ST_Distance({}, {})"),
    "geo.length": ((G,), N, "ST_Length({})"),
    "geo.intersects": ((G, G), B, "ST_Intersects({}, {})"),
    "st_equals": ((G, G), B, "ST_Equals({}, {})"),
    "st_disjoint": ((G, G), B, "ST_Disjoint({}, {})"),
    "st_touches": ((G, G), B, "ST_Touches({}, {})"),
    "st_within": ((G, G), B, "ST_Within({}, {})"),
    "st_overlaps": ((G, G), B, "ST_Overlaps({}, {})"),
    "st_crosses": ((G, G), B, "ST_Crosses({}, {})"),
    "st_intersects": ((G, G), B, "ST_Intersects({}, {})"),
    "st_contains": ((G, G), B, "ST_Contains({}, {})"),
    "st_relate": ((G, G, S), B, "ST_Relate({}, {}, {})"),
}


def _from_json(text: sql.Composable, kind: str) -> tuple[sql.Composable, str]:
    """A JSON member read as the kind it is compared with (null where it is not one)."""
    if kind == N:
        return sql.SQL("(CASE WHEN jsonb_typeof({0}) = 'number' THEN ({0})::float8 END)").format(text), N
    if kind == B:
        return sql.SQL("(CASE WHEN jsonb_typeof({0}) = 'boolean' THEN ({0})::boolean END)").format(text), B
    if kind == S:
        return sql.SQL("({} #>> '{{}}')").format(text), S
    raise BadRequest(f"a JSON property can be compared with a number, text or true/false, not a {_said(kind)}")


def _want(kind: str, wanted: str, op: str) -> None:
    if kind not in (wanted, "null"):
        raise BadRequest(f"{op} needs a {_said(wanted)}, not a {_said(kind)}")


_SAID = {S: "text", N: "number", T: "date and time", J: "JSON value", G: "geometry", B: "true/false test",
         "duration": "duration", "null": "null"}  # fmt: skip


def _said(kind: str) -> str:
    return _SAID.get(kind, kind)


# -- statements ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Select:
    """One page of an entity set: the statement, its parameters, and its count statement."""

    statement: sql.Composed
    count: sql.Composed
    params: dict[str, object]


_OUTPUT = {G: "ST_AsGeoJSON({}, 9)::jsonb"}


def select(
    entity: EntityType,
    *,
    viewer: Viewer,
    pinned: dict[str, object],
    where: Expr | None,
    orderby: tuple[tuple[Expr, bool], ...],
    limit: int,
    offset: int,
) -> Select:
    """The statement for entities of ``entity`` with columns equal to ``pinned``, passing
    ``where``, in ``orderby`` order then by key, ``limit`` from ``offset``."""
    compiler = Compiler(params=viewer.params())
    alias = "t"
    conditions: list[sql.Composable] = []
    for column, value in pinned.items():
        kind = COLUMNS[entity.plural][column]
        conditions.append(sql.SQL("{} = {}").format(sql.Identifier(alias, column), compiler.value(value, _CAST[kind])))
    if where is not None:
        conditions.append(compiler.predicate(where, entity, alias))
    condition = sql.SQL(" AND ").join(conditions) if conditions else sql.SQL("true")
    keys: list[sql.Composable] = [
        sql.SQL("{} {}").format(compiler.order_key(e, entity, alias), sql.SQL(_direction(entity, e, d)))
        for e, d in orderby
    ]
    keys += [sql.Identifier(alias, c) for c in DEFAULT_ORDER.get(entity.plural, ("id",))]
    columns = sql.SQL(", ").join(
        sql.SQL(_OUTPUT.get(kind, "{}") + " AS {}").format(sql.Identifier(alias, name), sql.Identifier(name))
        for name, kind in COLUMNS[entity.plural].items()
    )
    source = sql.SQL("({}) AS {}").format(view(entity.plural), sql.Identifier(alias))
    statement = sql.SQL("SELECT {} FROM {} WHERE {} ORDER BY {} LIMIT {} OFFSET {}").format(
        columns, source, condition, sql.SQL(", ").join(keys), compiler.value(limit, "bigint"),
        compiler.value(offset, "bigint"),
    )  # fmt: skip
    count = sql.SQL("SELECT count(*) FROM {} WHERE {}").format(source, condition)
    return Select(statement, count, compiler.params)


def _direction(entity: EntityType, key: Expr, descending: bool) -> str:
    """OData sorts null below every value; PostgreSQL the other way round. Columns that are
    never null keep the plain direction, so the tables' indexes still serve the order."""
    plain = isinstance(key, Path) and len(key.segments) == 1 and (entity.plural, key.segments[0]) not in _NULLABLE
    plain = plain and COLUMNS[entity.plural].get(key.segments[0], J) not in (J, G)  # type: ignore[union-attr]
    if plain:
        return "DESC" if descending else "ASC"
    return "DESC NULLS LAST" if descending else "ASC NULLS FIRST"


_NULLABLE = {("Datastreams", "phenomenonTime")}
_CAST = {S: "text", N: "float8", T: "timestamptz", B: "boolean", J: "jsonb"}


# -- running them -------------------------------------------------------------------------------

_pools: dict[str, ConnectionPool[Any]] = {}
STATEMENT_TIMEOUT_MS = 15_000  # a query that would read the whole history is stopped, not waited for


def open_pool(dsn: str, *, max_size: int = 6) -> None:
    """The pool for ``dsn``, opened once per process (by the server that serves the API)."""
    if dsn not in _pools:
        pool: ConnectionPool[Any] = ConnectionPool(
            dsn, min_size=1, max_size=max_size, open=False, name="sta",
            kwargs={"options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}"},
        )  # fmt: skip
        pool.open(wait=False)
        _pools[dsn] = pool


def close_pools() -> None:
    for pool in _pools.values():
        pool.close()
    _pools.clear()


@contextmanager
def connection(dsn: str) -> Iterator[psycopg.Connection[Any]]:
    pool = _pools.get(dsn)
    try:
        if pool is None:
            with psycopg.connect(
                dsn, connect_timeout=5, options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}"
            ) as conn:
                yield conn
        else:
            with pool.connection(timeout=10) as conn:
                yield conn
    except psycopg.errors.QueryCanceled:
        raise Unavailable(f"the query ran past {STATEMENT_TIMEOUT_MS / 1000:g} s; narrow it with $filter") from None
    except psycopg.errors.DataException as exc:  # a value PostgreSQL refuses (an odd interval, a bad relate pattern)
        raise BadRequest(f"a value in the query was refused: {exc.diag.message_primary}") from None
    except psycopg.errors.InternalError as exc:  # PostGIS' own refusals (mixed geometry kinds, bad WKT)
        raise BadRequest(f"a geometry in the query was refused: {exc.diag.message_primary}") from None
    except (psycopg.OperationalError, TimeoutError) as exc:
        raise Unavailable(f"the database is not available: {exc}") from None


def rows(dsn: str, chosen: Select) -> list[dict[str, Any]]:
    with connection(dsn) as conn, conn.cursor(row_factory=dict_row) as cur:
        cur.execute(chosen.statement, chosen.params)
        return cur.fetchall()


def count(dsn: str, chosen: Select) -> int:
    with connection(dsn) as conn:
        found = conn.execute(chosen.count, chosen.params).fetchone()
    return int(found[0]) if found else 0


LISTEN_READINGS = sql.SQL("LISTEN {}").format(sql.Identifier(READINGS_CHANNEL))
