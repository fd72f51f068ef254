-- The latest values, one row per device instead of one per (device, metric): ingest
-- rewrites a device's row once per batch, a metric an array element, rather than six rows.
-- At 100,000 readings/s the per-metric upsert was over half of ingest's database time
-- (bench/storage.py); a device's whole row is replaced when its newest message carries
-- the same metrics and is newer than all it holds, the common case, and merged metric by
-- metric otherwise (ingest.queries.UPSERT_LATEST). Unlogged as before (sql/010): ingest
-- rebuilds it after a crash. Free space on each page keeps the rewrites on their page.
CREATE UNLOGGED TABLE latest_values (
    device_id      text COLLATE "C" PRIMARY KEY,
    metrics        text[] COLLATE "C" NOT NULL,  -- sorted; the arrays below follow it
    metric_times   timestamptz[]      NOT NULL,
    metric_values  double precision[] NOT NULL,
    oldest         timestamptz        NOT NULL,  -- the least recent of metric_times
    newest         timestamptz        NOT NULL   -- the most recent of metric_times
) WITH (fillfactor = 70);

INSERT INTO latest_values (device_id, metrics, metric_times, metric_values, oldest, newest)
SELECT device_id, array_agg(metric ORDER BY metric), array_agg(time ORDER BY metric),
       array_agg(value ORDER BY metric), min(time), max(time)
FROM latest_readings GROUP BY device_id;

DROP TABLE latest_readings;

-- What every reader used: a row per (device, metric).
CREATE VIEW latest_readings AS
SELECT l.device_id, u.metric, u.time, u.value
FROM latest_values l
CROSS JOIN LATERAL unnest(l.metrics, l.metric_times, l.metric_values) AS u (metric, time, value);
