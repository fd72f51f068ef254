"""The device registry's commands: import a city's device file, list, show, export."""

from __future__ import annotations

import contextlib
import csv
import json
import sys
from pathlib import Path
from typing import Any

import psycopg

from smartcity.errors import SmartcityError
from smartcity.settings import Settings

EXPORT_COLUMNS = ("device_id", "kind", "external_id", "lon", "lat", "installed_on", "owner")


def import_file(settings: Settings, path: str, *, crs: str | None, district: str, dry_run: bool = False) -> int:
    """Check and place every row of ``path``, then register all of them or none; 1 when refused."""
    from ingest.errors import RegistryError
    from ingest.registry import import_devices
    from twin import store
    from twin.placement import PLACED, place_devices, read_device_file

    rows, file_crs = read_device_file(Path(path))
    with psycopg.connect(settings.database_dsn()) as conn:
        if not store.has_district(conn, district):
            raise SmartcityError(f"district {district!r} is not in the twin; load it first (smartcity twin load)")
        parcels = store.export_layer(conn, district, "parcels")
        buildings = store.export_layer(conn, district, "buildings")
        placed = place_devices(rows, parcels, buildings, crs=crs or file_crs, path=path)
        for line in placed.report.lines():
            print(line)
        if not placed.report.ok:
            print("nothing imported: fix the errors above and run the import again", file=sys.stderr)
            return 1
        devices = placed.devices
        sited = int(devices["lon_deg"].notna().sum())
        if dry_run:
            print(f"dry run: {len(devices)} devices would be registered ({sited} placed)")
            return 0
        try:
            with conn.transaction():
                written = import_devices(conn, district, devices[list(PLACED)].itertuples(index=False, name=None))
        except RegistryError as exc:
            print(f"nothing imported: {exc}", file=sys.stderr)
            return 1
    in_building = int(devices["building_id"].notna().sum())
    print(f"{written} devices registered in {district}: {sited} placed ({in_building} in or by a building), "
          f"{len(devices) - sited} unplaced")  # fmt: skip
    return 0


def list_devices(settings: Settings, *, district: str, unplaced: bool, as_json: bool) -> int:
    from ingest import registry

    with psycopg.connect(settings.database_dsn()) as conn:
        found = registry.list_devices(conn, district, unplaced=unplaced)
    if as_json:
        print(json.dumps(found, default=str, ensure_ascii=False))
        return 0
    for d in found:
        place = f"{d['lon_deg']:.6f},{d['lat_deg']:.6f}" if d["lon_deg"] is not None else "unplaced"
        print(f"{d['device_id']:<28} {d['kind']:<9} {d['source']:<8} {d['external_id'] or '-':<20} {place}"
              f" {d['building_id'] or ''}")  # fmt: skip
    print(f"{len(found)} devices", file=sys.stderr)
    return 0


def show_device(settings: Settings, key: str) -> int:
    from ingest import registry

    with psycopg.connect(settings.database_dsn()) as conn:
        found = registry.show_device(conn, key)
    if found is None:
        raise SmartcityError(f"no device has the id or external id {key!r}")
    print(json.dumps(found, default=str, ensure_ascii=False, indent=2))
    return 0


def export(settings: Settings, *, district: str, out: str, fmt: str) -> int:
    """Every registered device as CSV (importable again) or GeoJSON (placed devices, all fields)."""
    from ingest import registry

    with psycopg.connect(settings.database_dsn()) as conn:
        found = registry.list_devices(conn, district)
    with contextlib.ExitStack() as stack:
        stream = sys.stdout if out == "-" else stack.enter_context(Path(out).open("w", encoding="utf-8", newline=""))
        if fmt == "geojson":
            features = [_feature(d) for d in found if d["lon_deg"] is not None]
            json.dump({"type": "FeatureCollection", "features": features}, stream, default=str, ensure_ascii=False)
        else:
            writer = csv.writer(stream)
            writer.writerow(EXPORT_COLUMNS)
            for d in found:
                writer.writerow([d["device_id"], d["kind"], d["external_id"] or "", _num(d["lon_deg"]),
                                 _num(d["lat_deg"]), d["installed_on"] or "", d["owner"] or ""])  # fmt: skip
    return 0


def _num(value: object) -> str:
    return "" if value is None else repr(value)


def _feature(device: dict[str, Any]) -> dict[str, Any]:
    properties = {k: v for k, v in device.items() if k not in ("lon_deg", "lat_deg")}
    point = {"type": "Point", "coordinates": [device["lon_deg"], device["lat_deg"]]}
    return {"type": "Feature", "geometry": point, "properties": properties}
