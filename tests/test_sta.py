"""The SensorThings API against the real database, tests derived from the conformance
classes' descriptions (OGC 18-088, SensorThings API 1.1 Part 1: Sensing): Sensing Core
(entity control information and properties of every entity type, resource paths),
Filtering (every query option), dataArray and, in test_sta_mqtt.py, MQTT receive."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient

from ingest.decode import decode
from ingest.writer import Message, Writer
from smartcity import classroom
from smartcity.settings import Settings
from sta.model import ENTITY_TYPES
from sta.queries import Viewer
from sta.service import StaConfig, install
from tests.fixtures.services import a_class

pytestmark = pytest.mark.integration

START = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
MANDATORY = {
    "Things": ("name", "description"),
    "Locations": ("name", "description", "encodingType", "location"),
    "HistoricalLocations": ("time",),
    "Datastreams": ("name", "description", "unitOfMeasurement", "observationType"),
    "Sensors": ("name", "description", "encodingType", "metadata"),
    "ObservedProperties": ("name", "definition", "description"),
    "Observations": ("phenomenonTime", "resultTime", "result"),
    "FeaturesOfInterest": ("name", "description", "encodingType", "feature"),
}


class City:
    def __init__(self, district: str, class_id: str, students: dict[str, classroom.Credential]) -> None:
        self.district = district
        self.a = f"{district}-a"
        self.b = f"{district}-b"
        self.class_id = class_id
        self.students = students
        self.mine = f"{class_id}/student01/esp-{district}"  # a class device of student01

    def only_ours(self) -> str:
        return f"$filter=properties/district eq '{self.district}'"


def _message(topic: str, body: dict[str, Any], now: datetime, i: int) -> Message:
    payload = json.dumps(body).encode()
    return Message(i, 1, topic, payload, now, decode(topic, payload, now))


@pytest.fixture(scope="module")
def city(settings: Settings, dsn: str) -> Iterator[City]:
    import uuid

    district = f"sta{uuid.uuid4().hex[:6]}"
    for class_id, students in a_class(settings, dsn, "sta"):
        made = City(district, class_id, students)
        now = START + timedelta(hours=2)
        messages = []
        for i in range(30):
            when = (START + timedelta(minutes=i)).isoformat()
            body = {"time": when, "metrics": {"pm25_ugm3": float(i), "pm10_ugm3": 2.0 * i}}
            messages.append(_message(f"city/{district}/air/{made.a}", body, now, i))
        for i in range(10):
            when = (START + timedelta(minutes=i)).isoformat()
            body = {"time": when, "metrics": {"noise_dba": 40.0 + i}}
            messages.append(_message(f"city/{district}/noise/{made.b}", body, now, 100 + i))
        for i in range(5):
            when = (START + timedelta(minutes=i)).isoformat()
            topic = f"class/{class_id}/student01/esp-{district}"
            messages.append(_message(topic, {"time": when, "metrics": {"pm25_ugm3": 500.0 + i}}, now, 200 + i))
        with psycopg.connect(dsn) as conn:
            result = Writer(conn).write(messages)
            assert result.inserted == 30 * 2 + 10 + 5 and not result.rejected
            with conn.transaction():  # placed: a at Goyang's centre, b 2 km east
                place = "UPDATE devices SET lon_deg = %s, lat_deg = %s WHERE device_id = %s"
                conn.execute(place, (126.832, 37.658, made.a))
                conn.execute(place, (126.855, 37.658, made.b))
                conn.execute(place, (126.840, 37.660, made.mine))
        yield made


@pytest.fixture(scope="module")
def viewer_box() -> list[Viewer | None]:
    return [None]


@pytest.fixture(scope="module")
def client(dsn: str, viewer_box: list[Viewer | None]) -> FlaskClient:
    app = Flask("sta-test")
    install(app, StaConfig(dsn=dsn), lambda: viewer_box[0])
    return app.test_client()


@pytest.fixture(autouse=True)
def _public(viewer_box: list[Viewer | None]) -> Iterator[None]:
    viewer_box[0] = None
    yield
    viewer_box[0] = None


def get(client: FlaskClient, path: str, status: int = 200) -> Any:
    resource, mark, query = path.partition("?")
    if "%24" not in query:  # not a link the server wrote: encode '+' as a browser would
        query = query.replace("+", "%2B")
    answer = client.get("/sta/v1.1/" + resource + mark + query)
    assert answer.status_code == status, (path, answer.status_code, answer.get_data(as_text=True)[:400])
    return answer.get_json() if answer.mimetype == "application/json" else answer.get_data(as_text=True)


# -- Sensing Core -------------------------------------------------------------------------


def test_service_root_lists_every_entity_set_and_the_conformance_classes(client: FlaskClient) -> None:
    root = get(client, "")
    assert [v["name"] for v in root["value"]] == list(ENTITY_TYPES)
    assert all(v["url"].endswith("/sta/v1.1/" + v["name"]) for v in root["value"])
    assert "http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel" in root["serverSettings"]["conformance"]


def _first_of(client: FlaskClient, city: City, entity_set: str) -> dict[str, Any]:
    """One entity of each set that belongs to this test's city."""
    chosen = {
        "Things": f"Things('{city.a}')",
        "Locations": f"Locations('{city.a}')",
        "HistoricalLocations": f"HistoricalLocations('{city.a}')",
        "Datastreams": f"Datastreams('{city.a}:pm25_ugm3')",
        "Sensors": "Sensors('air')",
        "ObservedProperties": "ObservedProperties('pm25_ugm3')",
        "Observations": f"Datastreams('{city.a}:pm25_ugm3')/Observations?$top=1",
        "FeaturesOfInterest": f"FeaturesOfInterest('point:{city.a}')",
    }[entity_set]
    found: dict[str, Any] = get(client, chosen)
    first: dict[str, Any] = found["value"][0] if "value" in found else found
    return first


