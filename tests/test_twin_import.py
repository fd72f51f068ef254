"""Golden imports of the real layers, the validation report, PNUs and addresses (no servers)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import CRS, Geod, Transformer
from shapely.geometry import Point, Polygon, box

from twin import importer
from twin.errors import LayerError, LookupRefused
from twin.files import DATA_DIR, crs_from_prj, detect_encoding, read_any, write_any
from twin.pnu import parse_address, parse_pnu

GEO = Path(__file__).resolve().parent / "data" / "geo"  # copies of ../shared/data/geo (see tests/data/README.md)
KOSTAT = GEO / "seoul_boundaries_cp949" / "kostat2013_original" / "seoul_submunicipalities.shp"
JUSO = GEO / "seoul_boundaries_cp949" / "juso2015" / "seoul_neighborhoods.shp"
YEOKSAM = DATA_DIR / "yeoksam"  # the OSM extract ships with the twin


def _prepare(path: Path, layer: str, **options: object) -> tuple[gpd.GeoDataFrame, importer.Report]:
    raw = read_any(path)
    report = importer.Report(str(path), layer, encoding=raw.encoding)
    for warning in raw.warnings:
        report.add("crs_interpreted", "warning", warning)
    return importer.prepare(raw.frame, layer, report, **options), report  # type: ignore[arg-type]


def test_cp949_shapefiles_without_cpg_are_detected_and_read_in_korean() -> None:
    for path, column, expected in ((KOSTAT, "name", "역삼1동"), (JUSO, "EMD_KOR_NM", "역삼동")):
        assert not path.with_suffix(".cpg").exists()
        encoding, how = detect_encoding(path)
        assert encoding == "cp949" and "detected" in how
        frame = read_any(path).frame
        assert expected in set(frame[column]), f"{path.name}: Korean names not decoded"


def test_bessel_prj_without_datum_shift_is_read_as_5174_with_a_warning() -> None:
    crs, note = crs_from_prj(KOSTAT.with_suffix(".prj").read_text())
    assert crs == CRS.from_epsg(5174)
    assert "EPSG:5174" in note and "datum shift" in note
    # the choice matters: taken literally, the same coordinates land about 350 m away
    literal = Transformer.from_crs(CRS.from_wkt(KOSTAT.with_suffix(".prj").read_text()), 4326, always_xy=True)
    shifted = Transformer.from_crs(5174, 4326, always_xy=True)
    a, b = literal.transform(200000, 550000), shifted.transform(200000, 550000)
    assert 250 < Geod(ellps="WGS84").inv(a[0], a[1], b[0], b[1])[2] < 450
    wgs84, note = crs_from_prj(JUSO.with_suffix(".prj").read_text())
    assert wgs84 is not None and wgs84.to_epsg() == 4326 and note == ""


def test_kostat_layer_lands_where_pyproj_puts_it_to_a_centimetre() -> None:
    frame, report = _prepare(KOSTAT, "areas")
    assert report.ok and report.features == 423
    assert [p.code for p in report.problems if p.severity == "warning"] == ["crs_interpreted"]
    assert frame.crs == CRS.from_epsg(5186)
    raw = gpd.read_file(KOSTAT, encoding="cp949")  # coordinates as stored, no CRS handling
    to_5186 = Transformer.from_crs(5174, 5186, always_xy=True)
    for i in (0, 100, 422):
        ours = np.asarray(shapely.get_coordinates(frame.geometry.iloc[i]))
        theirs = np.asarray(shapely.get_coordinates(raw.geometry.iloc[i]))
        x, y = to_5186.transform(theirs[:, 0], theirs[:, 1])
        assert np.abs(ours - np.column_stack([x, y])).max() < 0.01


def test_juso_layer_maps_its_official_columns() -> None:
    frame, report = _prepare(JUSO, "areas")
    assert report.ok and report.features == 467
    assert report.mapping == {"area_id": "EMD_CD", "name": "EMD_KOR_NM", "name_en": "EMD_ENG_NM"}
    unmapped = next(p for p in report.problems if p.code == "unmapped_columns")
    assert set(unmapped.examples) == {"ESRI_PK", "SHAPE_AREA", "SHAPE_LEN"}
    assert frame.loc[frame["name"] == "역삼동", "name_en"].item() == "Yeoksam-dong"


def test_yeoksam_osm_buildings_keep_real_footprints_and_flag_fill_in_heights() -> None:
    frame, report = _prepare(
        YEOKSAM / "buildings.geojson", "buildings",
        mapping={"building_id": "id", "name": "label", "use": "kind"}, filled_heights_m=(15.0, 32.0),
    )  # fmt: skip
    assert report.ok
    assert frame["building_id"].is_unique and len(frame) >= 5205
    assert frame["height_filled"].sum() == 2694 + 1027
    assert not frame.loc[frame["height_m"] == 44, "height_filled"].any()
    assert frame.geometry.is_valid.all() and (frame.geom_type == "Polygon").all()


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".shp"])
def test_layers_round_trip_through_every_format(tmp_path: Path, suffix: str) -> None:
    frame, _ = _prepare(KOSTAT, "areas")
    out = tmp_path / f"dongs{suffix}"
    write_any(frame[["area_id", "name", "name_en", "geometry"]], out)
    back, report = _prepare(out, "areas")
    assert report.ok, report.lines()
    assert back.crs == CRS.from_epsg(5186)
    assert list(back["name"]) == list(frame["name"])
    assert max(back.geometry.iloc[i].hausdorff_distance(frame.geometry.iloc[i]) for i in range(0, 423, 20)) < 0.01


def test_a_broken_layer_gets_one_report_naming_every_problem(tmp_path: Path) -> None:
    bowtie = Polygon([(0, 0), (10, 10), (10, 0), (0, 10)])  # self-intersecting
    broken = gpd.GeoDataFrame(
        {
            "PNU": ["4128112300110010001", "4128112300110010001", "41281", "4128112300110010004"],
            "JIMOK": ["대", "대", "전", "답"],
        },
        geometry=[box(0, 0, 10, 10), box(10, 0, 20, 10), bowtie, Point(5, 5)],
        crs=None,
    )
    path = tmp_path / "broken.gpkg"
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        broken.to_file(path)  # a GeoPackage layer without any CRS
    _, report = _prepare(path, "parcels")
    codes = {p.code: p for p in report.problems}
    assert not report.ok
    assert {"missing_crs", "duplicate_pnu", "malformed_pnu", "invalid_geometry_repaired", "wrong_geometry_type"} <= set(
        codes
    )
    assert "EPSG:" in codes["missing_crs"].message  # with a hint
    assert codes["duplicate_pnu"].examples == ["4128112300110010001"]
    assert codes["malformed_pnu"].examples == ["41281"]
    assert "Self-intersection" in codes["invalid_geometry_repaired"].examples[0]
    as_json = report.as_dict()
    assert as_json["ok"] is False and len(as_json["problems"]) == len(report.problems)


def test_mapping_errors_name_the_column() -> None:
    with pytest.raises(LayerError, match="no column 'HGT'"):
        importer.resolve_mapping(["a", "b"], "buildings", {"height_m": "HGT"})
    with pytest.raises(LayerError, match="no field 'colour'"):
        importer.resolve_mapping(["a"], "buildings", {"colour": "a"})
    with pytest.raises(LayerError, match="unknown layer"):
        importer.resolve_mapping(["a"], "roads")


def test_unreadable_and_unknown_files_are_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(LayerError, match="does not exist"):
        read_any(tmp_path / "none.geojson")
    (tmp_path / "x.csv").write_text("a,b\n")
    with pytest.raises(LayerError, match="unknown layer format"):
        read_any(tmp_path / "x.csv")
    (tmp_path / "bad.geojson").write_text("{not json")
    with pytest.raises(LayerError, match="cannot read layer"):
        read_any(tmp_path / "bad.geojson")


def test_pnu_and_address_rules() -> None:
    pnu = parse_pnu("4128111400200380010")
    assert pnu.mountain and pnu.main == 38 and pnu.sub == 10 and pnu.lot == "산38-10"
    assert str(pnu) == "4128111400200380010"
    assert parse_pnu("4128112000101200005").lot == "120-5"
    for bad in ("412811", "4128111400300380010", "4128111400100000010"):
        with pytest.raises(LookupRefused):
            parse_pnu(bad)
    address = parse_address("일산동구 장항동 1234-5")
    assert (address.gu, address.dong, address.mountain, address.main, address.sub) == (
        "일산동구",
        "장항동",
        False,
        1234,
        5,
    )
    address = parse_address("경기도 고양시 덕양구 벽제동 산38-10번지")
    assert (address.gu, address.dong, address.mountain, address.main, address.sub) == ("덕양구", "벽제동", True, 38, 10)
    assert parse_address("화정동 965").gu is None
    with pytest.raises(LookupRefused, match=r"expected e\.g\."):
        parse_address("Gangnam station")


def test_a_geojson_in_utm_k_without_crs_is_refused_with_a_hint(tmp_path: Path) -> None:
    """GeoJSON without a "crs" member means EPSG:4326; metres in such a file were taken as
    degrees, validated "ok" and became infinite coordinates on import."""
    import json

    square = [[[950_000.0, 1_950_000.0], [950_050.0, 1_950_000.0], [950_050.0, 1_950_050.0],
               [950_000.0, 1_950_050.0], [950_000.0, 1_950_000.0]]]  # fmt: skip
    path = tmp_path / "utmk.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "a"}, "geometry": {"type": "Polygon", "coordinates": square}}
    ]}), encoding="utf-8")  # fmt: skip
    _, report = _prepare(path, "buildings")
    codes = {p.code: p for p in report.problems}
    assert not report.ok and "coordinates_not_lonlat" in codes
    assert "EPSG:5179" in codes["coordinates_not_lonlat"].message and "--crs" in codes["coordinates_not_lonlat"].message


@pytest.mark.parametrize(
    ("column", "values", "expected"),
    [("@id", ["way/101", "relation/7"], ["way/101", "relation/7"]),  # overpass turbo's export
     ("full_id", ["w101", "r7"], ["way/101", "relation/7"]),  # QuickOSM
     ("osm_way_id", [101, 102], ["way/101", "way/102"]),  # ogr's OSM driver
     ("osm_id", [101.0, 7.0], ["101", "7"])],  # a numeric column read as floats
)  # fmt: skip
def test_osm_ids_in_their_usual_spellings_are_kept_and_building_tags_become_uses(
    tmp_path: Path, column: str, values: list[object], expected: list[str]
) -> None:
    squares = [box(127.03 + i * 0.001, 37.50, 127.0305 + i * 0.001, 37.5005) for i in range(2)]
    frame = gpd.GeoDataFrame({column: values, "building": ["apartments", "yes"]}, geometry=squares, crs="EPSG:4326")
    path = tmp_path / "osm.geojson"
    frame.to_file(path, driver="GeoJSON")
    prepared, report = _prepare(path, "buildings")
    assert report.ok, report.lines()
    assert list(prepared["building_id"]) == expected
    assert prepared["use"].iloc[0] == "apartment", "building=apartments is an apartment"
    assert prepared["use"].isna().iloc[1], "building=yes says nothing of its use"
    assert any(p.code == "osm_building_uses" for p in report.problems)
