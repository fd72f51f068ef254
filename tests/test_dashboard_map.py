"""The map reads as a place (pure parts, no browser): the sky by the city's clock, streams and
main roads drawn as such, dongs named in both languages, a legend for every colour, and the
accessible controls' rules against whatever a browser sends."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboard import controls, legend, mapspec, sky
from dashboard.colors import BUILDING_COLORS, ramp

GOYANG = (37.66, 126.83)  # lat, lon of the Smart City Center's dongs


def test_the_sun_stands_where_the_almanac_puts_it() -> None:
    # solar noon at Goyang is about 12:30 KST (03:30 UTC): elevation 90 - lat +/- 23.44 at the solstices
    summer, summer_az = sky.sun_position(datetime(2026, 6, 21, 3, 30, tzinfo=UTC), *GOYANG)
    winter, winter_az = sky.sun_position(datetime(2026, 12, 21, 3, 30, tzinfo=UTC), *GOYANG)
    assert summer == pytest.approx(90 - 37.66 + 23.44, abs=0.6) and 170 < summer_az < 190
    assert winter == pytest.approx(90 - 37.66 - 23.44, abs=0.6) and 170 < winter_az < 190
    # Seoul's sunset on 4 December is 17:14 KST (08:14 UTC), in the south-west
    sunset, sunset_az = sky.sun_position(datetime(2026, 12, 4, 8, 14, tzinfo=UTC), *GOYANG)
    assert abs(sunset) < 1.0 and 235 < sunset_az < 250
    morning_el, morning_az = sky.sun_position(datetime(2026, 6, 21, 0, 0, tzinfo=UTC), *GOYANG)  # 09:00 KST
    assert morning_el > 30 and 60 < morning_az < 120, "a summer morning's sun is in the east"


def test_the_sky_dims_through_dusk_and_lights_the_city_from_the_sun() -> None:
    noon = sky.sky(datetime(2026, 6, 21, 3, 30, tzinfo=UTC), *GOYANG)
    dusk = sky.sky(datetime(2026, 12, 4, 8, 20, tzinfo=UTC), *GOYANG)
    night = sky.sky(datetime(2026, 12, 4, 15, 0, tzinfo=UTC), *GOYANG)
    assert (noon["phase"], dusk["phase"], night["phase"]) == ("day", "twilight", "night")
    brightness = [sum(s["background"]) for s in (noon, dusk, night)]
    assert brightness[0] > brightness[1] > brightness[2]
    ambient = [s["light"]["ambient"]["intensity"] for s in (noon, dusk, night)]
    assert ambient[0] > ambient[1] > ambient[2]
    x, y, z = noon["light"]["sun"]["direction"]
    assert z < 0 and y > 0, "the noon sun is in the south: its light travels north and down"
    assert math.hypot(x, y) < abs(z), "and it is high"
    # a sensor's colour stays as bright at night as by day
    assert sky.sensor_glow(night) * night["light"]["ambient"]["intensity"] == pytest.approx(1.0, abs=0.01)
    assert sky.sensor_glow(None) == 1.0


@pytest.mark.parametrize("text", ["", "25:00", "12:60", "12", "noon", "12:00:00", "１２:００", None, "9" * 200])
def test_a_bad_sky_preview_is_the_sky_of_now(text: str | None) -> None:
    assert sky.parse_clock(text, "Asia/Seoul") is None


def test_a_sky_preview_is_that_time_today_in_the_citys_zone() -> None:
    found = sky.parse_clock("22:30", "Asia/Seoul", today=datetime(2026, 12, 4, 21, 0, tzinfo=UTC))
    assert found is not None and found.isoformat() == "2026-12-05T22:30:00+09:00"


def test_streams_and_main_roads_are_drawn_as_such_in_metres() -> None:
    ways = pd.DataFrame(
        {
            "way_id": ["s1", "r1", "r2", "r3"],
            "kind": ["stream", "street", "street", "street"],
            "name": ["창릉천", "중앙로", None, None],
            "width_m": [None, 30.0, 6.0, float("nan")],
            "path": [[[126.8, 37.6], [126.81, 37.61]]] * 4,
        }
    )
    layer = mapspec.ways_layer(ways)
    assert layer["widthUnits"] == "meters", "units an accessor would draw every street thousands of metres wide"
    colours = [d["color"] for d in layer["data"]]
    assert colours == [mapspec.STREAM_COLOR, mapspec.MAIN_ROAD_COLOR, mapspec.STREET_COLOR, mapspec.STREET_COLOR]
    assert [d["width"] for d in layer["data"]] == [12.0, 30.0, 6.0, 8.0]
    assert mapspec.boundary_layer([[[[126.8, 37.6], [126.9, 37.6], [126.9, 37.7]]]])["widthUnits"] == "meters"


def test_dongs_are_outlined_and_named_in_both_languages() -> None:
    areas = pd.DataFrame(
        {
            "area_id": ["3110154", "x"],
            "name": ["성사1동", None],
            "name_en": ["Seongsa 1(il)-dong", None],
            "polygons": [[[[[126.8, 37.6], [126.81, 37.6], [126.81, 37.61], [126.8, 37.6]]]], []],
            "label_lon_deg": [126.805, None],
            "label_lat_deg": [37.605, None],
        }
    )
    outlines, names = mapspec.area_layers(areas)
    assert outlines["@@type"] == "PathLayer" and len(outlines["data"]) == 1
    assert names["@@type"] == "TextLayer" and names["characterSet"] == "auto", "Hangul needs more than ASCII"
    assert [d["text"] for d in names["data"]] == ["성사1동\nSeongsa 1(il)-dong"]
    _, english_first = mapspec.area_layers(areas, lang="en")
    assert english_first["data"][0]["text"] == "Seongsa 1(il)-dong\n성사1동"
    assert mapspec.area_layers(areas.iloc[0:0]) == []


def _rgb(colour: list[int]) -> list[int]:
    return list(colour[:3])


@pytest.mark.parametrize("colour_by", ["use", "anomaly", "exposure"])
def test_the_legend_names_every_colour_the_map_draws(colour_by: str) -> None:
    shown = ("buildings", "sensors", "ways", "parcels")
    swatches = [rgb for _, rgb, _ in legend.entries(colour_by, shown)]
    drawn: list[list[int]] = [_rgb(mapspec.STREAM_COLOR), _rgb(mapspec.MAIN_ROAD_COLOR), _rgb(mapspec.STREET_COLOR),
                              _rgb(mapspec.PARCEL_LINE_COLOR), _rgb(mapspec.AREA_LINE_COLOR)]  # fmt: skip
    records = [{"building_id": f"b{i}", "ring": [], "height_m": 3.0, "use": u} for i, u in enumerate(BUILDING_COLORS)]
    buildings = mapspec.building_layer(
        records, colour_by=colour_by, in_anomaly={"b0"}, exposure={"b1": 0.0, "b2": 75.0, "b3": 37.5}
    )  # a ramp's ends and middle, and a building without data (b0, b4)
    drawn += [_rgb(d["color"]) for d in buildings["data"]]
    drawn += [_rgb(ramp(0.0)), _rgb(ramp(0.5)), _rgb(ramp(1.0))]  # the sensors' low, middle and high
    missing = [c for c in drawn if c not in swatches]
    assert missing == [], f"colours on the map without a legend entry: {missing}"
    labels = [label for label, _, _ in legend.entries(colour_by, shown)]
    assert all(" · " in label for label in labels), "every entry in Korean and English"


def test_the_legend_leaves_out_what_is_hidden() -> None:
    labels = " ".join(label for label, _, _ in legend.entries("use", ("buildings",)))
    assert "stream" not in labels and "sensor" not in labels and "dong boundary" in labels


OPTIONS = ["buildings", "sensors", "ways", "parcels"]


@given(st.lists(st.sampled_from([*OPTIONS, "bogus"]), max_size=6), st.text(max_size=12), st.booleans())
def test_a_toggle_click_only_ever_yields_known_values(current: list[str], clicked: str, multiple: bool) -> None:
    chosen = controls.toggled(current, clicked, OPTIONS, multiple=multiple)
    assert set(chosen) <= set(OPTIONS) and len(chosen) == len(set(chosen))
    if not multiple and clicked in OPTIONS:
        assert chosen == [clicked]


def test_toggles_flip_in_a_multiple_group_and_choose_in_a_single_one() -> None:
    assert controls.toggled(["buildings"], "parcels", OPTIONS, multiple=True) == ["buildings", "parcels"]
    assert controls.toggled(["buildings", "parcels"], "buildings", OPTIONS, multiple=True) == ["parcels"]
    assert controls.toggled(["use"], "anomaly", ["use", "anomaly"], multiple=False) == ["anomaly"]
    assert controls.toggled(["use"], "use", ["use", "anomaly"], multiple=False) == ["use"]


@given(st.one_of(st.none(), st.booleans(), st.text(max_size=20), st.floats(), st.integers(), st.lists(st.integers())))
def test_the_replay_hour_is_a_whole_hour_of_the_last_day_whatever_arrives(raw: object) -> None:
    hour = controls.hour_offset(raw, hours_back=24)
    assert isinstance(hour, int) and -24 <= hour <= 0


@pytest.mark.parametrize(("raw", "hour"), [("-6", -6), (-3, -3), ("0", 0), ("-2.5", 0), ("-25", 0), ("nan", 0),
                                           (True, 0), ("inf", 0), ("-24", -24)])  # fmt: skip
def test_the_replay_hour_reads_what_a_range_input_sends(raw: object, hour: int) -> None:
    assert controls.hour_offset(raw, hours_back=24) == hour
