"""Every SQL statement ingest runs. Values always travel as parameters."""

from __future__ import annotations

CREATE_STAGING = """
CREATE TEMP TABLE IF NOT EXISTS ingest_staging (
    time timestamptz NOT NULL,
    device_id text COLLATE "C" NOT NULL,
    metric text COLLATE "C" NOT NULL,
    value double precision NOT NULL
) ON COMMIT DELETE ROWS
"""

# A batch's newest value of each series, a row per device (sql/012).
CREATE_LATEST_STAGING = """
CREATE TEMP TABLE IF NOT EXISTS ingest_latest (
    device_id text COLLATE "C" NOT NULL,
    metrics text[] COLLATE "C" NOT NULL,
    metric_times timestamptz[] NOT NULL,
    metric_values double precision[] NOT NULL,
    oldest timestamptz NOT NULL,
    newest timestamptz NOT NULL
) ON COMMIT DELETE ROWS
"""
CLEAR_STAGING = "DELETE FROM ingest_staging"
CLEAR_LATEST_STAGING = "DELETE FROM ingest_latest"
COPY_LATEST = """
COPY ingest_latest (device_id, metrics, metric_times, metric_values, oldest, newest) FROM STDIN (FORMAT BINARY)
"""

ANY_READING = "SELECT EXISTS (SELECT 1 FROM readings)"
COPY_READINGS = "COPY readings (time, device_id, metric, value) FROM STDIN (FORMAT BINARY)"
COPY_STAGING = "COPY ingest_staging (time, device_id, metric, value) FROM STDIN (FORMAT BINARY)"
READING_TYPES = ("timestamptz", "text", "text", "float8")

# Redelivered messages collide on the primary key and are skipped: stored exactly once.
INSERT_READINGS = """
INSERT INTO readings (time, device_id, metric, value)
SELECT time, device_id, metric, value FROM ingest_staging
ON CONFLICT DO NOTHING
"""

# Rows in key order, so that concurrent writers lock them in the same order (no deadlock).
# A device's staged row replaces its stored one when it holds the same metrics, each newer
# than anything stored (a device's next message: the subquery's scan is skipped); otherwise
# the two are merged metric by metric, the newer value winning and the stored one on a tie
# (a reading at a time already stored was not stored again).
UPSERT_LATEST = """
INSERT INTO latest_values AS l (device_id, metrics, metric_times, metric_values, oldest, newest)
SELECT device_id, metrics, metric_times, metric_values, oldest, newest FROM ingest_latest ORDER BY device_id
ON CONFLICT (device_id) DO UPDATE SET (metrics, metric_times, metric_values, oldest, newest) = (
    SELECT coalesce(array_agg(m ORDER BY m), excluded.metrics),
           coalesce(array_agg(t ORDER BY m), excluded.metric_times),
           coalesce(array_agg(v ORDER BY m), excluded.metric_values),
           coalesce(min(t), excluded.oldest), coalesce(max(t), excluded.newest)
    FROM (
        SELECT DISTINCT ON (m) m, t, v FROM (
            SELECT m, t, v, 0 AS arrival
            FROM unnest(l.metrics, l.metric_times, l.metric_values) AS kept (m, t, v)
            UNION ALL
            SELECT m, t, v, 1
            FROM unnest(excluded.metrics, excluded.metric_times, excluded.metric_values) AS came (m, t, v)
        ) AS both_rows ORDER BY m, t DESC, arrival
    ) AS merged
    WHERE NOT (excluded.metrics = l.metrics AND excluded.oldest > l.newest)
)
"""

REGISTER_DEVICE = """
INSERT INTO devices (device_id, kind, district, source, owner, auto_registered)
VALUES (%s, %s, %s, %s, %s, true)
ON CONFLICT (device_id) DO NOTHING
"""

KNOWN_DEVICES = "SELECT device_id FROM devices"

COPY_DEAD_LETTERS = """
COPY dead_letters (received_at, topic, device_id, payload, payload_bytes, reason, detail) FROM STDIN (FORMAT BINARY)
"""
DEAD_LETTER_TYPES = ("timestamptz", "text", "text", "bytea", "int4", "text", "text")

