"""Backfill into the real database: rows, ground truth, and a second run that adds nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import psycopg
import pytest

from ingest.bulk import BulkWriter
from sensors_sim import anomalies
from sensors_sim.backfill import backfill
from sensors_sim.signals import generate

pytestmark = pytest.mark.integration


def test_backfill_writes_every_report_and_the_truth(
    conn: psycopg.Connection[tuple[object, ...]], dsn: str, unique: str
) -> None:
    kinds = ["air", "noise", "traffic", "energy", "water"]
    fleet = pd.DataFrame(
        {
            "device_id": [f"{k}-{unique}-{i}" for k in kinds for i in range(3)],
            "kind": [k for k in kinds for _ in range(3)],
        }
    )
    end = datetime(2026, 11, 20, tzinfo=UTC)
    start = end - timedelta(days=1)
    run_id = f"test-{unique}"
    with psycopg.connect(dsn) as wconn:
        result = backfill(
            wconn,
            fleet,
            start,
            end,
            interval_s=300,
            seed=4,
            anomalies_per_device_day=2.0,
            run_id=run_id,
            sink=BulkWriter(wconn),
        )
    # expected rows: every generated value that is not dropped out
    times = np.arange(start.timestamp(), end.timestamp(), 300)
    blocks = generate(fleet, times, seed=4, interval_s=300)
    truth = anomalies.plan(fleet, start.timestamp(), end.timestamp(), interval_s=300, per_device_day=2.0, seed=4)
    anomalies.apply(blocks, times, truth, seed=4, interval_s=300)
    expected = sum(int((~np.isnan(v)).sum()) for b in blocks for v in b.values.values())
    assert result.rows == expected
    stored = conn.execute("SELECT count(*) FROM readings WHERE device_id LIKE %s", (f"%-{unique}-%",)).fetchone()
    assert stored == (expected,)
    labels = conn.execute(
        "SELECT device_id, metric, kind, extract(epoch FROM started_at), extract(epoch FROM ended_at) "
        "FROM sim_anomalies WHERE run_id = %s ORDER BY started_at, device_id",
        (run_id,),
    ).fetchall()
    assert len(labels) == len(truth) == result.anomalies > 0
    assert [(d, m, k, float(s), float(e)) for d, m, k, s, e in labels] == [
        (r.device_id, r.metric, r.kind, r.started_at, r.ended_at) for r in truth.itertuples()
    ]
    with psycopg.connect(dsn) as wconn:
        again = backfill(
            wconn,
            fleet,
            start,
            end,
            interval_s=300,
            seed=4,
            anomalies_per_device_day=2.0,
            run_id=run_id,
            sink=BulkWriter(wconn),
        )
    assert again.rows == expected
    assert conn.execute("SELECT count(*) FROM readings WHERE device_id LIKE %s", (f"%-{unique}-%",)).fetchone() == (
        expected,
    )
