"""Acceptance: the live fleet's messages are accepted by ingest, except the deliberately
malformed share, which is refused with the right reasons (real broker and database)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import numpy as np
import pandas as pd
import psycopg
import pytest

from contract.kinds import METRICS_BY_KIND
from ingest.worker import IngestWorker
from sensors_sim.publisher import MALFORMED, SimConfig, run
from smartcity.settings import Settings
from tests.fixtures.services import wait_for
from tests.fixtures.stack import Broker, cli_env

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("payload_format", ["canonical", "senml"])
def test_live_fleet_is_accepted_except_the_malformed_share(
    conn: psycopg.Connection[tuple[object, ...]], broker: Broker, ingest: IngestWorker, unique: str, payload_format: str
) -> None:
    kinds = list(METRICS_BY_KIND)
    fleet = pd.DataFrame(
        {
            "device_id": [f"{k}-{unique}-{i}" for k in kinds for i in range(4)],
            "kind": [k for k in kinds for _ in range(4)],
        }
    )
    district = f"live{unique}"
    config = SimConfig(
        mqtt_host=broker.host, mqtt_port=broker.port, district=district, mqtt_username=broker.username,
        mqtt_password=broker.password, interval_s=0.5, payload_format=payload_format, malformed_share=0.25,
    )  # fmt: skip
    stop = threading.Event()
    sent = run(config, fleet, stop, duration_s=1.6)
    steps = sent // len(fleet)
    assert steps >= 3

    def stored_messages() -> int:
        row = conn.execute(
            "SELECT count(DISTINCT (device_id, time)) FROM readings WHERE device_id LIKE %s", (f"%-{unique}-%",)
        ).fetchone()
        return int(row[0]) if row else 0

    def dead() -> list[tuple[str, int]]:
        return conn.execute(
            "SELECT reason, count(*) FROM dead_letters WHERE topic LIKE %s GROUP BY reason ORDER BY reason",
            (f"city/{district}/%",),
        ).fetchall()

    assert wait_for(lambda: stored_messages() + sum(n for _, n in dead()) >= sent, 10.0)
    reasons = dict(dead())
    assert sum(reasons.values()) > 0, "no malformed message was sent; the test proves nothing"
    assert set(reasons) <= {reason for _, reason in MALFORMED}
    assert stored_messages() + sum(reasons.values()) == sent
    assert 0.1 < sum(reasons.values()) / sent < 0.45
    # every dead letter is one of the broken payloads, refused for its own reason
    pairs = conn.execute(
        "SELECT payload, reason FROM dead_letters WHERE topic LIKE %s", (f"city/{district}/%",)
    ).fetchall()
    assert {(bytes(p), r) for p, r in pairs} <= set(MALFORMED)


def _fleet(unique: str, kinds: list[str], per_kind: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "device_id": [f"{k}-{unique}-{i}" for k in kinds for i in range(per_kind)],
            "kind": [k for k in kinds for _ in range(per_kind)],
        }
    )


def _stored(conn: psycopg.Connection[tuple[object, ...]], unique: str) -> dict[tuple[str, str, float], float]:
    rows = conn.execute(
        "SELECT device_id, metric, extract(epoch FROM time)::float8, value FROM readings WHERE device_id LIKE %s",
        (f"%-{unique}-%",),
    ).fetchall()
    return {(str(d), str(m), round(float(t), 6)): float(v) for d, m, t, v in rows}


def test_live_anomalies_are_labelled_as_they_begin_and_land_as_labelled(
    conn: psycopg.Connection[tuple[object, ...]], broker: Broker, ingest: IngestWorker, unique: str
) -> None:
    from datetime import UTC, datetime

    from sensors_sim.reports import sample

    fleet = _fleet(unique, ["air", "noise", "traffic", "energy", "water"], 6)
    config = SimConfig(
        mqtt_host=broker.host, mqtt_port=broker.port, district=f"anom{unique}", mqtt_username=broker.username,
        mqtt_password=broker.password, interval_s=60, speed=240, anomaly_rate=400.0, seed=11,
    )  # fmt: skip
    labelled: list[pd.DataFrame] = []
    sent = run(config, fleet, threading.Event(), duration_s=2.5, on_truth=labelled.append)
    assert labelled, "no anomaly began during the run; the test proves nothing"
    truth = pd.concat(labelled, ignore_index=True)
    assert not truth.duplicated().any(), "an anomaly was announced twice"
    assert wait_for(lambda: len({(d, t) for d, _, t in _stored(conn, unique)}) >= sent, 10.0)
    stored = _stored(conn, unique)
    times = sorted({t for _, _, t in stored})
    assert (truth["started_at"] <= times[-1] + 1e-3).all() and (truth["ended_at"] >= times[0] - 1e-3).all()
    # Every stored value is exactly what the labelled truth says it should be, and every
    # dropout left a hole: the labels are the ground truth of what was sent.
    from sensors_sim import anomalies

    # the simulator's plan for each day the run touched (a run may cross midnight UTC),
    # rebuilt from the same seed
    def day_plan(day: int) -> pd.DataFrame:
        start_s = day * 86400.0
        planned = anomalies.plan(fleet, start_s, start_s + 86400, interval_s=60, per_device_day=400.0, seed=11)
        return anomalies.with_reference(fleet, planned, seed=11, interval_s=60)

    plans = {day: day_plan(day) for day in range(int(times[0] // 86400), int(times[-1] // 86400) + 1)}
    planned_rows = pd.concat(plans.values(), ignore_index=True)[anomalies.TRUTH_COLUMNS]
    assert set(map(tuple, truth[anomalies.TRUTH_COLUMNS].to_numpy().tolist())) <= set(
        map(tuple, planned_rows.to_numpy().tolist())
    )
    dropouts = 0
    for t in times[1:-1]:  # the first and last may be cut by the run's edges
        expected = sample(fleet, datetime.fromtimestamp(t, UTC), seed=11, interval_s=60, truth=plans[int(t // 86400)])
        for device_id, _, metrics in expected:
            for metric in {m for d, m, tt in stored if d == device_id and tt == t} | set(metrics):
                key = (device_id, metric, t)
                if metric not in metrics:
                    dropouts += 1
                    assert key not in stored, f"{key} was dropped out but stored"
                elif key not in stored:
                    raise AssertionError(f"{key} was sent but not stored")
                else:
                    assert stored[key] == pytest.approx(metrics[metric], rel=1e-6, abs=1e-6), key
    kinds = set(truth["kind"])
    assert {"spike", "level_shift"} & kinds, kinds
    dead = conn.execute("SELECT count(*) FROM dead_letters WHERE topic LIKE %s", (f"city/anom{unique}/%",)).fetchone()
    assert dead == (0,), "an anomalous but plausible reading was refused by ingest"


def test_flaky_fleet_late_and_duplicated_deliveries_land_once(
    conn: psycopg.Connection[tuple[object, ...]], broker: Broker, ingest: IngestWorker, unique: str
) -> None:
    fleet = _fleet(unique, ["noise", "traffic"], 10)
    config = SimConfig(
        mqtt_host=broker.host, mqtt_port=broker.port, district=f"flaky{unique}", mqtt_username=broker.username,
        mqtt_password=broker.password, interval_s=0.5, jitter_s=0.2, late_share=0.2, late_by_s=1.0,
        duplicate_share=0.3, offline_share=0.0,
    )  # fmt: skip
    sent = run(config, fleet, threading.Event(), duration_s=2.0)
    steps = sent / len(fleet)
    assert steps > 3

    def distinct_reports() -> int:
        row = conn.execute(
            "SELECT count(DISTINCT (device_id, time)) FROM readings WHERE device_id LIKE %s", (f"%-{unique}-%",)
        ).fetchone()
        return int(row[0]) if row else 0

    # every report once, whatever arrived twice or late: wait until nothing more lands
    seen = [-1]

    def settled() -> bool:
        now = distinct_reports()
        done = now == seen[0] and now > 0
        seen[0] = now
        return done

    assert wait_for(settled, 15.0, interval_s=1.0)
    reports = seen[0]
    assert reports < sent, "duplicates were switched on but none was sent"
    # nothing lost: every device reported at every step (no offline share, nothing malformed)
    assert reports % len(fleet) == 0
    # about 0.8 * 0.3 of the reports went twice (late ones are held, not doubled): 1 / 1.24 = 0.81;
    # the bounds are wide because a run of 2 s holds only ~100 reports
    assert 0.65 < reports / sent < 0.95
    stamps = conn.execute(
        "SELECT extract(epoch FROM time)::float8 FROM readings WHERE device_id LIKE %s", (f"%-{unique}-%",)
    ).fetchall()
    offsets = [float(t) % 0.5 for (t,) in stamps]
    assert max(offsets) - min(offsets) > 0.05, "jitter was switched on but every stamp is on the grid"


def test_offline_hours_send_nothing() -> None:
    from sensors_sim.publisher import _offline

    config = SimConfig(mqtt_host="", mqtt_port=0, district="x", offline_share=0.25)
    hours = [_offline(config, f"d-{d}", h * 3600.0) for d in range(40) for h in range(100)]
    assert 0.2 < sum(hours) / len(hours) < 0.3
    # an hour is off or on as a whole
    assert all(_offline(config, "d-1", 7200.0 + s) == _offline(config, "d-1", 7200.0) for s in range(0, 3600, 60))


def test_teacher_triggers_a_flood_while_live_and_every_stream_rises(
    conn: psycopg.Connection[tuple[object, ...]], broker: Broker, ingest: IngestWorker, unique: str, settings: Settings
) -> None:
    fleet = _fleet(unique, ["water", "noise"], 5)
    district = f"scen{unique}"
    config = SimConfig(
        mqtt_host=broker.host, mqtt_port=broker.port, district=district, mqtt_username=broker.username,
        mqtt_password=broker.password, interval_s=0.5,
    )  # fmt: skip
    stop = threading.Event()
    sim = threading.Thread(target=run, args=(config, fleet, stop), kwargs={"duration_s": 20}, daemon=True)
    sim.start()
    try:
        assert wait_for(lambda: len(_stored(conn, unique)) >= 10, 10.0)
        asked_at = time.time()
        env = cli_env(settings, SMARTCITY_DISTRICT=district)
        bad = subprocess.run(
            [sys.executable, "-m", "smartcity.cli", "sim", "scenario", "tsunami"],
            check=False, env=env, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert bad.returncode == 2 and "unknown scenario 'tsunami'" in bad.stderr
        done = subprocess.run(
            [sys.executable, "-m", "smartcity.cli", "sim", "scenario", "flood", "--duration", "600"],
            check=False, env=env, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        assert '"scenario":"flood"' in done.stdout
        settled_at = time.time() + 1.5
        assert wait_for(lambda: max(t for _, _, t in _stored(conn, unique)) > settled_at, 10.0)
    finally:
        stop.set()
        sim.join(10)
    stored = _stored(conn, unique)
    for device_id in fleet.loc[fleet["kind"] == "water", "device_id"]:
        before = [v for (d, m, t), v in stored.items() if d == device_id and t < asked_at]
        after = [v for (d, m, t), v in stored.items() if d == device_id and t > settled_at]
        assert before and after
        assert min(after) > max(before) + 0.5, device_id
    noise_before = [v for (d, m, t), v in stored.items() if m == "noise_dba" and t < asked_at]
    noise_after = [v for (d, m, t), v in stored.items() if m == "noise_dba" and t > settled_at]
    assert abs(np.mean(noise_after) - np.mean(noise_before)) < 5, "a flood does not change the noise"
