"""Write a district to the database (the twin's single source of truth) and read sites back."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import psycopg
import shapely
from shapely.ops import unary_union

from twin import queries
from twin.district import District


def save_district(conn: psycopg.Connection[tuple[object, ...]], district: District) -> None:
    """Replace ``district``'s layers in one transaction (devices keep their readings)."""
    center = gpd.GeoSeries([district.center], crs=district.dongs.crs).to_crs("EPSG:4326").iloc[0]
    boundary = unary_union(district.dongs.geometry.to_list())
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(queries.DELETE_DISTRICT, (district.district,))
        cur.execute(
            queries.INSERT_DISTRICT,
            (
                district.district,
                district.name,
                district.name_en,
                center.x,
                center.y,
                district.attribution,
                shapely.to_wkb(boundary),
            ),
        )
        with cur.copy(queries.COPY_BUILDINGS) as copy:
            for row in district.buildings.itertuples(index=False):
                copy.write_row(
                    (
                        row.building_id,
                        district.district,
                        row.name,
                        row.use,
                        row.height_m,
                        row.floors,
                        row.synthetic,
                        shapely.to_wkb(row.geometry, hex=True, include_srid=False),
                    )
                )
        with cur.copy(queries.COPY_SITES) as copy:
            for site in district.sites.itertuples(index=False):
                copy.write_row(
                    (
                        site.device_id,
                        district.district,
                        site.kind,
                        site.name,
                        site.building_id,
                        site.pnu,
                        shapely.to_wkb(site.geometry, hex=True, include_srid=False),
                    )
                )
        cur.execute(queries.UPSERT_DEVICES, (district.district,))


def has_district(conn: psycopg.Connection[tuple[object, ...]], district: str) -> bool:
    row = conn.execute(queries.DISTRICT_EXISTS, (district,)).fetchone()
    return bool(row and row[0])


def read_sites(conn: psycopg.Connection[tuple[object, ...]], district: str) -> pd.DataFrame:
    """Device sites in WGS84: device_id, kind, lon_deg, lat_deg, building_id."""
    with conn.cursor() as cur:
        cur.execute(queries.SITES_WGS84, (district,))
        rows = cur.fetchall()
    return pd.DataFrame(rows, columns=["device_id", "kind", "lon_deg", "lat_deg", "building_id"])
