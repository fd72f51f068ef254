-- Core schema: devices, the readings hypertable, latest state, dead letters, ingest stats.
CREATE EXTENSION IF NOT EXISTS timescaledb;
CREATE EXTENSION IF NOT EXISTS postgis;

CREATE TABLE devices (
    device_id      text COLLATE "C" PRIMARY KEY,
    kind           text NOT NULL,
    district       text NOT NULL,
    source         text NOT NULL DEFAULT 'city' CHECK (source IN ('city', 'class')),
    lon_deg        double precision,
    lat_deg        double precision,
    building_id    text,
    registered_at  timestamptz NOT NULL DEFAULT now(),
    auto_registered boolean NOT NULL DEFAULT false
);

-- One row per (device, metric, time): the key makes redelivered messages harmless.
-- Identifiers use the "C" collation: byte comparison keeps the key index cheap to
-- insert into. The primary key serves per-series reads and chunk exclusion serves
-- time ranges, so the default time index is not created (it only slows inserts).
CREATE TABLE readings (
    time       timestamptz      NOT NULL,
    device_id  text COLLATE "C" NOT NULL,
    metric     text COLLATE "C" NOT NULL,
    value      double precision NOT NULL,
    PRIMARY KEY (device_id, metric, time)
);
SELECT create_hypertable('readings', by_range('time', INTERVAL '1 day'), create_default_indexes => false);

-- Latest value per series, kept by ingest in the same transaction as the readings.
CREATE TABLE latest_readings (
    device_id  text COLLATE "C" NOT NULL,
    metric     text COLLATE "C" NOT NULL,
    time       timestamptz      NOT NULL,
    value      double precision NOT NULL,
    PRIMARY KEY (device_id, metric)
);

CREATE TABLE dead_letters (
    id           bigserial PRIMARY KEY,
    received_at  timestamptz NOT NULL DEFAULT now(),
    topic        text        NOT NULL,
    device_id    text,
    payload      bytea       NOT NULL,
    payload_bytes integer    NOT NULL,
    reason       text        NOT NULL,
    detail       text        NOT NULL
);
CREATE INDEX dead_letters_device_idx ON dead_letters (device_id, received_at DESC);
CREATE INDEX dead_letters_reason_idx ON dead_letters (reason, received_at DESC);

CREATE TABLE ingest_stats (
    time              timestamptz NOT NULL DEFAULT now(),
    worker            text        NOT NULL,
    messages          bigint      NOT NULL,
    readings          bigint      NOT NULL,
    rejected          bigint      NOT NULL,
    batch_latency_ms  double precision NOT NULL,
    PRIMARY KEY (worker, time)
);
