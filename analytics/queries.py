"""Every SQL statement analytics runs."""

from __future__ import annotations

# Series resampled into buckets with TimescaleDB's time_bucket (works in the Apache edition).
BUCKETED = """
SELECT device_id, metric, time_bucket(%(bucket)s::interval, time) AS bucket, avg(value) AS value
FROM readings
WHERE time > %(since)s AND device_id LIKE %(devices)s
GROUP BY device_id, metric, bucket
ORDER BY device_id, metric, bucket
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
