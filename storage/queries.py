"""SQL of the storage lifecycle: rollups, the archive's manifest, retention, status."""

from __future__ import annotations

from psycopg import sql

# -- rollups ------------------------------------------------------------------------------------
# Run in one REPEATABLE READ transaction: the log rows this snapshot sees are recomputed from
# the readings this snapshot sees, then exactly those log rows are deleted. A batch that
# commits meanwhile is invisible to all three statements and waits for the next run.
LOG_UPTO = "SELECT max(id) FROM (SELECT id FROM rollup_log ORDER BY id LIMIT %s) AS first"
# A run sorts and groups up to a million rows of the log: in memory rather than on disk, and
# without compiling its expressions first (JIT took about a second of every such run).
RUN_SETTINGS = ("SET LOCAL work_mem = '128MB'", "SET LOCAL jit = off")

# Touched hours on days whose raw chunks are archived and dropped: recomputed from the
# archive and the late readings together, in Python (storage.rollups), not here.
TOUCHED_ARCHIVED = """
SELECT DISTINCT l.device_id, x.metric, l.hour FROM rollup_log l
JOIN archive_days a ON a.day = (l.hour AT TIME ZONE 'UTC')::date AND a.dropped_at IS NOT NULL
CROSS JOIN LATERAL (
    SELECT r.metric FROM readings r
    WHERE r.device_id = l.device_id AND r.time >= l.hour AND r.time < l.hour + interval '1 hour'
    UNION SELECT h.metric FROM rollup_hourly h WHERE h.device_id = l.device_id AND h.bucket = l.hour
) AS x
WHERE l.id <= %(upto)s
"""

# Every metric of each device-hour logged without metrics (on a day not archived), from
# raw; ``late`` is added afterwards.
ROLLUP_HOURS = """
WITH touched AS (
    SELECT DISTINCT l.device_id, l.hour FROM rollup_log l
    WHERE l.id <= %(upto)s AND l.metrics IS NULL AND NOT EXISTS (
        SELECT 1 FROM archive_days a WHERE a.day = (l.hour AT TIME ZONE 'UTC')::date AND a.dropped_at IS NOT NULL)
)
INSERT INTO rollup_hourly AS h (device_id, metric, bucket, n, mean, min, max, last, last_time, sum)
SELECT t.device_id, r.metric, t.hour, count(*), avg(r.value), min(r.value), max(r.value),
       (array_agg(r.value ORDER BY r.time DESC))[1], max(r.time), sum(r.value)
FROM touched t
JOIN readings r ON r.device_id = t.device_id AND r.time >= t.hour AND r.time < t.hour + interval '1 hour'
GROUP BY t.device_id, r.metric, t.hour
ON CONFLICT (device_id, metric, bucket) DO UPDATE SET
    n = EXCLUDED.n, mean = EXCLUDED.mean, min = EXCLUDED.min, max = EXCLUDED.max,
    last = EXCLUDED.last, last_time = EXCLUDED.last_time, sum = EXCLUDED.sum
"""

