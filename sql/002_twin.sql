-- Twin layers: districts, buildings and parcels, stored in EPSG:5186 for computation.
CREATE TABLE districts (
    district     text PRIMARY KEY,
    name         text NOT NULL,
    name_en      text NOT NULL,
    center_lon_deg double precision NOT NULL,
    center_lat_deg double precision NOT NULL,
    attribution  text NOT NULL,
    boundary     geometry(MultiPolygon, 5186)
);

CREATE TABLE buildings (
    building_id  text PRIMARY KEY,
    district     text NOT NULL REFERENCES districts (district) ON DELETE CASCADE,
    name         text,
    use          text,
    height_m     double precision NOT NULL CHECK (height_m > 0),
    floors       integer,
    synthetic    boolean NOT NULL,
    geom         geometry(Polygon, 5186) NOT NULL
);
CREATE INDEX buildings_geom_idx ON buildings USING gist (geom);
CREATE INDEX buildings_district_idx ON buildings (district);

CREATE TABLE device_sites (
    device_id    text PRIMARY KEY,
    district     text NOT NULL REFERENCES districts (district) ON DELETE CASCADE,
    kind         text NOT NULL,
    name         text,
    building_id  text,
    pnu          text,
    geom         geometry(Point, 5186) NOT NULL
);
CREATE INDEX device_sites_geom_idx ON device_sites USING gist (geom);
