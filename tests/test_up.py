"""The skeleton path: `smartcity up` runs the whole city and stops it cleanly."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request

import psycopg
import pytest

from smartcity.settings import Settings
from tests.fixtures.stack import cli_env, free_port

pytestmark = pytest.mark.integration


def test_up_runs_the_city_and_ctrl_c_stops_it(settings: Settings, dsn: str) -> None:
    if settings.dsn:
        pytest.skip("`smartcity up` manages the local stack; external services were given")
    port = free_port()
    env = cli_env(
        settings,
        SMARTCITY_DASHBOARD_PORT=str(port),
        SMARTCITY_SIM_INTERVAL_S="1",
        SMARTCITY_ANALYTICS_INTERVAL_S="5",
        SMARTCITY_STORAGE_ROLLUP_INTERVAL_S="1",
    )
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
                    (started - 5,),
                ).fetchone()
                count = int(row[0]) if row else 0
                time.sleep(0.5)
        assert count >= 3, "simulated air-quality stations did not reach the database through the broker"
        with psycopg.connect(dsn) as conn:  # the storage lifecycle runs beside them: rollups of the live hours
            deadline, rolled = time.time() + 20, 0
            while time.time() < deadline and not rolled:
                row = conn.execute(
                    "SELECT count(*) FROM rollup_hourly WHERE device_id LIKE 'air-%%' AND last_time > to_timestamp(%s)",
                    (started - 5,),
                ).fetchone()
                rolled = int(row[0]) if row else 0
                time.sleep(0.5)
        assert rolled > 0, "the storage service did not bring the rollups up to date"
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert "city stopped" in out
    everything = "".join(lines) + out
    assert "Operator sign-in" in everything or (settings.home / "operators.json").exists()