@pytest.mark.parametrize("entity_set", list(ENTITY_TYPES))
def test_every_entity_has_its_control_information_properties_and_links(
    client: FlaskClient, city: City, entity_set: str
) -> None:
    entity = _first_of(client, city, entity_set)
    kind = ENTITY_TYPES[entity_set]
    assert entity["@iot.selfLink"].startswith("http://localhost/sta/v1.1/" + entity_set + "(")
    for name in MANDATORY[entity_set]:
        assert entity.get(name) is not None, (entity_set, name, entity)
    for nav in kind.navs:
        assert entity[f"{nav.name}@iot.navigationLink"] == entity["@iot.selfLink"] + "/" + nav.name
    # the self link reads the same entity back, and every navigation link answers
    again = get(client, entity["@iot.selfLink"].split("/sta/v1.1/", 1)[1])
    assert again == entity
    for nav in kind.navs:
        linked = get(client, entity[f"{nav.name}@iot.navigationLink"].split("/sta/v1.1/", 1)[1])
        if nav.many:
            assert isinstance(linked["value"], list)
        else:
            assert linked["@iot.id"]


def test_collections_are_wrapped_in_value_and_every_set_answers(client: FlaskClient, city: City) -> None:
    for entity_set in ENTITY_TYPES:
        page = get(client, f"{entity_set}?$top=2")
        assert isinstance(page["value"], list) and len(page["value"]) <= 2


def test_values_are_what_was_stored(client: FlaskClient, city: City) -> None:
    datastream = get(client, f"Datastreams('{city.a}:pm25_ugm3')")
    assert datastream["unitOfMeasurement"]["symbol"] == "ug/m3"
    assert datastream["observationType"].endswith("OM_Measurement")
    observations = get(client, f"Datastreams('{city.a}:pm25_ugm3')/Observations?$orderby=phenomenonTime&$top=100")
    got = [(o["phenomenonTime"], o["result"]) for o in observations["value"]]
    assert got == [((START + timedelta(minutes=i)).isoformat().replace("+00:00", "Z"), float(i)) for i in range(30)]
    location = get(client, f"Things('{city.a}')/Locations")["value"][0]
    assert location["location"] == {"type": "Point", "coordinates": [126.832, 37.658]}
    assert location["encodingType"] == "application/geo+json"


def test_property_value_and_ref_paths(client: FlaskClient, city: City) -> None:
    assert get(client, f"Things('{city.a}')/name") == {"name": city.a}
    assert get(client, f"Things('{city.a}')/name/$value") == city.a
    result = get(client, f"Datastreams('{city.a}:pm25_ugm3')/Observations?$top=1&$select=id")["value"][0]["@iot.id"]
    assert get(client, f"Observations('{result}')/result/$value") == "0.0"
    assert get(client, f"Things('{city.a}')/$ref")["@iot.selfLink"].endswith(f"Things('{city.a}')")
    assert get(client, f"Observations('{result}')/Datastream/Thing/name") == {"name": city.a}


