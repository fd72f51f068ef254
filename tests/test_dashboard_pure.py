"""The dashboard's pure parts: map layers, stories, staleness (no browser); and the wall's outlook query."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import psycopg
import pytest

from dashboard import mapspec, scenes


def _devices() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "device_id": ["air-1", "air-1", "energy-1", "noise-1"],
            "kind": ["air", "air", "energy", "noise"],
            "lon_deg": [126.80, 126.80, 126.81, 126.82],
            "lat_deg": [37.60, 37.60, 37.61, 37.62],
            "building_id": [None, None, "b1", None],
            "metric": ["pm25_ugm3", "temperature_c", "power_kw", None],
            "value": [75.0, 3.0, 100.0, None],
            "time": [datetime.now(UTC)] * 4,
        }
    )


def test_sensor_frame_takes_each_kinds_primary_metric_and_greys_out_missing_data() -> None:
    frame = mapspec.sensor_frame(_devices()).set_index("device_id")
    assert list(frame.index) == ["air-1", "energy-1", "noise-1"]
    assert frame.loc["air-1", "metric"] == "pm25_ugm3" and frame.loc["air-1", "value"] == 75.0
    assert frame.loc["air-1", "elevation"] == 250  # 75 µg/m³ is the "high" end of the scale
    assert frame.loc["energy-1", "elevation"] == 30 + 220 * 0.5
    assert frame.loc["noise-1", "value"] is None and frame.loc["noise-1", "color"] == [110, 110, 110, 200]
    assert "no data yet" in frame.loc["noise-1", "label"]
    assert mapspec.sensor_frame(_devices().iloc[0:0]).empty


def test_building_layer_colours_by_use_anomaly_or_exposure() -> None:
    records = [
        {"building_id": "a", "ring": [[0, 0], [0, 1], [1, 1], [0, 0]], "height_m": 10.0, "use": "school", "label": "a"},
        {"building_id": "b", "ring": [[0, 0], [0, 1], [1, 1], [0, 0]], "height_m": 20.0, "use": "nope", "label": "b"},
    ]
    by_use = mapspec.building_layer(records)
    assert by_use["@@type"] == "PolygonLayer" and by_use["getElevation"] == "@@=height_m"
    assert by_use["data"][0]["color"][:3] == [200, 180, 90] and by_use["data"][1]["color"][:3] == [130, 130, 130]
    alarmed = mapspec.building_layer(records, colour_by="anomaly", in_anomaly={"b"})
    assert [d["color"][0] for d in alarmed["data"]] == [90, 235]
    exposed = mapspec.building_layer(records, colour_by="exposure", exposure={"a": 0.0, "b": 75.0})
    assert exposed["data"][0]["color"][:3] == [60, 200, 80] and exposed["data"][1]["color"][0] == 255


def test_stories_speak_korean_and_english_and_grade_pm25() -> None:
    state = scenes.Live(
        devices=_devices(),
        kpi={"open_anomalies": 2, "newest": datetime.now(UTC), "readings_last_minute": 10},
        feed=pd.DataFrame({"explanation": ["meter energy-1 stuck for 3 h"]}),
        outlook=pd.DataFrame(
            {
                "metric": ["pm25_ugm3", "pm25_ugm3", "power_kw"],
                "hour": pd.to_datetime(["2026-11-25 07:00", "2026-11-25 08:00", "2026-11-25 09:00"], utc=True),
                "yhat": [81.0, 40.0, 900.0],
                "hi95": [90.0, 50.0, 990.0],
            }
        ),
    )
    ko, en = scenes.stories(state, "ko"), scenes.stories(state, "en")
    assert ko[0]["title"].startswith("지금 공기") and en[0]["title"] == "Air now · PM2.5"
    assert ko[0]["value"] == "75 µg/m³" and "나쁨" in ko[0]["note"] and "81" in ko[0]["note"]
    # the peak's hour in the city's time (07:00 UTC is 16:00 in Seoul), with its grade
    assert "16시, 매우 나쁨" in ko[0]["note"] and "at 16:00 (very bad)" in en[0]["note"]
    assert en[3]["value"] == "2" and "stuck" in en[3]["note"]
    assert en[1]["value"] == "0.10 MW"


def test_staleness_is_measured_from_the_newest_reading() -> None:
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert scenes.staleness(None, now) is None
    assert scenes.staleness(now - timedelta(minutes=3), now) == 180.0


INSERT_FORECAST = (
    "INSERT INTO forecasts (time, device_id, metric, made_at, model, yhat, lo80, hi80, lo95, hi95)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)


def test_the_walls_outlook_is_the_districts_own_forecast_when_there_is_one(dsn: str, unique: str) -> None:
    from dashboard import queries

    district = f"d{unique}"
    sensors = [f"air-{unique}-{i}" for i in range(2)]
    hours = pd.date_range(pd.Timestamp.now(tz="UTC").ceil("1h"), periods=3, freq="1h")
    made = pd.Timestamp.now(tz="UTC")
    rows = [(h, s, "pm25_ugm3", made, "mstl", 10.0 + i, 0, 0, 0, 30.0) for i, s in enumerate(sensors) for h in hours]
    rows += [(h, s, "power_kw", made, "mstl", 100.0, 0, 0, 0, 120.0) for s in sensors for h in hours]
    with psycopg.connect(dsn, autocommit=True) as conn:
        for s in sensors:
            conn.execute("INSERT INTO devices (device_id, kind, district) VALUES (%s, 'air', %s)", (s, district))
        with conn.cursor() as cur:
            cur.executemany(INSERT_FORECAST, rows)
        before = queries.next_24h(dsn, district, ["pm25_ugm3", "power_kw"])
        # the district's own series appears (an older and a newer run of it): the newest is used
        for when, level in ((made - pd.Timedelta(minutes=30), 99.0), (made, 42.0)):
            conn.cursor().executemany(
                INSERT_FORECAST,
                [(h, f"district:{district}", "pm25_ugm3", when, "sarimax", level, 0, 0, 0, level + 5) for h in hours],
            )
        after = queries.next_24h(dsn, district, ["pm25_ugm3", "power_kw"])
    pm_before = before[before["metric"] == "pm25_ugm3"]
    assert len(pm_before) == 3 and (pm_before["yhat"] == 10.5).all()  # the sensors' mean, lacking its own
    pm_after = after[after["metric"] == "pm25_ugm3"]
    assert (pm_after["yhat"] == 42.0).all() and (pm_after["hi95"] == 47.0).all()
    power = after[after["metric"] == "power_kw"]
    assert (power["yhat"] == 100.0).all()  # no district series of power: still the sensors' mean


def test_operations_exposure_is_the_twins_model_over_the_map_outlines() -> None:
    import pandas as pd

    from dashboard.mapspec import exposure_by_building as _exposure

    def ring(lon: float, lat: float) -> list[list[float]]:
        d = 0.0001
        return [[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d], [lon - d, lat - d]]

    records = [{"building_id": "a", "ring": ring(126.83, 37.66)}, {"building_id": "b", "ring": ring(126.84, 37.66)}]
    devices = pd.DataFrame(
        {"device_id": ["air-1", "air-2", "noise-1"], "metric": ["pm25_ugm3", "pm25_ugm3", "noise_dba"],
         "value": [40.0, 80.0, 60.0], "lon_deg": [126.83, 126.84, 126.835], "lat_deg": [37.66, 37.66, 37.66]}
    )  # fmt: skip
    found = _exposure(records, devices)
    assert found["a"] == pytest.approx(40.0) and found["b"] == pytest.approx(80.0)  # a station at each: its value
    assert _exposure(records, devices[devices["metric"] == "noise_dba"]) == {}


def test_unplaced_devices_are_listed_for_staff_with_how_to_place_them() -> None:
    from dashboard import panels

    assert panels.unplaced_items(pd.DataFrame(columns=["device_id", "kind", "source", "registered_at"]), 0) == []
    devices = pd.DataFrame({"device_id": ["ttn-70b3d57e0001", "tasmota_8a1b2c"], "kind": ["air", "energy"],
                            "source": ["adapter", "adapter"], "registered_at": [datetime.now(UTC)] * 2})  # fmt: skip
    (item,) = panels.unplaced_items(devices, total=5)
    text = str(item)
    assert "unplaced" in text and "5" in text and "ttn-70b3d57e0001" in text and "tasmota_8a1b2c" in text
    assert "3 more" in text and "smartcity devices import" in text