# The aggregates ingest logged of the readings it stored, merged into their hours and into
# their city days: exact, since a reading and its delta commit together and a reading is
# stored once. Not for archived days (a late redelivery of an archived reading is stored
# again in the hot table: those hours are recomputed from the archive and the late readings
# together), nor for device-hours recomputed in this run, nor, for the days, for device-days
# holding such an hour (ROLLUP_DAYS recomputes those from their hours). The deltas are
# unnested and grouped once, for both tables; the statement's row count is the days'.
# Written for speed (a run takes a million aggregates and more): the arrays are unnested in
# the select list (in step, no tuplestore per log row), and each group's last value is the
# greatest (time, value) pair, so the groups are hashed rather than sorted; together 35-40%
# faster than a lateral unnest and array_agg(... ORDER BY). Distinct microseconds stay
# distinct as float8 seconds (their spacing is under a microsecond until 2106).
MERGE_DELTAS = """
WITH recomputed AS (
    SELECT DISTINCT l.device_id, l.hour FROM rollup_log l
    WHERE l.id <= %(upto)s AND l.metrics IS NULL AND NOT EXISTS (
        SELECT 1 FROM archive_days a WHERE a.day = (l.hour AT TIME ZONE 'UTC')::date AND a.dropped_at IS NOT NULL)
),
recomputed_days AS (
    SELECT DISTINCT l.device_id, (l.hour AT TIME ZONE %(tz)s)::date AS day FROM rollup_log l
    WHERE l.id <= %(upto)s AND (l.metrics IS NULL OR EXISTS (
        SELECT 1 FROM archive_days a WHERE a.day = (l.hour AT TIME ZONE 'UTC')::date AND a.dropped_at IS NOT NULL))
),
deltas AS MATERIALIZED (
    SELECT u.device_id, u.metric, u.hour, sum(u.n) AS n, sum(u.sum) AS sum, min(u.min) AS min, max(u.max) AS max,
           (max(ARRAY[extract(epoch FROM u.last_time)::float8, u.last]))[2] AS last, max(u.last_time) AS last_time
    FROM (
        SELECT l.device_id, l.hour, unnest(l.metrics) AS metric, unnest(l.n) AS n, unnest(l.sum) AS sum,
               unnest(l.min) AS min, unnest(l.max) AS max, unnest(l.last) AS last, unnest(l.last_time) AS last_time
        FROM rollup_log l
        WHERE l.id <= %(upto)s AND l.metrics IS NOT NULL
          AND (l.device_id, l.hour) NOT IN (SELECT c.device_id, c.hour FROM recomputed c)
          AND (l.hour AT TIME ZONE 'UTC')::date NOT IN (SELECT a.day FROM archive_days a WHERE a.dropped_at IS NOT NULL)
    ) AS u
    GROUP BY u.device_id, u.metric, u.hour
),
hours AS (
    INSERT INTO rollup_hourly AS h (device_id, metric, bucket, n, mean, min, max, last, last_time, sum)
    SELECT device_id, metric, hour, n, sum / n, min, max, last, last_time, sum FROM deltas
    ORDER BY device_id, metric, hour
    ON CONFLICT (device_id, metric, bucket) DO UPDATE SET
        n = h.n + EXCLUDED.n, sum = h.sum + EXCLUDED.sum, mean = (h.sum + EXCLUDED.sum) / (h.n + EXCLUDED.n),
        min = least(h.min, EXCLUDED.min), max = greatest(h.max, EXCLUDED.max),
        last = CASE WHEN EXCLUDED.last_time >= h.last_time THEN EXCLUDED.last ELSE h.last END,
        last_time = greatest(h.last_time, EXCLUDED.last_time)
),
day_deltas AS (
    SELECT x.device_id, x.metric, x.day, sum(x.n) AS n, sum(x.sum) AS sum, min(x.min) AS min, max(x.max) AS max,
           (max(ARRAY[extract(epoch FROM x.last_time)::float8, x.last]))[2] AS last, max(x.last_time) AS last_time
    FROM (SELECT deltas.*, (deltas.hour AT TIME ZONE %(tz)s)::date AS day FROM deltas) AS x
    WHERE (x.device_id, x.day) NOT IN (SELECT r.device_id, r.day FROM recomputed_days r)
    GROUP BY x.device_id, x.metric, x.day
)
INSERT INTO rollup_daily AS d (device_id, metric, day, n, mean, min, max, last, last_time, sum)
SELECT device_id, metric, day, n, sum / n, min, max, last, last_time, sum FROM day_deltas
ORDER BY device_id, metric, day
ON CONFLICT (device_id, metric, day) DO UPDATE SET
    n = d.n + EXCLUDED.n, sum = d.sum + EXCLUDED.sum, mean = (d.sum + EXCLUDED.sum) / (d.n + EXCLUDED.n),
    min = least(d.min, EXCLUDED.min), max = greatest(d.max, EXCLUDED.max),
    last = CASE WHEN EXCLUDED.last_time >= d.last_time THEN EXCLUDED.last ELSE d.last END,
    last_time = greatest(d.last_time, EXCLUDED.last_time)
"""

# Late arrivals counted per device-hour, standing on each of the device's metric rows of it.
ADD_LATE = """
UPDATE rollup_hourly h SET late = h.late + t.late
FROM (
    SELECT l.device_id, l.hour, sum(l.late) AS late FROM rollup_log l
    WHERE l.id <= %(upto)s AND l.late > 0 AND NOT EXISTS (
        SELECT 1 FROM archive_days a WHERE a.day = (l.hour AT TIME ZONE 'UTC')::date AND a.dropped_at IS NOT NULL)
    GROUP BY l.device_id, l.hour
) AS t
WHERE h.device_id = t.device_id AND h.bucket = t.hour
"""

UPSERT_HOUR = """
INSERT INTO rollup_hourly (device_id, metric, bucket, n, mean, min, max, last, last_time, sum)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (device_id, metric, bucket) DO UPDATE SET
    n = EXCLUDED.n, mean = EXCLUDED.mean, min = EXCLUDED.min, max = EXCLUDED.max,
    last = EXCLUDED.last, last_time = EXCLUDED.last_time, sum = EXCLUDED.sum
"""

