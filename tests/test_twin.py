"""The default district and the device-to-building join."""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely.geometry import Point, box

from twin.crs import METRIC_CRS
from twin.district import build_district
from twin.errors import TwinError
from twin.files import default_layers
from twin.joins import device_to_building


@pytest.fixture(scope="module")
def district():  # type: ignore[no-untyped-def]
    dongs, facilities = default_layers()
    return build_district(dongs, facilities, n_devices=40)


def test_misplaced_source_facility_is_reported(district) -> None:  # type: ignore[no-untyped-def]
    noted = [p for p in district.problems if "자동음성통보설치-11" in p]
    assert len(noted) == 1
    assert "38.087 N" in noted[0] and "not a Goyang parcel code" in noted[0]
    assert "자동음성통보설치-11" not in set(district.sites["name"].dropna())


def test_district_is_deterministic_synthetic_and_inside_goyang(district) -> None:  # type: ignore[no-untyped-def]
    again = build_district(*default_layers(), n_devices=40)
    assert again.buildings.geometry.equals(district.buildings.geometry)
    assert district.buildings["synthetic"].all()
    area = district.dongs.union_all()
    assert district.buildings.geometry.centroid.within(area).all()
    assert len(district.buildings) > 1000
    assert district.buildings["height_m"].gt(0).all()


def test_fleet_has_every_kind_and_unique_ids(district) -> None:  # type: ignore[no-untyped-def]
    sites = district.sites
    assert len(sites) == 40
    assert sites["device_id"].is_unique
    assert set(sites["kind"]) == {"air", "noise", "traffic", "parking", "energy", "water", "light", "footfall"}
    meters = sites[sites["kind"] == "energy"]
    assert meters["building_id"].notna().all()


def test_join_hand_checked_fixture() -> None:
    buildings = gpd.GeoDataFrame(
        {"building_id": ["A", "B", "C"]},
        geometry=[box(0, 0, 10, 10), box(20, 0, 30, 10), box(100, 100, 110, 110)],
        crs=METRIC_CRS,
    )
    sites = gpd.GeoDataFrame(
        {"device_id": ["in-A", "in-B", "near-B", "far", "edge-C"]},
        geometry=[Point(5, 5), Point(25, 5), Point(35, 5), Point(60, 60), Point(111, 105)],
        crs=METRIC_CRS,
    )
    got = device_to_building(sites, buildings, max_distance_m=8)
    assert list(got) == ["A", "B", "B", None, "C"]


def test_join_refuses_geographic_crs() -> None:
    frame = gpd.GeoDataFrame({"device_id": ["x"], "building_id": ["y"]}, geometry=[Point(0, 0)], crs="EPSG:4326")
    with pytest.raises(TwinError, match="metric CRS"):
        device_to_building(frame, frame)
