"""Every SQL statement the simulator runs: its ground truth. Readings go through ingest."""

from __future__ import annotations

INSERT_TRUTH = """
INSERT INTO sim_anomalies (run_id, device_id, metric, kind, started_at, ended_at, magnitude)
VALUES (%s, %s, %s, %s, to_timestamp(%s), to_timestamp(%s), %s)
ON CONFLICT DO NOTHING
"""

TRUTH = """
SELECT run_id, device_id, metric, kind, started_at, ended_at, magnitude
FROM sim_anomalies WHERE run_id = %s OR %s = '' ORDER BY started_at, device_id
"""
