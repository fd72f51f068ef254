"""Write a district to the database (the twin's single source of truth) and read sites back."""

from __future__ import annotations

from collections.abc import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import shapely
import shapely.geometry
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from twin import queries
from twin.crs import METRIC_CRS
from twin.district import District
from twin.errors import LookupFailed
from twin.pnu import looks_like_pnu, parse_address, parse_pnu


def save_district(
    conn: psycopg.Connection[tuple[object, ...]],
    district: District,
    *,
    register: Callable[[psycopg.Connection[tuple[object, ...]], str], None],
) -> None:
    """Replace ``district``'s layers in one transaction (devices keep their readings).

    ``register(conn, district_id)`` registers the sited devices in the device registry,
    in the same transaction: the registry is ingest's (``ingest.registry.register_sited``),
    passed in by whoever wires the two.
    """
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(queries.DELETE_DISTRICT, (district.district,))
        boundary = unary_union(district.dongs.geometry.to_list())
        names = (district.district, district.name, district.name_en, district.attribution)
        _insert_district(cur, names, district.center, boundary, district.dongs.crs)
        _copy_buildings(cur, district.district, district.buildings)
        if district.parcels is not None:
            _copy_parcels(cur, district.district, district.parcels)
        if district.ways is not None:
            _copy_ways(cur, district.district, district.ways)
        _copy_areas(cur, district.district, _dong_areas(district.dongs))
        with cur.copy(queries.COPY_SITES) as copy:
            for site in district.sites.itertuples(index=False):
                copy.write_row(
                    (
                        site.device_id, district.district, site.kind, _text(site.name), _text(site.building_id),
                        _text(site.pnu), _text(getattr(site, "way_id", None)), _wkb(site.geometry),
                    )
                )  # fmt: skip
        register(conn, district.district)


def save_layer(
    conn: psycopg.Connection[tuple[object, ...]],
    district: str,
    layer: str,
    frame: gpd.GeoDataFrame,
    *,
    name: str | None = None,
    attribution: str = "",
) -> None:
    """Replace one layer (``buildings``, ``parcels`` or ``ways``) of ``district`` in one transaction.

    A district that does not exist yet is created around the layer.
    """
    frame = frame.to_crs(METRIC_CRS)
    with conn.transaction(), conn.cursor() as cur:
        if not cur.execute(queries.DISTRICT_ROW_EXISTS, (district,)).fetchone():
            # the hull of every vertex: a union of 100,000 footprints would take most of the import
            hull = shapely.MultiPoint(shapely.get_coordinates(frame.geometry.to_numpy())).convex_hull
            names = (district, name or district, name or district, attribution or "imported")
            _insert_district(cur, names, hull.centroid, hull, METRIC_CRS)
        cur.execute(queries.DELETE_LAYER[layer], (district,))
        writers = {"buildings": _copy_buildings, "parcels": _copy_parcels, "ways": _copy_ways, "areas": _copy_areas}
        writers[layer](cur, district, frame)


def _insert_district(
    cur: psycopg.Cursor[tuple[object, ...]],
    names: tuple[str, str, str, str],
    center: Point,
    boundary: BaseGeometry,
    crs: object,
) -> None:
    district, name, name_en, attribution = names
    lon_lat = gpd.GeoSeries([center], crs=crs).to_crs("EPSG:4326").iloc[0]
    if boundary.geom_type not in ("Polygon", "MultiPolygon"):
        boundary = boundary.buffer(1.0)
    cur.execute(
        queries.INSERT_DISTRICT,
        (district, name, name_en, lon_lat.x, lon_lat.y, attribution, shapely.to_wkb(boundary)),
    )


