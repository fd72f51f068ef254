"""Every SQL statement analytics runs."""

from __future__ import annotations

# Series resampled into buckets with TimescaleDB's time_bucket (works in the Apache edition);
# min and max keep a single wild report visible in a bucket of many.
BUCKETED = """
SELECT device_id, metric, time_bucket(%(bucket)s::interval, time) AS bucket,
       avg(value) AS value, min(value) AS low, max(value) AS high
FROM readings
WHERE time > %(since)s AND time <= %(until)s AND device_id LIKE %(devices)s
GROUP BY device_id, metric, bucket
ORDER BY device_id, metric, bucket
"""

# Which district and building each city device belongs to (students' devices stay out of
# the city's aggregates).
DEVICE_GROUPS = """
SELECT device_id, district, building_id FROM devices
WHERE source = 'city' AND device_id LIKE %s
"""

INSERT_FORECAST = """
INSERT INTO forecasts (time, device_id, metric, made_at, model, yhat, lo80, hi80, lo95, hi95, backtest_mae)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT DO NOTHING
"""

DELETE_OLD_FORECASTS = "DELETE FROM forecasts WHERE made_at < %s"

INSERT_ANOMALY = """
INSERT INTO anomalies (device_id, metric, started_at, ended_at, kind, severity, explanation)
VALUES (%s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (device_id, metric, started_at, kind) DO UPDATE
SET ended_at = excluded.ended_at, severity = excluded.severity, explanation = excluded.explanation
RETURNING id, (xmax = 0) AS inserted
"""

# An ongoing episode can change its mind (one wild point becomes a level shift): the
# unacknowledged row of the old kind with the same start goes.
DROP_RECLASSIFIED = """
DELETE FROM anomalies
WHERE device_id = %s AND metric = %s AND started_at = %s AND kind <> %s AND NOT acknowledged
"""

TRUTH_RUNS = """
SELECT run_id, min(started_at), max(ended_at), count(*) FROM sim_anomalies
GROUP BY run_id ORDER BY max(ended_at) DESC
"""

TRUTH = """
SELECT device_id, metric, kind, started_at, ended_at FROM sim_anomalies
WHERE run_id = %s AND device_id LIKE %s
"""

# The span of a run's readings: from the first to the last reading of its devices.
RUN_SPAN = """
SELECT min(r.time), max(r.time) FROM readings r
WHERE r.device_id IN (SELECT DISTINCT device_id FROM sim_anomalies WHERE run_id = %s)
"""

ACKNOWLEDGE = "UPDATE anomalies SET acknowledged = true WHERE id = %s"