INSERT_STATS = """
INSERT INTO ingest_stats (time, worker, messages, readings, rejected, batch_latency_ms)
VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT DO NOTHING
"""

CLASS_ROSTER = """
SELECT class_id, member, expires_at, revoked_at IS NOT NULL FROM class_members
"""

CLASS_DEVICES = """
SELECT district, owner, device_id FROM devices WHERE source = 'class' AND owner IS NOT NULL
"""

# Bulk history (ingest/bulk.py): text COPY, a staging merge for rows stored already.
COPY_READINGS_TEXT = "COPY readings (time, device_id, metric, value) FROM STDIN"
CREATE_BULK_STAGING = """
CREATE TEMP TABLE IF NOT EXISTS bulk_staging (LIKE readings INCLUDING DEFAULTS) ON COMMIT DELETE ROWS
"""
COPY_BULK_STAGING_TEXT = "COPY bulk_staging (time, device_id, metric, value) FROM STDIN"
MERGE_BULK_STAGING = "INSERT INTO readings SELECT * FROM bulk_staging ON CONFLICT DO NOTHING"

# The newest stored reading of each series of these devices since a time, staged as a batch's
# latest values are (then UPSERT_LATEST).
STAGE_LATEST_FROM_READINGS = """
INSERT INTO ingest_latest (device_id, metrics, metric_times, metric_values, oldest, newest)
SELECT device_id, array_agg(metric ORDER BY metric), array_agg(time ORDER BY metric),
       array_agg(value ORDER BY metric), min(time), max(time)
FROM (
    SELECT DISTINCT ON (device_id, metric) device_id, metric, time, value
    FROM readings
    WHERE device_id = ANY(%s) AND time > %s
    ORDER BY device_id, metric, time DESC
) AS newest
GROUP BY device_id
"""

# The latest-value table is unlogged (sql/010): a database crash empties it. Rebuilt from
# what is kept: each series' last value in the daily rollups, and the readings of the
# (device, hour)s the rollups have not taken in yet (ingest logs them in its own
# transactions, so every reading is in one or the other). One writer rebuilds; the rest wait.
LATEST_LOST = """
SELECT pg_advisory_xact_lock(hashtext('smartcity.latest_readings')),
       NOT EXISTS (SELECT 1 FROM latest_values) AND EXISTS (SELECT 1 FROM readings)
"""
STAGE_LATEST_KEPT = """
INSERT INTO ingest_latest (device_id, metrics, metric_times, metric_values, oldest, newest)
SELECT device_id, array_agg(metric ORDER BY metric), array_agg(time ORDER BY metric),
       array_agg(value ORDER BY metric), min(time), max(time)
FROM (
    SELECT DISTINCT ON (device_id, metric) device_id, metric, time, value
    FROM (
        SELECT device_id, metric, last_time AS time, last AS value FROM rollup_daily
        UNION ALL
        SELECT r.device_id, r.metric, r.time, r.value
        FROM (SELECT DISTINCT device_id, hour FROM rollup_log) AS p
        JOIN readings r ON r.device_id = p.device_id AND r.time >= p.hour AND r.time < p.hour + interval '1 hour'
    ) AS kept
    ORDER BY device_id, metric, time DESC
) AS newest
GROUP BY device_id
"""

# The twin's sited devices, registered with their place (ingest/registry.py).
REGISTER_SITED = """
INSERT INTO devices (device_id, kind, district, source, lon_deg, lat_deg, building_id)
SELECT s.device_id, s.kind, s.district, 'city',
       ST_X(ST_Transform(s.geom, 4326)), ST_Y(ST_Transform(s.geom, 4326)), s.building_id
FROM device_sites s WHERE s.district = %s
ON CONFLICT (device_id) DO UPDATE
SET kind = excluded.kind, district = excluded.district, lon_deg = excluded.lon_deg,
    lat_deg = excluded.lat_deg, building_id = excluded.building_id, auto_registered = false
"""

