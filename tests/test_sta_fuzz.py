"""Hostile query options and paths: whatever a client sends, the SensorThings API answers
with a refusal that names the problem (BadRequest/NotFound) or a statement built only
from parameters, never another exception (which would be a 500)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sta.errors import StaError
from sta.model import ENTITY_TYPES
from sta.odata import parse_options
from sta.queries import Viewer, select
from sta.resources import parse_path

PIECES = st.sampled_from([
    "result", "phenomenonTime", "name", "id", "@iot.id", "properties/kind", "Datastream/Thing/name",
    "Things/Locations/location", "Locations/location", "location", "unitOfMeasurement/symbol", "Datastreams/name",
    " eq ", " ne ", " gt ", " and ", " or ", "not ", " add ", " sub ", " mul ", " div ", " mod ", "(", ")", ",",
    "'x'", "'it''s'", "''", "5", "-3.5", "1e400", "true", "null", "2026-11-29T00:00:00Z", "2026-02-30",
    "duration'P1D'", "duration'PX'", "geography'POINT(1 2)'", "geography'POLYGON((0 0,1 0,1 1,0 0))'",
    "geography'POINT(1'", "st_within(", "geo.distance(", "substringof(", "year(", "now()", "length(",
    "$", "/", "'", ";", "%", "\\", "\x00", "é", "😀", "%(v_all)s", "%s",
])  # fmt: skip
EXPRESSIONS = st.lists(PIECES, max_size=14).map("".join) | st.text(max_size=60)


EXPANDS = st.lists(
    st.sampled_from(["Datastreams", "Thing", "Observations", "($top=2)", "($filter=", "/", ",", ";", "$expand=",
                     "Locations", ")", "("]),
    max_size=8,
).map("".join)  # fmt: skip
OPTIONS = st.fixed_dictionaries({
    "$filter": EXPRESSIONS, "$orderby": EXPRESSIONS, "$expand": EXPANDS, "$select": st.text(max_size=30),
    "$top": st.text(max_size=6) | st.sampled_from(["²", "٣", "10", " 7 ", "99999999999999"]),
})  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(entity=st.sampled_from(sorted(ENTITY_TYPES)), raw=OPTIONS)
def test_any_query_options_are_refused_or_compiled_to_parameters(entity: str, raw: dict[str, str]) -> None:
    for keys in ([k] for k in raw):
        _refused_or_parameterised(entity, {k: raw[k] for k in keys})
    _refused_or_parameterised(entity, raw)


def _refused_or_parameterised(entity: str, chosen_options: dict[str, str]) -> None:
    try:
        options = parse_options(chosen_options)
        chosen = select(ENTITY_TYPES[entity], viewer=Viewer(), pinned={}, where=options.filter,
                        orderby=options.orderby, limit=10, offset=0)  # fmt: skip
    except StaError as exc:
        assert exc.message
        assert exc.status in (400, 404)
        return
    text = chosen.statement.as_string(None)
    for value in chosen.params.values():  # the request's values never appear in the statement as literals
        if isinstance(value, str) and value:
            assert "'" + value.replace("'", "''") + "'" not in text


@settings(max_examples=300, deadline=None)
@given(
    st.text(max_size=80) | st.lists(PIECES | st.sampled_from(["Things", "('a')", "(1)", "/"]), max_size=8).map("".join)
)
def test_any_resource_path_is_read_or_refused(path: str) -> None:
    try:
        segments = parse_path(path)
    except StaError as exc:
        assert exc.status == 400 and exc.message
        return
    assert all(s.name for s in segments)