def test_unknown_entities_and_paths_are_not_found_with_a_reason(client: FlaskClient, city: City) -> None:
    for path in ("Things('no-such-device')", "Gadgets", f"Things('{city.a}')/Gizmos", "Datastreams('nocolon')",
                 "Observations('x:y:notanumber')"):  # fmt: skip
        error = get(client, path, 404)
        assert error["code"] == 404 and error["type"] == "error" and error["message"]


# -- Filtering: query options -------------------------------------------------------------


def test_filter_comparison_logical_and_arithmetic(client: FlaskClient, city: City) -> None:
    base = f"Datastreams('{city.a}:pm25_ugm3')/Observations?$top=100&$filter="
    assert len(get(client, base + "result gt 20")["value"]) == 9
    assert len(get(client, base + "result ge 20 and result lt 25")["value"]) == 5
    assert len(get(client, base + "result eq 3 or result eq 4 or not (result ne 5)")["value"]) == 3
    assert len(get(client, base + "result mul 2 sub 1 gt 50")["value"]) == 4  # 26..29
    assert len(get(client, base + "result mod 10 eq 0")["value"]) == 3
    assert len(get(client, base + "(result add 1) div 2 le 2")["value"]) == 4  # 0..3


def test_filter_temporal(client: FlaskClient, city: City) -> None:
    base = f"Datastreams('{city.a}:pm25_ugm3')/Observations?$top=100&$filter="
    assert len(get(client, base + "phenomenonTime ge 2026-03-01T00:20:00Z")["value"]) == 10
    assert len(get(client, base + "phenomenonTime lt 2026-03-01T00:10:00+09:00 add duration'PT9H'")["value"]) == 10
    assert len(get(client, base + "minute(phenomenonTime) lt 5 and year(phenomenonTime) eq 2026")["value"]) == 5
    assert len(get(client, base + "phenomenonTime gt now()")["value"]) == 0
    assert len(get(client, base + "date(phenomenonTime) eq 2026-03-01")["value"]) == 30


def test_filter_string_functions(client: FlaskClient, city: City) -> None:
    ours = f" and properties/district eq '{city.district}'"
    assert [t["@iot.id"] for t in get(client, f"Things?$filter=endswith(name, '-a'){ours}")["value"]] == [city.a]
    assert len(get(client, f"Things?$filter=startswith(name, '{city.district}'){ours}")["value"]) == 2
    assert len(get(client, f"Things?$filter=substringof('-b', name){ours}")["value"]) == 1
    assert len(get(client, f"Things?$filter=length(name) eq {len(city.a)}{ours}")["value"]) == 2
    assert len(get(client, f"Things?$filter=toupper(name) eq '{city.a.upper()}'{ours}")["value"]) == 1
    assert len(get(client, f"Things?$filter=indexof(name, '-b') eq {len(city.district)}{ours}")["value"]) == 1
    assert len(get(client, f"Things?$filter=substring(name, {len(city.district) + 1}) eq 'a'{ours}")["value"]) == 1
    assert len(get(client, f"Things?$filter=concat(name, '!') eq '{city.a}!'{ours}")["value"]) == 1


def test_filter_across_navigation_paths(client: FlaskClient, city: City) -> None:
    in_city = f"Datastream/Thing/properties/district eq '{city.district}'"
    noise = get(client, f"Observations?$top=100&$filter=Datastream/Thing/properties/kind eq 'noise' and {in_city}")
    assert len(noise["value"]) == 10
    things = get(client, f"Things?$filter=Datastreams/ObservedProperty/id eq 'noise_dba' and {city.only_ours()[8:]}")
    assert [t["@iot.id"] for t in things["value"]] == [city.b]
    units = get(client, f"Datastreams?$filter=unitOfMeasurement/symbol eq 'dBA' and {in_city[11:]}")
    assert [d["@iot.id"] for d in units["value"]] == [f"{city.b}:noise_dba"]


def test_filter_geospatial(client: FlaskClient, city: City) -> None:
    box = "geography'POLYGON((126.82 37.65, 126.845 37.65, 126.845 37.67, 126.82 37.67, 126.82 37.65))'"
    ours = f"properties/district eq '{city.district}'"
    within = get(client, f"Things?$filter=st_within(Locations/location, {box}) and {ours}")
    assert [t["@iot.id"] for t in within["value"]] == [city.a]
    located = get(client, f"Locations?$filter=st_intersects(location, {box}) and Things/{ours}")
    assert [t["@iot.id"] for t in located["value"]] == [city.a]
    point = "geography'POINT(126.855 37.658)'"
    near = get(client, f"Locations?$filter=geo.distance(location, {point}) lt 0.001 and Things/{ours}")
    assert [t["@iot.id"] for t in near["value"]] == [city.b]
    disjoint = get(client, f"Things?$filter=st_disjoint(Locations/location, {box}) and {ours}")
    assert [t["@iot.id"] for t in disjoint["value"]] == [city.b]


