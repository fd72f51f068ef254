"""The skeleton path: `smartcity up` on a fresh machine runs the whole city, with a past,
and stops it cleanly."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
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
