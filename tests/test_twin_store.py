"""The twin in the database: districts, parcel lookup, import all-or-nothing; and the pure joins."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import pytest
from shapely.geometry import Point, box

from ingest.registry import register_sited
from smartcity.settings import Settings
from tests.fixtures.stack import cli_env
from twin import store
from twin.crs import METRIC_CRS
from twin.district import build_district
from twin.errors import LookupFailed
from twin.exposure import building_state, idw, parcel_state
from twin.files import default_layers
from twin.joins import building_to_parcel, device_to_parcel

KOSTAT = Path(__file__).resolve().parent / "data/geo/seoul_boundaries_cp949/kostat2013_original"


@pytest.fixture(scope="module")
def goyang():  # type: ignore[no-untyped-def]
    return build_district(*default_layers(), n_devices=60)


def test_devices_stand_on_streets_streams_parcels_and_buildings(goyang) -> None:  # type: ignore[no-untyped-def]
    sites, ways = goyang.sites, goyang.ways
    stream = ways[ways["kind"] == "stream"].union_all()
    streets = ways[ways["kind"] == "street"].union_all()
    water = sites[sites["kind"] == "water"]
    assert len(water) and (water.geometry.distance(stream) < 0.01).all()
    for kind in ("traffic", "light"):
        on = sites[sites["kind"] == kind]
        assert len(on) and (on.geometry.distance(streets) < 0.01).all() and on["way_id"].notna().all()
    lots = goyang.parcels[goyang.parcels["land_category"] == "주차장"].union_all()
    parking = sites[sites["kind"] == "parking"]
    assert parking.geometry.within(lots).all()
    assert sites.loc[sites["kind"] == "energy", "building_id"].notna().all()
    assert goyang.parcels["pnu"].is_unique and goyang.parcels["synthetic"].all()
    assert goyang.parcels["pnu"].str.startswith("4128").all()
    # every synthetic building sits on the parcel its PNU names
    assert (building_to_parcel(goyang.buildings, goyang.parcels) == goyang.buildings["pnu"]).all()


def test_joins_on_a_hand_checked_fixture() -> None:
    parcels = gpd.GeoDataFrame({"pnu": ["P1", "P2"]}, geometry=[box(0, 0, 10, 10), box(10, 0, 20, 10)], crs=METRIC_CRS)
    buildings = gpd.GeoDataFrame(
        {"building_id": ["mostly-P2", "inside-P1", "nowhere"]},
        geometry=[box(8, 2, 18, 8), box(2, 2, 4, 4), box(50, 50, 51, 51)],
        crs=METRIC_CRS,
    )
    assert list(building_to_parcel(buildings, parcels)) == ["P2", "P1", None]
    sites = gpd.GeoDataFrame({"device_id": ["a", "b"]}, geometry=[Point(15, 5), Point(30, 5)], crs=METRIC_CRS)
    assert list(device_to_parcel(sites, parcels)) == ["P2", None]


def test_idw_weights_near_stations_and_leaves_far_buildings_unknown() -> None:
    stations = gpd.GeoDataFrame(geometry=[Point(0, 0), Point(100, 0)], crs=METRIC_CRS)
    targets = gpd.GeoDataFrame(geometry=[Point(0, 0), Point(25, 0), Point(50, 0), Point(9000, 0)], crs=METRIC_CRS)
    got = idw(targets, stations, pd.Series([10.0, 50.0]), radius_m=1000)
    assert got.iloc[0] == pytest.approx(10.0)
    assert got.iloc[1] == pytest.approx((10 / 25**2 + 50 / 75**2) / (1 / 25**2 + 1 / 75**2))
    assert got.iloc[2] == pytest.approx(30.0)
    assert np.isnan(got.iloc[3])


def test_building_and_parcel_state() -> None:
    buildings = pd.DataFrame({"building_id": ["B1", "B2"], "pnu": ["P1", "P1"]})
    sites = pd.DataFrame({"device_id": ["m1", "m2", "street"], "building_id": ["B1", "B2", None]})
    now = pd.Timestamp("2026-11-25T00:00Z")
    latest = pd.DataFrame(
        {"device_id": ["m1", "m2", "street"], "metric": ["power_kw"] * 3, "value": [10.0, 30.0, 5.0], "time": now}
    )
    anomalies = pd.DataFrame({"device_id": ["m2"], "metric": ["power_kw"]})
    forecasts = pd.DataFrame({"device_id": ["m1"], "metric": ["power_kw"], "yhat": [12.0]})
    state = building_state(buildings, sites, latest, anomalies, forecasts)
    assert list(state["building_id"]) == ["B1", "B2"]
    assert list(state["open_anomalies"]) == [0, 1]
    assert state["forecast_next_h"].iloc[0] == 12.0 and np.isnan(state["forecast_next_h"].iloc[1])
    parcels = parcel_state(state)
    assert parcels.to_dict("records") == [
        {"pnu": "P1", "metric": "power_kw", "value": 20.0, "devices": 2, "open_anomalies": 1}
    ]


@pytest.mark.integration
def test_lookup_by_pnu_and_by_address_finds_parcel_buildings_and_sensors(
    conn: psycopg.Connection[tuple[object, ...]],
    goyang,  # type: ignore[no-untyped-def]
) -> None:
    store.save_district(conn, goyang, register=register_sited)
    meter = goyang.sites[goyang.sites["kind"] == "energy"].iloc[0]
    building = goyang.buildings.set_index("building_id").loc[meter["building_id"]]
    conn.execute(
        "INSERT INTO latest_values (device_id, metrics, metric_times, metric_values, oldest, newest) "
        "VALUES (%s, '{power_kw}', ARRAY[now()], '{42.5}', now(), now()) ON CONFLICT (device_id) DO UPDATE "
        "SET metrics = '{power_kw}', metric_times = ARRAY[now()], metric_values = '{42.5}',"
        " oldest = now(), newest = now()",
        (meter["device_id"],),
    )
    by_pnu = store.lookup(conn, building["pnu"])
    assert len(by_pnu) == 1 and by_pnu[0]["pnu"] == building["pnu"]
    assert meter["building_id"] in [b["building_id"] for b in by_pnu[0]["buildings"]]  # type: ignore[attr-defined]
    sensors = {s["device_id"]: s for s in by_pnu[0]["sensors"]}  # type: ignore[attr-defined]
    assert sensors[meter["device_id"]]["latest"]["power_kw"]["value"] == 42.5
    by_address = store.lookup(conn, building["address"])
    assert [p["pnu"] for p in by_address] == [building["pnu"]]
    with pytest.raises(LookupFailed, match="no parcel"):
        store.lookup(conn, "덕양구 화정동 9999-9")


@pytest.mark.integration
def test_import_is_all_or_nothing_and_round_trips(
    conn: psycopg.Connection[tuple[object, ...]], settings: Settings, tmp_path: Path, unique: str
) -> None:
    env = cli_env(settings)
    district = f"seoul{unique}"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "smartcity.cli", "twin", *args],
            check=False, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    broken = gpd.GeoDataFrame(
        {"PNU": ["1168010100100010001", "1168010100100010001"]},
        geometry=[box(0, 0, 10, 10), box(10, 0, 20, 10)],
        crs="EPSG:5186",
    )
    broken.to_file(tmp_path / "parcels.gpkg")
    refused = cli("import", str(tmp_path / "parcels.gpkg"), "--layer", "parcels", "--district", district)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "duplicate_pnu" in refused.stderr and "nothing was imported" in refused.stderr
    assert conn.execute("SELECT count(*) FROM districts WHERE district = %s", (district,)).fetchone() == (0,)

    shp = str(KOSTAT / "seoul_submunicipalities.shp")
    checked = cli("validate", shp, "--layer", "areas", "--json")
    assert checked.returncode == 0 and '"crs": "EPSG:5174"' in checked.stdout
    done = cli("import", shp, "--layer", "areas", "--district", district)
    assert done.returncode == 0, done.stdout + done.stderr
    assert conn.execute("SELECT count(*) FROM areas WHERE district = %s", (district,)).fetchone() == (423,)
    out = tmp_path / "areas.gpkg"
    exported = cli("export", str(out), "--layer", "areas", "--district", district)
    assert exported.returncode == 0, exported.stderr
    back = gpd.read_file(out).sort_values("area_id", ignore_index=True)
    again = cli("validate", shp, "--layer", "areas")
    assert again.returncode == 0
    original = gpd.read_file(KOSTAT / "seoul_submunicipalities.shp", encoding="cp949").set_crs(
        5174, allow_override=True
    )
    original = original.to_crs(5186).sort_values("code", ignore_index=True)
    assert list(back["name"]) == list(original["name"])
    distance = [back.geometry.iloc[i].hausdorff_distance(original.geometry.iloc[i]) for i in range(0, 423, 30)]
    assert max(distance) < 0.01