# Registered devices by their external id (lower case): a configured source's messages
# land on the registered id.
DEVICE_ALIASES = "SELECT lower(external_id), device_id FROM devices WHERE external_id IS NOT NULL"

# The registry's import: rows land in a temporary table by COPY, then one upsert.
REGISTRY_STAGE = """
CREATE TEMPORARY TABLE registry_stage (
    device_id text, kind text, external_id text, lon_deg double precision, lat_deg double precision,
    building_id text, parcel_pnu text, address text, installed_on date, owner text
) ON COMMIT DROP
"""
COPY_REGISTRY_STAGE = (
    "COPY registry_stage (device_id, kind, external_id, lon_deg, lat_deg, building_id, parcel_pnu, address, "
    "installed_on, owner) FROM STDIN"
)
REGISTRY_EXTERNAL_CLASHES = """
SELECT s.device_id, s.external_id, d.device_id
FROM registry_stage s JOIN devices d ON lower(d.external_id) = lower(s.external_id) AND d.device_id <> s.device_id
ORDER BY s.device_id LIMIT 20
"""
REGISTRY_CLASS_CLASHES = """
SELECT s.device_id FROM registry_stage s JOIN devices d USING (device_id) WHERE d.source = 'class' LIMIT 20
"""
REGISTRY_UPSERT = """
INSERT INTO devices (device_id, kind, district, source, external_id, lon_deg, lat_deg, building_id, parcel_pnu,
                     address, installed_on, owner, auto_registered)
SELECT device_id, kind, %s, 'city', external_id, lon_deg, lat_deg, building_id, parcel_pnu, address, installed_on,
       owner, false
FROM registry_stage
ON CONFLICT (device_id) DO UPDATE
SET kind = excluded.kind, district = excluded.district, external_id = excluded.external_id,
    lon_deg = excluded.lon_deg, lat_deg = excluded.lat_deg, building_id = excluded.building_id,
    parcel_pnu = excluded.parcel_pnu, address = excluded.address, installed_on = excluded.installed_on,
    owner = excluded.owner, auto_registered = false
"""
REGISTRY_COLUMNS = (
    "device_id", "kind", "district", "source", "external_id", "lon_deg", "lat_deg", "building_id", "parcel_pnu",
    "address", "installed_on", "owner", "auto_registered", "registered_at",
)  # fmt: skip
_REGISTRY_SELECT = """
SELECT device_id, kind, district, source, external_id, lon_deg, lat_deg, building_id, parcel_pnu, address,
       installed_on, owner, auto_registered, registered_at FROM devices"""
REGISTRY_LIST = (
    _REGISTRY_SELECT
    + """
WHERE district = %(district)s AND (NOT %(unplaced)s OR lon_deg IS NULL) AND source <> 'class'
ORDER BY device_id
"""
)
REGISTRY_SHOW = (
    _REGISTRY_SELECT
    + """ WHERE device_id = %s OR lower(external_id) = lower(%s)
"""
)


# Is anyone listening for announcements (the SensorThings bridge connects under this name)?
READINGS_LISTENED = "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = %s)"
# Committed readings announced to listeners (the SensorThings MQTT bridge), in the batch's transaction.
ANNOUNCE_READINGS = "SELECT pg_notify(%s, p) FROM unnest(%s::text[]) AS p"

# What each batch stored, for the rollup job (storage.rollups): per (device, hour) the
# aggregates of the readings stored, one array element a metric, merged into the hour; or,
# for a batch holding redeliveries (which readings were new is the database's to say),
# the device-hours to recompute from the readings (no metrics). ``late``: readings of the
# device-hour that arrived over 10 min late. Packed by ingest._pgbinary (psycopg's array dumping
# cost more than the batch's readings).
COPY_ROLLUP_DELTAS = (
    "COPY rollup_log (device_id, hour, late, metrics, n, sum, min, max, last, last_time) FROM STDIN (FORMAT BINARY)"
)
COPY_TOUCHED_HOURS = "COPY rollup_log (device_id, hour, late) FROM STDIN (FORMAT BINARY)"
TOUCHED_TYPES = ("text", "timestamptz", "int4")