def test_expand_with_nested_options_select_orderby_top_skip_count(client: FlaskClient, city: City) -> None:
    observations = "Observations($filter=result ge 28;$orderby=result desc;$select=result;$count=true)"
    expand = f"Datastreams($orderby=name desc;$expand={observations}),Locations($select=location)"
    thing = get(client, f"Things('{city.a}')?$select=id,name&$expand={expand}")
    assert set(thing) == {"@iot.id", "name", "Datastreams", "Locations"}
    assert [d["@iot.id"] for d in thing["Datastreams"]] == [f"{city.a}:pm25_ugm3", f"{city.a}:pm10_ugm3"]
    assert thing["Datastreams"][0]["Observations"] == [{"result": 29.0}, {"result": 28.0}]
    assert thing["Datastreams"][0]["Observations@iot.count"] == 2
    assert thing["Locations"] == [{"location": {"type": "Point", "coordinates": [126.832, 37.658]}}]
    path = f"Datastreams('{city.a}:pm25_ugm3')/Observations?$orderby=result desc&$top=5&$skip=10&$count=true"
    page = get(client, path)
    assert [o["result"] for o in page["value"]] == [19.0, 18.0, 17.0, 16.0, 15.0]
    assert page["@iot.count"] == 30
    following = get(client, page["@iot.nextLink"].split("/sta/v1.1/", 1)[1])
    assert [o["result"] for o in following["value"]] == [14.0, 13.0, 12.0, 11.0, 10.0]
    expanded_path = get(client, f"Things('{city.b}')?$expand=Datastreams/ObservedProperty")
    assert expanded_path["Datastreams"][0]["ObservedProperty"]["@iot.id"] == "noise_dba"


def test_paging_walks_every_entity_once(client: FlaskClient, city: City) -> None:
    path, seen = f"Datastreams('{city.a}:pm10_ugm3')/Observations?$top=7", []
    while path:
        page = get(client, path)
        seen += [o["result"] for o in page["value"]]
        link = page.get("@iot.nextLink")
        path = link.split("/sta/v1.1/", 1)[1] if link else ""
    assert sorted(seen) == [2.0 * i for i in range(30)]


def test_data_array(client: FlaskClient, city: City) -> None:
    in_city = f"Datastream/Thing/properties/district eq '{city.district}'"
    query = f"$resultFormat=dataArray&$top=100&$filter={in_city} and result lt 2&$select=result,phenomenonTime"
    page = get(client, f"Observations?{query}")
    groups = {g["Datastream@iot.navigationLink"].rsplit("/", 1)[1]: g for g in page["value"]}
    pm25 = groups[f"Datastreams('{city.a}:pm25_ugm3')"]
    assert pm25["components"] == ["result", "phenomenonTime"]
    assert pm25["dataArray@iot.count"] == 2
    assert pm25["dataArray"] == [[0.0, "2026-03-01T00:00:00Z"], [1.0, "2026-03-01T00:01:00Z"]]
    assert set(groups) == {f"Datastreams('{city.a}:pm25_ugm3')", f"Datastreams('{city.a}:pm10_ugm3')"}


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("Things?$filter=name eq", "ends too early"),
        ("Things?$filter=nmae eq 'x'", "no property 'nmae'"),
        ("Things?$filter=name eq 5", "cannot compare a text with a number"),
        ("Things?$filter=name", "must be true or false"),
        ("Things?$filter=frobnicate(name)", "unknown function frobnicate"),
        ("Things?$filter=st_within(name, geography'POINT(1 2)')", "must be a geometry"),
        ("Things?$filter=st_within(Locations/location, geography'LINESTRING 1 2')", "not a WKT geometry"),
        ("Things?$filter=st_within(Locations/location, geography'POLYGON((1 2, 3 4)')", "unbalanced"),
        ("Things?$filter=st_within(Locations/location, geography'POLYGON((1 2, 3 4))')", "not valid WKT"),
        ("Observations?$filter=phenomenonTime gt duration'P1X'", "not an ISO 8601 duration"),
        ("Things?$top=-1", "$top"),
        ("Things?$top=ten", "$top"),
        ("Things?$skip=1.5", "$skip"),
        ("Things?$count=yes", "$count"),
        ("Things?$orderby=properties", "cannot order by a JSON value"),
        ("Things?$orderby=Datastreams/name", "holds many"),
        ("Things?$select=name,colour", "no property 'colour'"),
        ("Things?$expand=Gadgets", "no navigation property 'Gadgets'"),
        ("Things?$expand=Datastreams($top=x)", "$top"),
        ("Things?$resultFormat=dataArray", "Observations only"),
        ("Observations?$resultFormat=csv", "not supported"),
        ("Things?$frobnicate=1", "unknown query option '$frobnicate'"),
        ("Things?$filter=(name eq 'a'", "expected ')'"),
        ("Things?$filter=" + "(" * 60 + "true" + ")" * 60, "nests deeper"),
        ("Things('a')/name/extra", "nothing can follow"),
        ("Things/name", "by id before navigating"),
    ],
)
def test_bad_query_options_are_refused_with_a_message_naming_the_problem(
    client: FlaskClient, city: City, query: str, named: str
) -> None:
    error = get(client, query, 400)
    assert error["code"] == 400 and error["type"] == "error"
    assert named in error["message"], error["message"]


