"""Every SQL statement the twin runs. Geometry travels as WKB in EPSG:5186."""

from __future__ import annotations

DELETE_DISTRICT = "DELETE FROM districts WHERE district = %s"

INSERT_DISTRICT = """
INSERT INTO districts (district, name, name_en, center_lon_deg, center_lat_deg, attribution, boundary)
VALUES (%s, %s, %s, %s, %s, %s, ST_Multi(ST_GeomFromWKB(%s, 5186)))
"""

COPY_BUILDINGS = """
COPY buildings (building_id, district, name, use, height_m, floors, synthetic, geom) FROM STDIN
"""

COPY_SITES = "COPY device_sites (device_id, district, kind, name, building_id, pnu, geom) FROM STDIN"

UPSERT_DEVICES = """
INSERT INTO devices (device_id, kind, district, source, lon_deg, lat_deg, building_id)
SELECT s.device_id, s.kind, s.district, 'city',
       ST_X(ST_Transform(s.geom, 4326)), ST_Y(ST_Transform(s.geom, 4326)), s.building_id
FROM device_sites s WHERE s.district = %s
ON CONFLICT (device_id) DO UPDATE
SET kind = excluded.kind, district = excluded.district, lon_deg = excluded.lon_deg,
    lat_deg = excluded.lat_deg, building_id = excluded.building_id, auto_registered = false
"""

DISTRICT_EXISTS = "SELECT count(*) FROM buildings WHERE district = %s"

SITES_WGS84 = """
SELECT device_id, kind, ST_X(ST_Transform(geom, 4326)) AS lon_deg, ST_Y(ST_Transform(geom, 4326)) AS lat_deg,
       building_id
FROM device_sites WHERE district = %s ORDER BY device_id
"""
