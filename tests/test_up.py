"""The skeleton path: `smartcity up` on a fresh machine runs the whole city, with a past,
and stops it cleanly."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psycopg
import pytest

from smartcity.settings import Settings
from tests.fixtures.stack import free_port

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.integration


def test_up_runs_the_city_and_ctrl_c_stops_it(settings: Settings) -> None:
    """On its own fresh home (a new cluster and broker, an empty database), as a new user's
    first ``make demo``: live readings through the broker, rollups, and within two minutes
    the wall's forecast band and an anomaly episode."""
    if settings.dsn:
        pytest.skip("`smartcity up` manages the local stack; external services were given")
    port = free_port()
    home = ROOT / ".smartcity" / f"test-up-{os.getpid()}"
    shutil.rmtree(home, ignore_errors=True)
    env = dict(os.environ)
    env.update(
        SMARTCITY_HOME=str(home),
        SMARTCITY_PG_PORT=str(free_port()),
        SMARTCITY_MQTT_PORT=str(free_port()),
        SMARTCITY_MQTT_DEMO_PORT=str(free_port()),
        SMARTCITY_DASHBOARD_PORT=str(port),
        SMARTCITY_SIM_INTERVAL_S="1",
        SMARTCITY_ANALYTICS_INTERVAL_S="5",
        SMARTCITY_STORAGE_ROLLUP_INTERVAL_S="1",
        SMARTCITY_DEMO_HISTORY_DAYS="14",
        SMARTCITY_DEMO_SCENARIO_FIRST_S="3",  # the attract loop's first scenario, early for the test
    )
    for name in ("SMARTCITY_DSN", "SMARTCITY_MQTT_USERNAME", "SMARTCITY_MQTT_PASSWORD"):
        env.pop(name, None)
    dsn = f"host={home / 'pg' / 'run'} port={env['SMARTCITY_PG_PORT']} dbname=smartcity user=smartcity"
    started = time.time()
    proc = subprocess.Popen(
        [sys.executable, "-m", "smartcity.cli", "up"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "The city is live" in line:
                break
        # the history written first ends on the last 5-minute boundary before the city went
        # live: what is newer came through the broker
        live_since = max(started - 5, time.time() // 300 * 300 + 1)
        assert any(f"http://127.0.0.1:{port}/" in line for line in lines), lines
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            assert response.status == 200
            assert response.headers["Server"] == "smartcity", "not served by waitress"
        with psycopg.connect(dsn) as conn:
            deadline = time.time() + 20
            count = 0
            while time.time() < deadline and count < 3:
                row = conn.execute(
                    "SELECT count(DISTINCT device_id) FROM readings WHERE device_id LIKE 'air-%%' "
                    "AND time > to_timestamp(%s)",
                    (live_since,),
                ).fetchone()
                count = int(row[0]) if row else 0
                time.sleep(0.5)
        assert count >= 3, "simulated air-quality stations did not reach the database through the broker"
        with psycopg.connect(dsn) as conn:  # the storage lifecycle runs beside them: rollups of the live hours
            deadline, rolled = time.time() + 20, 0
            while time.time() < deadline and not rolled:
                row = conn.execute(
                    "SELECT count(*) FROM rollup_hourly WHERE device_id LIKE 'air-%%' AND last_time > to_timestamp(%s)",
                    (live_since,),
                ).fetchone()
                rolled = int(row[0]) if row else 0
                time.sleep(0.5)
        assert rolled > 0, "the storage service did not bring the rollups up to date"
        _the_wall_has_a_forecast_band_and_an_anomaly(dsn, started, within_s=120.0)
        _a_student_publishes_and_drives_their_sensor(env, dsn)
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
        subprocess.run(
            [sys.executable, "-m", "smartcity.cli", "stack", "down"], env=env, capture_output=True, check=False
        )
        has_operators = (home / "operators.json").exists()
        shutil.rmtree(home, ignore_errors=True)
    assert proc.returncode == 0, out
    assert "city stopped" in out
    everything = "".join(lines) + out
    assert "database empty: writing 14 days" in everything, everything
    assert "demo: scenario rush_hour" in everything, everything
    assert '"scenario":"rush_hour"' in everything, f"the simulator did not confirm the demo's scenario: {everything}"
    assert "Operator sign-in" in everything or has_operators


def _the_wall_has_a_forecast_band_and_an_anomaly(dsn: str, started: float, *, within_s: float) -> None:
    """What the wall draws, read by the wall's own queries: the district's next 24 hours with
    a 95% band above the forecast, and open anomaly episodes in the feed."""
    from dashboard import queries

    band = feed = None
    try:
        while time.time() - started < within_s:
            outlook = queries.next_24h(dsn, "goyang", ["pm25_ugm3", "power_kw"])
            if band is None and not outlook.empty and (outlook["hi95"] > outlook["yhat"]).all():
                band = time.time() - started
            if (
                feed is None
                and queries.kpis(dsn)["open_anomalies"] > 0
                and not queries.anomaly_feed(dsn, "goyang").empty
            ):
                feed = time.time() - started
            if band is not None and feed is not None:
                break
            time.sleep(1.0)
    finally:
        queries.close_pools()
    assert band is not None, f"no forecast band on the wall within {within_s:.0f} s of `smartcity up`"
    assert feed is not None, f"no anomaly on the wall within {within_s:.0f} s of `smartcity up`"


def _a_student_publishes_and_drives_their_sensor(env: dict[str, str], dsn: str) -> None:
    """The classroom path against the processes ``smartcity up`` started: a class made with
    ``smartcity class create`` while the city runs, a student's readings by ``mosquitto_pub``
    stored and shown on the class page, a refused one explained on their errors topic, and their
    assigned sensor driven, answered, reported and labelled."""
    from dashboard import queries
    from dashboard.colors import PRIMARY_METRIC

    cli = [sys.executable, "-m", "smartcity.cli"]
    made = subprocess.run(
        [*cli, "class", "create", "demo1", "--students", "1", "--days", "1"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    found = re.search(r"^(demo1\.student01)\s+(\S+)\s+student\s+drives (\S+)$", made.stdout, re.MULTILINE)
    assert found, made.stdout
    user, password, device = found.groups()
    kind = device.split("-", 1)[0]
    metric = PRIMARY_METRIC[kind][0]
    port = env["SMARTCITY_MQTT_PORT"]
    base = ["-V", "mqttv5", "-h", "127.0.0.1", "-p", port, "-u", user, "-P", password]
    heard: list[str] = []
    watch = subprocess.Popen(
        ["mosquitto_sub", *base, "-i", f"{user}:watch", "-t", "class/demo1/student01/#", "-v", "-W", "90"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    reader = threading.Thread(target=lambda: heard.extend(watch.stdout or []), daemon=True)
    reader.start()

    def publish(topic: str, body: str) -> None:
        sent = subprocess.run(
            ["mosquitto_pub", *base, "-i", user, "-q", "1", "-t", topic, "-m", body],
            capture_output=True, text=True, timeout=20, check=False,
        )  # fmt: skip
        assert sent.returncode == 0, sent.stdout + sent.stderr

    def within(seconds: float, check: object, what: str) -> None:
        deadline = time.time() + seconds
        while time.time() < deadline:
            if check():  # type: ignore[operator]
                return
            time.sleep(0.5)
        raise AssertionError(f"{what} within {seconds:.0f} s; the student heard: {heard}")

    try:
        time.sleep(1.0)  # the watcher is subscribed
        publish("class/demo1/student01/my-sensor", '{"metrics": {"temperature_c": 21.5}}')
        publish("class/demo1/student01/my-sensor", '{"metrics": {"temp": 1}}')
        publish(
            "class/demo1/student01/control",
            f'{{"action": "set", "metric": "{metric}", "value": 777, "duration_s": 120}}',
        )
        publish("class/demo1/student01/control", '{"action": "fly"}')
        within(
            30,
            lambda: not queries.class_accepted(dsn, "demo1", "student01").query("metric == 'temperature_c'").empty,
            "the student's reading was not on the class page",
        )
        within(30, lambda: not queries.class_rejected(dsn, "demo1", "student01").empty, "no refusal on the class page")
        within(
            30, lambda: any("my-sensor/errors" in h and "unknown_metric" in h for h in heard), "no refusal explained"
        )
        within(
            30,
            lambda: any("control/answer" in h and '"ok":true' in h and device in h for h in heard),
            "the simulator did not answer the control request",
        )
        within(30, lambda: any("control/answer" in h and '"ok":false' in h for h in heard), "a bad request unanswered")
        with psycopg.connect(dsn, autocommit=True) as conn:

            def found(query: str) -> bool:
                row = conn.execute(query, (device, metric)).fetchone()
                return bool(row and row[0])

            driven = (
                "SELECT count(*) FROM readings WHERE device_id = %s AND metric = %s AND value = 777 "
                "AND time > now() - interval '5 minutes'"
            )
            labelled = (
                "SELECT count(*) FROM sim_anomalies WHERE device_id = %s AND metric = %s "
                "AND started_at > now() - interval '5 minutes'"
            )
            within(30, lambda: found(driven), f"{device} did not report the value the student set")
            within(30, lambda: found(labelled), f"the student's change of {device} is not in the ground truth")
    finally:
        watch.kill()
        watch.wait(timeout=10)
        reader.join(timeout=10)  # it ends at the pipe's end, before the pipe is closed
        if watch.stdout is not None:
            watch.stdout.close()
        queries.close_pools()


def test_the_demo_plays_its_scenarios_in_turn() -> None:
    from smartcity.supervisor import DEMO_SCENARIOS, scenario_due

    timing = {"first_s": 60.0, "every_s": 900.0}
    assert scenario_due(59.0, 0, **timing) is None
    assert scenario_due(60.0, 0, **timing) == DEMO_SCENARIOS[0]
    assert scenario_due(100.0, 1, **timing) is None, "one at a time"
    assert scenario_due(960.0, 1, **timing) == DEMO_SCENARIOS[1]
    assert scenario_due(60.0 + 900 * len(DEMO_SCENARIOS), len(DEMO_SCENARIOS), **timing) == DEMO_SCENARIOS[0]
    assert scenario_due(10_000.0, 0, first_s=0.0, every_s=0.0) is None, "0 plays none"
