-- Years of a city: hourly and daily rollups kept equal to the raw readings, the log of
-- what ingest touched since they were last brought up to date, and the archive's manifest.

-- What each batch touched, one row per (device, hour): appended by ingest in the
-- batch's transaction, consumed by the rollup job in one repeatable-read transaction
-- (recompute what it sees, delete what it saw), so no touched hour is ever forgotten.
CREATE TABLE rollup_log (
    id         bigserial PRIMARY KEY,
    device_id  text COLLATE "C" NOT NULL,
    hour       timestamptz      NOT NULL,  -- every metric of the device in that hour is recomputed
    late       integer          NOT NULL DEFAULT 0,  -- readings of the hour that arrived over 10 min after their time
    logged_at  timestamptz      NOT NULL DEFAULT now()  -- the oldest pending row's age is the rollups' lag
);

-- Per (device, metric, hour) and per (device, metric, city day): count, mean, min, max,
-- the last value and its time, and the sum (what counters and energy add up to).
CREATE TABLE rollup_hourly (
    device_id  text COLLATE "C" NOT NULL,
    metric     text COLLATE "C" NOT NULL,
    bucket     timestamptz      NOT NULL,
    n          integer          NOT NULL,
    mean       double precision NOT NULL,
    min        double precision NOT NULL,
    max        double precision NOT NULL,
    last       double precision NOT NULL,
    last_time  timestamptz      NOT NULL,
    sum        double precision NOT NULL,
    late       integer          NOT NULL DEFAULT 0,  -- the device's arrivals that hour over 10 min late (all metrics)
    PRIMARY KEY (device_id, metric, bucket)
);
SELECT create_hypertable('rollup_hourly', by_range('bucket', INTERVAL '30 days'));

CREATE TABLE rollup_daily (
    device_id  text COLLATE "C" NOT NULL,
    metric     text COLLATE "C" NOT NULL,
    day        date             NOT NULL,  -- the city's calendar day
    n          integer          NOT NULL,
    mean       double precision NOT NULL,
    min        double precision NOT NULL,
    max        double precision NOT NULL,
    last       double precision NOT NULL,
    last_time  timestamptz      NOT NULL,
    sum        double precision NOT NULL,
    PRIMARY KEY (device_id, metric, day)
);

-- Raw days written to the columnar archive: a day is read from the archive only once its
-- chunk is dropped (dropped_at), so a crash between writing and dropping loses nothing and
-- counts nothing twice.
CREATE TABLE archive_days (
    day          date        PRIMARY KEY,  -- UTC, the readings chunks' own day
    rows         bigint      NOT NULL,
    bytes        bigint      NOT NULL,
    checksum     double precision NOT NULL,  -- sum of values, compared on read-back
    written_at   timestamptz NOT NULL DEFAULT now(),
    dropped_at   timestamptz
);

-- The lifecycle job's own progress, for `smartcity storage status` (rollup lag).
CREATE TABLE lifecycle_runs (
    job          text        NOT NULL,
    finished_at  timestamptz NOT NULL DEFAULT now(),
    items        bigint      NOT NULL,
    seconds      double precision NOT NULL,
    PRIMARY KEY (job, finished_at)
);
