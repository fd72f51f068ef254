-- Twin layers beyond buildings: parcels (with PNU), streets and streams; building
-- attributes from official registers. Geometry is stored in EPSG:5186 for computation
-- and, generated from it, in WGS84 for display.
ALTER TABLE buildings
    ADD COLUMN address text,
    ADD COLUMN year_built integer,
    ADD COLUMN pnu text,
    ADD COLUMN height_filled boolean NOT NULL DEFAULT false,
    ADD COLUMN geom_wgs84 geometry(Polygon, 4326) GENERATED ALWAYS AS (ST_Transform(geom, 4326)) STORED;
CREATE INDEX buildings_pnu_idx ON buildings (pnu);

CREATE TABLE parcels (
    district       text NOT NULL REFERENCES districts (district) ON DELETE CASCADE,
    pnu            text NOT NULL CHECK (pnu ~ '^[0-9]{10}[12][0-9]{8}$'),
    sigungu        text,
    legal_dong     text,
    lot            text,
    land_category  text,
    area_m2        double precision,
    address        text,
    synthetic      boolean NOT NULL,
    geom           geometry(MultiPolygon, 5186) NOT NULL,
    geom_wgs84     geometry(MultiPolygon, 4326) GENERATED ALWAYS AS (ST_Transform(geom, 4326)) STORED,
    PRIMARY KEY (district, pnu)
);
CREATE INDEX parcels_geom_idx ON parcels USING gist (geom);
CREATE INDEX parcels_pnu_idx ON parcels (pnu);
CREATE INDEX parcels_lot_idx ON parcels (legal_dong, lot);

CREATE TABLE ways (
    district   text NOT NULL REFERENCES districts (district) ON DELETE CASCADE,
    way_id     text NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('street', 'stream')),
    name       text,
    width_m    double precision,
    synthetic  boolean NOT NULL,
    geom       geometry(LineString, 5186) NOT NULL,
    geom_wgs84 geometry(LineString, 4326) GENERATED ALWAYS AS (ST_Transform(geom, 4326)) STORED,
    PRIMARY KEY (district, way_id)
);
CREATE INDEX ways_geom_idx ON ways USING gist (geom);

ALTER TABLE device_sites ADD COLUMN way_id text;

-- Administrative or legal dong polygons imported from official boundary files.
CREATE TABLE areas (
    district   text NOT NULL REFERENCES districts (district) ON DELETE CASCADE,
    area_id    text NOT NULL,
    name       text,
    name_en    text,
    synthetic  boolean NOT NULL DEFAULT false,
    geom       geometry(MultiPolygon, 5186) NOT NULL,
    geom_wgs84 geometry(MultiPolygon, 4326) GENERATED ALWAYS AS (ST_Transform(geom, 4326)) STORED,
    PRIMARY KEY (district, area_id)
);
CREATE INDEX areas_geom_idx ON areas USING gist (geom);