def _copy_buildings(cur: psycopg.Cursor[tuple[object, ...]], district: str, frame: gpd.GeoDataFrame) -> None:
    # Through an unconstrained staging table, then one INSERT ... SELECT: COPY straight
    # into the indexed table with its generated WGS84 column was ten times slower.
    n = len(frame)
    columns = {
        "building_id": frame["building_id"].astype(str).to_numpy(),
        "name": _texts(frame, "name", n),
        "use": _texts(frame, "use", n),
        "height_m": frame["height_m"].astype(float).to_numpy(),
        "floors": _ints(frame, "floors", n),
        "synthetic": frame["synthetic"].astype(bool).to_numpy(),
        "address": _texts(frame, "address", n),
        "year_built": _ints(frame, "year_built", n),
        "pnu": _texts(frame, "pnu", n),
        "height_filled": (frame["height_filled"] if "height_filled" in frame else pd.Series(False, index=frame.index))
        .astype(bool)
        .to_numpy(),
    }
    wkb = shapely.to_wkb(frame.geometry.to_numpy(), hex=True, include_srid=False)
    cur.execute(queries.CREATE_BUILDING_STAGING)
    with cur.copy(queries.COPY_BUILDING_STAGING) as copy:
        for row in zip(*columns.values(), wkb, strict=True):
            copy.write_row(row)
    cur.execute(queries.INSERT_BUILDINGS_FROM_STAGING, (district,))


def _texts(frame: pd.DataFrame, column: str, n: int) -> list[str | None]:
    if column not in frame:
        return [None] * n
    return [_text(v) for v in frame[column].to_numpy()]


def _ints(frame: pd.DataFrame, column: str, n: int) -> list[int | None]:
    if column not in frame:
        return [None] * n
    return [_int(v) for v in frame[column].to_numpy()]


def _copy_parcels(cur: psycopg.Cursor[tuple[object, ...]], district: str, frame: gpd.GeoDataFrame) -> None:
    with cur.copy(queries.COPY_PARCELS) as copy:
        for row in frame.itertuples(index=False):
            copy.write_row(
                (
                    district, row.pnu, _text(row.sigungu), _text(row.legal_dong), _text(row.lot),
                    _text(row.land_category), float(row.area_m2), _text(row.address), bool(row.synthetic),
                    _wkb(shapely.geometry.MultiPolygon([row.geometry]) if row.geometry.geom_type == "Polygon"
                         else row.geometry),
                )
            )  # fmt: skip


