"""The twin's commands, wired from the settings: load a district, validate, import, export, look up."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import psycopg
import shapely

from smartcity.settings import Settings

if TYPE_CHECKING:
    from twin.importer import Report


def load_district(settings: Settings, *, district: str = "goyang", only_if_missing: bool = False) -> int:
    """Build a shipped district (``goyang``, synthetic layers; ``yeoksam``, OSM) and store it."""
    from ingest.registry import register_sited
    from twin import store, yeoksam
    from twin.district import build_district
    from twin.errors import LayerError
    from twin.files import DATA_DIR, default_layers

    if district not in ("goyang", "yeoksam"):
        raise LayerError(f"unknown shipped district {district!r}; choose goyang or yeoksam")
    with psycopg.connect(settings.database_dsn()) as conn:
        if only_if_missing and store.has_district(conn, district):
            return 0
        if district == "yeoksam":
            built, reports = yeoksam.build(DATA_DIR / "yeoksam", n_devices=settings.sim_devices)
            notes = [line for report in reports for line in report.lines()[1:]]
        else:
            built = build_district(*default_layers(), n_devices=settings.sim_devices)
            notes = list(built.problems)
        store.save_district(conn, built, register=register_sited)
    for note in notes:
        print(f"twin: note: {note.strip()}")
    parcels = 0 if built.parcels is None else len(built.parcels)
    synthetic = "synthetic" if bool(built.buildings["synthetic"].all()) else "real"
    print(
        f"twin: {built.name_en}: {len(built.buildings)} buildings ({synthetic}), {parcels} parcels, "
        f"{len(built.sites)} device sites"
    )
    return 0


def _prepare(
    settings: Settings,
    path: str,
    layer: str,
    *,
    district: str | None,
    encoding: str | None,
    crs: str | None,
    mapping: list[str],
    way_kind: str | None,
) -> tuple[gpd.GeoDataFrame, Report]:
    from twin import importer, queries
    from twin.errors import LayerError
    from twin.files import read_any

    pairs = {}
    for item in mapping:
        ours, sep, theirs = item.partition("=")
        if not sep or not ours or not theirs:
            raise LayerError(f"--map takes OURS=THEIRS (e.g. height_m=HGT), got {item!r}")
        pairs[ours] = theirs
    raw = read_any(Path(path), encoding=encoding)
    frame = raw.frame
    if crs:
        try:
            frame = frame.set_crs(crs, allow_override=True)
        except Exception as exc:  # pyproj raises CRSError for an unknown code
            raise LayerError(f"--crs {crs!r} is not a CRS pyproj knows: {exc}") from exc
    report = importer.Report(path, layer, encoding=raw.encoding_note)
    for warning in raw.warnings:
        report.add("crs_interpreted", "warning", warning)
    boundary = None
    if district:
        try:
            with psycopg.connect(settings.database_dsn(), connect_timeout=5) as conn:
                row = conn.execute(queries.DISTRICT_BOUNDARY, (district,)).fetchone()
            boundary = shapely.from_wkb(bytes(row[0])) if row and row[0] is not None else None
        except psycopg.OperationalError:
            report.add("district_unchecked", "info", "database unavailable: features not checked against the district")
    prepared = importer.prepare(frame, layer, report, mapping=pairs, boundary=boundary, way_kind=way_kind)
    return prepared, report


def validate_layer(settings: Settings, path: str, layer: str, *, as_json: bool, **options: object) -> int:
    """Print the validation report of a layer file; 0 when importable, 3 when not."""
    _, report = _prepare(settings, path, layer, **options)  # type: ignore[arg-type]
    if as_json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        print("\n".join(report.lines()))
    return 0 if report.ok else 3


def import_layer(settings: Settings, path: str, layer: str, *, district: str, as_json: bool, **options: object) -> int:
    """Validate and store a layer in one transaction; nothing is written when the report has errors."""
    from twin import store
    from twin.errors import ImportRefused

    prepared, report = _prepare(settings, path, layer, district=district, **options)  # type: ignore[arg-type]
    if as_json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        print("\n".join(report.lines()), file=sys.stderr if not report.ok else sys.stdout)
    if not report.ok:
        errors = sum(p.severity == "error" for p in report.problems)
        raise ImportRefused(f"{path}: {errors} problem(s) must be fixed first; nothing was imported", report)
    with psycopg.connect(settings.database_dsn()) as conn:
        store.save_layer(conn, district, layer, prepared, name=district)
    print(f"twin: imported {len(prepared)} {layer} into district {district}")
    return 0


def export_layer(settings: Settings, layer: str, *, district: str, out: str) -> int:
    """Write a stored layer to a GeoJSON, Shapefile or GeoPackage file (WGS84 for GeoJSON)."""
    from twin import store
    from twin.files import write_any

    with psycopg.connect(settings.database_dsn()) as conn:
        frame = store.export_layer(conn, district, layer)
    if out.lower().endswith((".geojson", ".json")):
        frame = frame.to_crs("EPSG:4326")
    write_any(frame, Path(out))
    print(f"twin: {len(frame)} {layer} of {district} written to {out} ({frame.crs.to_string()})")
    return 0


def lookup(settings: Settings, query: str, *, as_json: bool) -> int:
    """Print the parcel(s) a PNU or lot-number address names, with buildings and nearby sensors."""
    from twin import store

    with psycopg.connect(settings.database_dsn()) as conn:
        found = store.lookup(conn, query)
    if as_json:
        print(json.dumps(found, ensure_ascii=False, indent=2, default=str))
        return 0
    for parcel in found:
        flag = " (synthetic)" if parcel["synthetic"] else ""
        print(f"{parcel['address']}  PNU {parcel['pnu']}  {parcel['land_category']}  {parcel['area_m2']} m²{flag}")
        for b in parcel["buildings"]:  # type: ignore[attr-defined]
            print(f"  building {b['building_id']}: {b['use']}, {b['height_m']} m, {b['floors']} floors")
        for s in parcel["sensors"]:  # type: ignore[attr-defined]
            values = ", ".join(f"{m}={v['value']}" for m, v in s["latest"].items()) or "no reading yet"
            print(f"  sensor {s['device_id']} ({s['kind']}, {s['distance_m']} m): {values}")
    return 0
