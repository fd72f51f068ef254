"""The device registry: a city's device file imported whole (or refused whole), placed on the twin."""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import Sequence
from pathlib import Path

import psycopg
import pytest

from smartcity import devices_commands
from smartcity.settings import Settings
from tests.fixtures.services import ensure_district

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def district(settings: Settings, dsn: str) -> str:
    ensure_district(settings, dsn)
    return settings.district


def _write(path: Path, header: list[str], rows: Sequence[Sequence[object]], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _registered(dsn: str, prefix: str) -> dict[str, tuple[object, ...]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT device_id, lon_deg, lat_deg, building_id, parcel_pnu, external_id, installed_on, kind "
            "FROM devices WHERE device_id LIKE %s",
            (prefix + "%",),
        ).fetchall()
    return {str(r[0]): r[1:] for r in rows}


def test_a_csv_in_epsg_5186_places_every_device_on_its_building(
    settings: Settings, dsn: str, district: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = f"reg{uuid.uuid4().hex[:5]}-"
    with psycopg.connect(dsn) as conn:
        buildings = conn.execute(
            "SELECT building_id, ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) FROM buildings "
            "WHERE district = %s ORDER BY building_id LIMIT 5",
            (district,),
        ).fetchall()
    rows = [[f"{prefix}{i}", "air", f"70B3D57ED00{i:05X}", f"{x:.2f}", f"{y:.2f}", "2026-03-02", "환경정책과"]
            for i, (_, x, y) in enumerate(buildings)]  # fmt: skip
    path = _write(tmp_path / "devices.csv", ["device_id", "kind", "external_id", "x", "y", "installed_on", "owner"],
                  rows)  # fmt: skip
    assert devices_commands.import_file(settings, str(path), crs="EPSG:5186", district=district) == 0
    assert "5 devices registered" in capsys.readouterr().out
    registered = _registered(dsn, prefix)
    assert len(registered) == 5
    for i, (building_id, _, _) in enumerate(buildings):
        lon, lat, building, _, external, installed, kind = registered[f"{prefix}{i}"]
        assert building == building_id, "a device on a roof joins that building"
        assert 126.0 < float(lon) < 128.0 and 37.0 < float(lat) < 38.5  # type: ignore[arg-type]
        assert external == f"70B3D57ED00{i:05X}" and str(installed) == "2026-03-02" and kind == "air"
    # on the operations map: the dashboard reads placed devices of the district
    with psycopg.connect(dsn) as conn:
        on_map = conn.execute(
            "SELECT count(*) FROM devices WHERE district = %s AND lon_deg IS NOT NULL AND device_id LIKE %s",
            (district, prefix + "%"),
        ).fetchone()
    assert on_map == (5,)
    # export, then import the export again: the same devices, the same places
    out = tmp_path / "export.csv"
    assert devices_commands.export(settings, district=district, out=str(out), fmt="csv") == 0
    with out.open(encoding="utf-8") as f:
        exported = [r for r in csv.DictReader(f) if r["device_id"].startswith(prefix)]
    assert len(exported) == 5
    again = _write(tmp_path / "again.csv", list(exported[0]), [list(r.values()) for r in exported])
    assert devices_commands.import_file(settings, str(again), crs=None, district=district) == 0
    assert {k: v[2] for k, v in _registered(dsn, prefix).items()} == {k: v[2] for k, v in registered.items()}


def test_a_csv_of_lot_number_addresses_in_cp949_places_every_device(
    settings: Settings, dsn: str, district: str, tmp_path: Path
) -> None:
    prefix = f"addr{uuid.uuid4().hex[:5]}-"
    with psycopg.connect(dsn) as conn:
        parcels = conn.execute(
            "SELECT sigungu, legal_dong, lot, pnu FROM parcels p WHERE district = %s AND NOT EXISTS "
            "(SELECT 1 FROM parcels q WHERE q.legal_dong = p.legal_dong AND q.lot = p.lot AND q.pnu <> p.pnu) "
            "ORDER BY pnu LIMIT 4",
            (district,),
        ).fetchall()
    assert len(parcels) == 4
    rows = [[f"{prefix}{i}", "noise", f"{gu} {dong} {lot}" if i % 2 else f"{dong} {lot}번지"]
            for i, (gu, dong, lot, _) in enumerate(parcels)]  # fmt: skip
    path = _write(tmp_path / "addresses.csv", ["device_id", "kind", "address"], rows, encoding="cp949")
    assert devices_commands.import_file(settings, str(path), crs=None, district=district) == 0
    registered = _registered(dsn, prefix)
    for i, (_, _, _, pnu) in enumerate(parcels):
        lon, lat, _, parcel, *_ = registered[f"{prefix}{i}"]
        assert lon is not None and lat is not None
        assert parcel == pnu, "placed inside the parcel its address names"


def test_one_bad_row_refuses_the_whole_file_with_every_problem_named(
    settings: Settings, dsn: str, district: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = f"bad{uuid.uuid4().hex[:5]}-"
    rows = [
        [f"{prefix}0", "air", "195000", "455000", ""],  # fine (if inside the district)
        [f"{prefix}1", "rocket", "195010", "455010", ""],  # unknown kind
        [f"{prefix}2", "air", "455000", "195000", ""],  # x and y swapped
        [f"{prefix}3", "air", "", "", "화정동 9999-9"],  # no such parcel
        [f"{prefix}0", "air", "abc", "455000", ""],  # id twice, x not a number
    ]
    path = _write(tmp_path / "bad.csv", ["device_id", "kind", "x", "y", "address"], rows)
    assert devices_commands.import_file(settings, str(path), crs="EPSG:5186", district=district) == 1
    out = capsys.readouterr()
    for code in ("bad_kind", "outside_district", "address_not_found", "duplicate_device_id", "bad_coordinates"):
        assert code in out.out, f"{code} missing from the report"
    assert "nothing imported" in out.err
    assert _registered(dsn, prefix) == {}


def test_an_external_id_of_another_device_is_refused(
    settings: Settings, dsn: str, district: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = f"ext{uuid.uuid4().hex[:5]}-"
    first = _write(tmp_path / "a.csv", ["device_id", "kind", "external_id"], [[f"{prefix}a", "water", "AABBCC01"]])
    assert devices_commands.import_file(settings, str(first), crs=None, district=district) == 0
    second = _write(tmp_path / "b.csv", ["device_id", "kind", "external_id"], [[f"{prefix}b", "water", "aabbcc01"]])
    assert devices_commands.import_file(settings, str(second), crs=None, district=district) == 1
    assert "already names" in capsys.readouterr().err
    assert set(_registered(dsn, prefix)) == {f"{prefix}a"}
    shown = devices_commands.show_device(settings, "AABBCC01")
    assert shown == 0
    assert json.loads(capsys.readouterr().out)["device_id"] == f"{prefix}a"


def test_a_geojson_of_points_is_read_as_lon_lat(settings: Settings, dsn: str, district: str, tmp_path: Path) -> None:
    prefix = f"geo{uuid.uuid4().hex[:5]}-"
    with psycopg.connect(dsn) as conn:
        lon, lat = conn.execute(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_PointOnSurface(geom), 4326) p FROM buildings "
            "WHERE district = %s ORDER BY building_id LIMIT 1) q",
            (district,),
        ).fetchone()  # type: ignore[misc]
    properties = {"device_id": f"{prefix}1", "kind": "light", "external_id": "tasmota_light_1"}
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": properties}
    path = tmp_path / "devices.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    assert devices_commands.import_file(settings, str(path), crs=None, district=district) == 0
    ((got_lon, got_lat, building, *_),) = _registered(dsn, prefix).values()
    assert abs(float(got_lon) - lon) < 1e-7 and abs(float(got_lat) - lat) < 1e-7  # type: ignore[arg-type]
    assert building is not None
