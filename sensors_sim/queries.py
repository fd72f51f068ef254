"""Every SQL statement the simulator's backfill runs (live mode publishes over MQTT)."""

from __future__ import annotations

COPY_READINGS_TEXT = "COPY readings (time, device_id, metric, value) FROM STDIN"

CREATE_STAGING = """
CREATE TEMP TABLE IF NOT EXISTS sim_staging (LIKE readings INCLUDING DEFAULTS) ON COMMIT DELETE ROWS
"""
COPY_STAGING_TEXT = "COPY sim_staging (time, device_id, metric, value) FROM STDIN"
MERGE_STAGING = "INSERT INTO readings SELECT * FROM sim_staging ON CONFLICT DO NOTHING"

INSERT_TRUTH = """
INSERT INTO sim_anomalies (run_id, device_id, metric, kind, started_at, ended_at, magnitude)
VALUES (%s, %s, %s, %s, to_timestamp(%s), to_timestamp(%s), %s)
ON CONFLICT DO NOTHING
"""

REFRESH_LATEST = """
INSERT INTO latest_readings AS l (device_id, metric, time, value)
SELECT DISTINCT ON (device_id, metric) device_id, metric, time, value
FROM readings
WHERE device_id = ANY(%s) AND time > %s
ORDER BY device_id, metric, time DESC
ON CONFLICT (device_id, metric) DO UPDATE SET time = excluded.time, value = excluded.value
WHERE l.time < excluded.time
"""

TRUTH = """
SELECT run_id, device_id, metric, kind, started_at, ended_at, magnitude
FROM sim_anomalies WHERE run_id = %s OR %s = '' ORDER BY started_at, device_id
"""
