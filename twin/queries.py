"""Every SQL statement the twin runs. Geometry travels as WKB in EPSG:5186."""

from __future__ import annotations

DELETE_DISTRICT = "DELETE FROM districts WHERE district = %s"

INSERT_DISTRICT = """
INSERT INTO districts (district, name, name_en, center_lon_deg, center_lat_deg, attribution, boundary)
VALUES (%s, %s, %s, %s, %s, %s, ST_Multi(ST_GeomFromWKB(%s, 5186)))
"""

COPY_BUILDINGS = """
COPY buildings (building_id, district, name, use, height_m, floors, synthetic, address, year_built, pnu,
                height_filled, geom) FROM STDIN
"""

CREATE_BUILDING_STAGING = """
CREATE TEMP TABLE IF NOT EXISTS building_staging (
    building_id text, name text, use text, height_m float8, floors int, synthetic bool, address text,
    year_built int, pnu text, height_filled bool, wkb text
) ON COMMIT DROP
"""
COPY_BUILDING_STAGING = "COPY building_staging FROM STDIN"
INSERT_BUILDINGS_FROM_STAGING = """
INSERT INTO buildings (building_id, district, name, use, height_m, floors, synthetic, address, year_built, pnu,
                       height_filled, geom)
SELECT building_id, %s, name, use, height_m, floors, synthetic, address, year_built, pnu, height_filled,
       ST_GeomFromWKB(decode(wkb, 'hex'), 5186)
FROM building_staging
"""

COPY_PARCELS = """
COPY parcels (district, pnu, sigungu, legal_dong, lot, land_category, area_m2, address, synthetic, geom) FROM STDIN
"""

COPY_AREAS = "COPY areas (district, area_id, name, name_en, synthetic, geom) FROM STDIN"

COPY_WAYS = "COPY ways (district, way_id, kind, name, width_m, synthetic, geom) FROM STDIN"

COPY_SITES = "COPY device_sites (device_id, district, kind, name, building_id, pnu, way_id, geom) FROM STDIN"

DELETE_LAYER = {
    "buildings": "DELETE FROM buildings WHERE district = %s",
    "parcels": "DELETE FROM parcels WHERE district = %s",
    "ways": "DELETE FROM ways WHERE district = %s",
    "areas": "DELETE FROM areas WHERE district = %s",
}

PARCEL_BY_PNU = """
SELECT district, pnu, sigungu, legal_dong, lot, land_category, area_m2, address, synthetic,
       ST_X(ST_Transform(ST_PointOnSurface(geom), 4326)), ST_Y(ST_Transform(ST_PointOnSurface(geom), 4326))
FROM parcels WHERE pnu = %s ORDER BY district LIMIT 1
"""

PARCEL_BY_LOT = """
SELECT district, pnu, sigungu, legal_dong, lot, land_category, area_m2, address, synthetic,
       ST_X(ST_Transform(ST_PointOnSurface(geom), 4326)), ST_Y(ST_Transform(ST_PointOnSurface(geom), 4326))
FROM parcels WHERE legal_dong = %s AND lot = %s AND (%s::text IS NULL OR sigungu = %s::text)
ORDER BY district, pnu
"""

PARCEL_BUILDINGS = """
SELECT b.building_id, b.name, b.use, b.height_m, b.floors, b.synthetic
FROM buildings b JOIN parcels p ON p.district = b.district AND p.pnu = %s AND p.district = %s
WHERE b.district = %s AND (b.pnu = p.pnu OR (b.pnu IS NULL AND ST_Intersects(b.geom, p.geom)))
ORDER BY b.building_id
"""

PARCEL_SENSORS = """
SELECT s.device_id, s.kind, round(ST_Distance(s.geom, p.geom)::numeric, 1)::float8 AS distance_m,
       l.metric, l.value, l.time
FROM parcels p
JOIN device_sites s ON s.district = p.district AND ST_DWithin(s.geom, p.geom, %s)
LEFT JOIN latest_readings l ON l.device_id = s.device_id
WHERE p.district = %s AND p.pnu = %s
ORDER BY distance_m, s.device_id, l.metric
"""

EXPORT = {
    "buildings": """SELECT building_id, name, use, height_m, floors, year_built, address, pnu, synthetic,
                           height_filled, ST_AsBinary(geom) FROM buildings WHERE district = %s ORDER BY building_id""",
    "parcels": """SELECT pnu, sigungu, legal_dong, lot, land_category, area_m2, address, synthetic, ST_AsBinary(geom)
                  FROM parcels WHERE district = %s ORDER BY pnu""",
    "ways": """SELECT way_id, kind, name, width_m, synthetic, ST_AsBinary(geom)
               FROM ways WHERE district = %s ORDER BY way_id""",
    "areas": """SELECT area_id, name, name_en, synthetic, ST_AsBinary(geom)
                FROM areas WHERE district = %s ORDER BY area_id""",
    "sites": """SELECT device_id, kind, name, building_id, pnu, way_id, ST_AsBinary(geom)
                FROM device_sites WHERE district = %s ORDER BY device_id""",
}

DISTRICT_EXISTS = "SELECT count(*) FROM buildings WHERE district = %s"
DISTRICT_ROW_EXISTS = "SELECT 1 FROM districts WHERE district = %s"

SITES_WGS84 = """
SELECT device_id, kind, ST_X(ST_Transform(geom, 4326)) AS lon_deg, ST_Y(ST_Transform(geom, 4326)) AS lat_deg,
       building_id
FROM device_sites WHERE district = %s ORDER BY device_id
"""

DISTRICT_BOUNDARY = "SELECT ST_AsBinary(boundary) FROM districts WHERE district = %s"