# Days of the city's calendar holding an hour recomputed in this run, recomputed from their
# hours (sums and counts add up exactly; the mean is the sum over the count); MERGE_DELTAS
# merged the rest.
ROLLUP_DAYS = """
WITH days AS (
    SELECT DISTINCT l.device_id, (l.hour AT TIME ZONE %(tz)s)::date AS day FROM rollup_log l
    WHERE l.id <= %(upto)s AND (l.metrics IS NULL OR EXISTS (
        SELECT 1 FROM archive_days a WHERE a.day = (l.hour AT TIME ZONE 'UTC')::date AND a.dropped_at IS NOT NULL))
)
INSERT INTO rollup_daily AS d (device_id, metric, day, n, mean, min, max, last, last_time, sum)
SELECT s.device_id, h.metric, s.day, sum(h.n), sum(h.sum) / sum(h.n), min(h.min), max(h.max),
       (array_agg(h.last ORDER BY h.last_time DESC))[1], max(h.last_time), sum(h.sum)
FROM days s
JOIN rollup_hourly h ON h.device_id = s.device_id
     AND h.bucket >= (s.day::timestamp AT TIME ZONE %(tz)s) AND h.bucket < ((s.day + 1)::timestamp AT TIME ZONE %(tz)s)
GROUP BY s.device_id, h.metric, s.day
ON CONFLICT (device_id, metric, day) DO UPDATE SET
    n = EXCLUDED.n, mean = EXCLUDED.mean, min = EXCLUDED.min, max = EXCLUDED.max,
    last = EXCLUDED.last, last_time = EXCLUDED.last_time, sum = EXCLUDED.sum
"""

CONSUME_LOG = "DELETE FROM rollup_log WHERE id <= %(upto)s"

# Everything in a time range marked touched: after a bulk load that bypassed ingest.
MARK_RANGE = """
INSERT INTO rollup_log (device_id, hour)
SELECT DISTINCT device_id, date_trunc('hour', time, 'UTC') FROM readings WHERE time >= %s AND time < %s
"""

ROLLUP_LAG = "SELECT coalesce(extract(epoch FROM now() - min(logged_at)), 0)::float8, count(*) FROM rollup_log"

RECORD_RUN = "INSERT INTO lifecycle_runs (job, items, seconds) VALUES (%s, %s, %s)"

# -- the archive ----------------------------------------------------------------------------------
DAYS_TO_ARCHIVE = """
SELECT DISTINCT (time_bucket(INTERVAL '1 day', time))::date AS day FROM readings
WHERE time < %s ORDER BY day
"""
# A day's readings by chunk bounds (the readings hypertable's chunks are UTC days).
DAY_READINGS = """
SELECT metric, device_id, time, value FROM readings
WHERE time >= %s AND time < %s ORDER BY metric, device_id, time
"""
DAY_COUNT = "SELECT count(*), coalesce(sum(value), 0) FROM readings WHERE time >= %s AND time < %s"
ARCHIVED_DAY = "SELECT rows, checksum, dropped_at FROM archive_days WHERE day = %s"
RECORD_ARCHIVED = """
INSERT INTO archive_days (day, rows, bytes, checksum) VALUES (%s, %s, %s, %s)
ON CONFLICT (day) DO UPDATE SET rows = EXCLUDED.rows, bytes = EXCLUDED.bytes, checksum = EXCLUDED.checksum,
    written_at = now(), dropped_at = NULL
"""
DAY_CHUNKS = """
SELECT chunk_schema, chunk_name FROM timescaledb_information.chunks
WHERE hypertable_name = 'readings' AND range_start >= %s AND range_end <= %s
"""


def lock_chunk(schema: str, name: str) -> sql.Composed:
    """Writers to this chunk wait until the archiving transaction ends (readers do not)."""
    return sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(sql.Identifier(schema, name))


DROP_DAY = """
SELECT count(*) FROM drop_chunks('readings', older_than => %s::timestamptz, newer_than => %s::timestamptz)
"""
MARK_DROPPED = "UPDATE archive_days SET dropped_at = now() WHERE day = %s"
ARCHIVED_DAYS = "SELECT day FROM archive_days WHERE dropped_at IS NOT NULL AND day >= %s AND day <= %s ORDER BY day"

# DuckDB's, over the archive's Parquet files
ARCHIVE_READINGS = """
SELECT time, value FROM read_parquet($files) WHERE device_id = $device AND time >= $start AND time < $end
"""