def _dong_areas(dongs: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The district's dongs as its ``areas`` layer (the map draws and names them), from
    KOSTAT's ``code``/``name``/``name_eng`` or a layer's own ``area_id``/``name``/``name_en``."""

    def column(*names: str) -> list[object]:
        for name in names:
            if name in dongs.columns:
                return list(dongs[name])
        return [None] * len(dongs)

    ids = [str(v) if v is not None else f"area-{i}" for i, v in enumerate(column("code", "area_id"))]
    return gpd.GeoDataFrame(
        {"area_id": ids, "name": column("name"), "name_en": column("name_eng", "name_en"), "synthetic": False},
        geometry=dongs.geometry.to_numpy(),
        crs=dongs.crs,
    )


def _copy_areas(cur: psycopg.Cursor[tuple[object, ...]], district: str, frame: gpd.GeoDataFrame) -> None:
    with cur.copy(queries.COPY_AREAS) as copy:
        for row in frame.itertuples(index=False):
            geometry = row.geometry
            if geometry.geom_type == "Polygon":
                geometry = shapely.geometry.MultiPolygon([geometry])
            copy.write_row(
                (district, row.area_id, _text(row.name), _text(row.name_en), bool(row.synthetic), _wkb(geometry))
            )


def _copy_ways(cur: psycopg.Cursor[tuple[object, ...]], district: str, frame: gpd.GeoDataFrame) -> None:
    with cur.copy(queries.COPY_WAYS) as copy:
        for row in frame.itertuples(index=False):
            width = getattr(row, "width_m", None)
            copy.write_row(
                (district, row.way_id, row.kind, _text(row.name), None if pd.isna(width) else float(width),
                 bool(row.synthetic), _wkb(row.geometry))
            )  # fmt: skip


def _wkb(geometry: BaseGeometry) -> str:
    return str(shapely.to_wkb(geometry, hex=True, include_srid=False))


def _text(value: object) -> str | None:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def _int(value: object) -> int | None:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    try:
        return int(value)  # type: ignore[call-overload, no-any-return]
    except (TypeError, ValueError):
        return None


def export_layer(conn: psycopg.Connection[tuple[object, ...]], district: str, layer: str) -> gpd.GeoDataFrame:
    """One stored layer (``buildings``, ``parcels``, ``ways`` or ``sites``) in EPSG:5186."""
    with conn.cursor() as cur:
        cur.execute(queries.EXPORT[layer], (district,))
        names = [d.name for d in cur.description or []]
        rows = cur.fetchall()
    frame = pd.DataFrame(rows, columns=names)
    geometry = shapely.from_wkb([bytes(g) for g in frame.pop(names[-1])]) if len(frame) else []
    return gpd.GeoDataFrame(frame, geometry=list(geometry), crs=METRIC_CRS)


def has_district(conn: psycopg.Connection[tuple[object, ...]], district: str) -> bool:
    row = conn.execute(queries.DISTRICT_EXISTS, (district,)).fetchone()
    return bool(row and row[0])


def read_sites(conn: psycopg.Connection[tuple[object, ...]], district: str) -> pd.DataFrame:
    """Device sites in WGS84: device_id, kind, lon_deg, lat_deg, building_id."""
    with conn.cursor() as cur:
        cur.execute(queries.SITES_WGS84, (district,))
        rows = cur.fetchall()
    return pd.DataFrame(rows, columns=["device_id", "kind", "lon_deg", "lat_deg", "building_id"])


def lookup(
    conn: psycopg.Connection[tuple[object, ...]], query: str, *, radius_m: float = 150.0
) -> list[dict[str, object]]:
    """Parcels by PNU (19 digits) or lot-number address, each with its buildings and nearby sensors.

    Returns one dict per parcel found (an address without its gu may match several).

    Raises:
        LookupRefused: the query is neither a PNU nor a readable lot-number address.
        LookupFailed: nothing matches.
    """
    if looks_like_pnu(query):
        pnu = parse_pnu(query)
        rows = conn.execute(queries.PARCEL_BY_PNU, (str(pnu),)).fetchall()
    else:
        address = parse_address(query)
        lot = f"{'산' if address.mountain else ''}{address.main}{f'-{address.sub}' if address.sub else ''}"
        rows = conn.execute(queries.PARCEL_BY_LOT, (address.dong, lot, address.gu, address.gu)).fetchall()
    if not rows:
        raise LookupFailed(f"no parcel matches {query!r} in the twin")
    keys = ("district", "pnu", "sigungu", "legal_dong", "lot", "land_category", "area_m2", "address", "synthetic",
            "lon_deg", "lat_deg")  # fmt: skip
    found = []
    for row in rows:
        parcel = dict(zip(keys, row, strict=True))
        district, pnu_text = str(parcel["district"]), str(parcel["pnu"])
        buildings = conn.execute(queries.PARCEL_BUILDINGS, (pnu_text, district, district)).fetchall()
        sensors = conn.execute(queries.PARCEL_SENSORS, (radius_m, district, pnu_text)).fetchall()
        by_device: dict[str, dict[str, object]] = {}
        for device_id, kind, distance_m, metric, value, time in sensors:
            entry = by_device.setdefault(str(device_id), {"device_id": device_id, "kind": kind,
                                                          "distance_m": distance_m, "latest": {}})  # fmt: skip
            if metric is not None:
                latest = entry["latest"]
                assert isinstance(latest, dict)
                latest[str(metric)] = {"value": value, "time": str(time) if time else None}
        parcel["buildings"] = [
            dict(zip(("building_id", "name", "use", "height_m", "floors", "synthetic"), b, strict=True))
            for b in buildings
        ]
        parcel["sensors"] = list(by_device.values())
        found.append(parcel)
    return found