def test_values_reach_sql_only_as_parameters(client: FlaskClient, city: City) -> None:
    hostile = "'; DROP TABLE readings; --"
    assert get(client, f"Things?$filter=name eq '{hostile.replace(chr(39), chr(39) * 2)}'")["value"] == []
    assert get(client, f"Things?$filter=properties/{'x'}'); DROP TABLE devices;-- eq 'a'", 400)["code"] == 400
    assert get(client, f"Things('{city.a}')")["@iot.id"] == city.a  # both tables still there


# -- visibility ---------------------------------------------------------------------------------


def _sees_class_device(client: FlaskClient, city: City) -> dict[str, bool]:
    quoted = city.mine.replace("'", "''")
    listed = get(client, "Things?$top=1000&$filter=properties/source eq 'class'")["value"]
    observed = get(client, f"Observations?$filter=result ge 500 and Datastream/Thing/id eq '{quoted}'")["value"]
    expanded = get(client, "ObservedProperties('pm25_ugm3')?$expand=Datastreams($top=1000;$expand=Thing)")
    near = "geo.distance(location, geography'POINT(126.840 37.660)') lt 0.0001"
    located = get(client, f"Locations?$top=1000&$filter={near}")["value"]
    return {
        "thing": client.get(f"/sta/v1.1/Things('{quoted}')").status_code == 200,
        "listed": any(t["@iot.id"] == city.mine for t in listed),
        "observations": bool(observed),
        "datastream": client.get(f"/sta/v1.1/Datastreams('{quoted}:pm25_ugm3')/Observations").status_code == 200,
        "expanded": any(d.get("Thing", {}).get("@iot.id") == city.mine for d in expanded["Datastreams"]),
        "location": any(loc["@iot.id"] == city.mine for loc in located),
        "feature": client.get(f"/sta/v1.1/FeaturesOfInterest('point:{quoted}')").status_code == 200,
    }


def test_a_class_device_is_seen_by_its_owner_and_its_teacher_only(
    client: FlaskClient, city: City, viewer_box: list[Viewer | None]
) -> None:
    nobody = {k: False for k in _sees_class_device(client, city)}
    everything = {k: True for k in nobody}
    assert _sees_class_device(client, city) == nobody  # the public
    viewer_box[0] = Viewer("student", city.class_id, "student02")
    assert _sees_class_device(client, city) == nobody  # a classmate
    viewer_box[0] = Viewer("teacher", "another-class", "teacher")
    assert _sees_class_device(client, city) == nobody  # another class's teacher
    viewer_box[0] = Viewer("student", city.class_id, "student01")
    assert _sees_class_device(client, city) == everything  # the owner
    viewer_box[0] = Viewer("teacher", city.class_id, "teacher")
    assert _sees_class_device(client, city) == everything
    viewer_box[0] = Viewer("operator")
    assert _sees_class_device(client, city) == nobody  # the city's staff: the city's devices only
    viewer_box[0] = Viewer("student", "another-class", "student01")
    assert _sees_class_device(client, city) == nobody  # the same member name in another class


def test_private_service_asks_for_credentials(dsn: str) -> None:
    app = Flask("sta-private")
    install(app, StaConfig(dsn=dsn, public=False), lambda: None)
    answer = app.test_client().get("/sta/v1.1/Things")
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Basic")
    assert "sign in" in answer.get_json()["message"]