# -- reading history ----------------------------------------------------------------------------
HOT_READINGS = """
SELECT time, value FROM readings WHERE device_id = %s AND metric = %s AND time >= %s AND time < %s ORDER BY time
"""
DEVICE_DAILY = """
SELECT day, n, mean, min, max, last, sum FROM rollup_daily
WHERE device_id = %s AND metric = %s AND day >= %s AND day <= %s ORDER BY day
"""
DISTRICT_DAILY = """
SELECT d.day, sum(d.n)::bigint AS n, sum(d.sum) / sum(d.n) AS mean, min(d.min) AS min, max(d.max) AS max,
       count(DISTINCT d.device_id) AS devices
FROM rollup_daily d JOIN devices v ON v.device_id = d.device_id
WHERE v.district = %s AND d.metric = %s AND d.day >= %s AND d.day <= %s
GROUP BY d.day ORDER BY d.day
"""
DEVICE_HOURLY = """
SELECT bucket, n, mean, min, max, last, sum FROM rollup_hourly
WHERE device_id = %s AND metric = %s AND bucket >= %s AND bucket < %s ORDER BY bucket
"""

# -- status ----------------------------------------------------------------------------------
STATUS_BYTES = """
SELECT (SELECT total_bytes FROM hypertable_detailed_size('readings')),
       (SELECT total_bytes FROM hypertable_detailed_size('rollup_hourly')),
       (SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'readings')
"""
STATUS_ROWS = """
SELECT (SELECT count(*) FROM readings) AS readings,
       (SELECT count(*) FROM rollup_hourly) AS hourly,
       (SELECT count(*) FROM rollup_daily) AS daily,
       pg_total_relation_size('rollup_daily') AS daily_bytes,
       (SELECT min(range_start) FROM timescaledb_information.chunks WHERE hypertable_name = 'readings') AS oldest_chunk,
       (SELECT max(range_end) FROM timescaledb_information.chunks WHERE hypertable_name = 'readings') AS newest_chunk,
       (SELECT count(*) FROM rollup_log) AS pending_hours,
       (SELECT extract(epoch FROM now() - min(logged_at)) FROM rollup_log) AS rollup_lag_s,
       (SELECT count(*) FROM archive_days WHERE dropped_at IS NOT NULL) AS archived_days,
       (SELECT coalesce(sum(rows), 0) FROM archive_days WHERE dropped_at IS NOT NULL) AS archived_rows,
       (SELECT coalesce(sum(bytes), 0) FROM archive_days) AS archive_bytes
"""

# -- completeness --------------------------------------------------------------------------------
# Per device and hour in the window: reports received (the most of any of its metrics: one
# report carries them all), readings that came late; and the device's usual reports per
# hour over the week before (its learnt cadence).
COMPLETENESS_HOURS = """
SELECT h.device_id, h.bucket, max(h.n) AS received, max(h.late) AS late
FROM rollup_hourly h JOIN devices d ON d.device_id = h.device_id
WHERE h.bucket >= %(start)s AND h.bucket < %(end)s AND d.source <> 'class'
GROUP BY h.device_id, h.bucket
"""
COMPLETENESS_DEVICES = """
SELECT d.device_id, d.kind, d.district, d.registered_at,
       (SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY per_hour.n) FROM (
            SELECT max(h.n) AS n FROM rollup_hourly h
            WHERE h.device_id = d.device_id AND h.bucket >= %(start)s - interval '7 days' AND h.bucket < %(end)s
            GROUP BY h.bucket) AS per_hour) AS usual_per_hour,
       (SELECT count(*) FROM dead_letters l
        WHERE l.device_id = d.device_id AND l.received_at >= %(start)s AND l.received_at < %(end)s) AS dead_lettered
FROM devices d WHERE d.source <> 'class' AND (%(district)s::text IS NULL OR d.district = %(district)s)
"""

# -- backup and restore ------------------------------------------------------------------------
BACKUP_COUNTS = """
SELECT (SELECT count(*) FROM readings), (SELECT coalesce(sum(value), 0) FROM readings),
       (SELECT coalesce(sum(rows), 0) FROM archive_days WHERE dropped_at IS NOT NULL)
"""
PRE_RESTORE = "SELECT timescaledb_pre_restore()"
POST_RESTORE = "SELECT timescaledb_post_restore()"
CREATE_TIMESCALEDB = "CREATE EXTENSION IF NOT EXISTS timescaledb"


def drop_database(name: str) -> sql.Composed:
    return sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))


def create_database(name: str) -> sql.Composed:
    return sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
