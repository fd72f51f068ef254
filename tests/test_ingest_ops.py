"""Ingest operations: the decoder CLI, /metrics, and two workers on a shared subscription."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from ingest.worker import IngestConfig, IngestWorker
from smartcity.settings import Settings
from tests.fixtures.services import mosquitto_pub, wait_for
from tests.fixtures.stack import Broker, cli_env, free_port

DATA = Path(__file__).parent / "data" / "payloads"


def _cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smartcity.cli", "ingest", "decode", *args],
        input=stdin.decode() if stdin is not None else None,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_decode_cli_prints_readings_as_json_lines() -> None:
    out = _cli("--topic", "city/goyang/air/aq-1", str(DATA / "senml" / "rfc8428_5.1.1_single_datapoint.json"))
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [(r["device_id"], r["metric"], r["value"]) for r in lines] == [("aq-1", "temperature_c", 23.1)]


def test_decode_cli_explains_a_rejection_and_exits_non_zero() -> None:
    out = _cli("--topic", "city/goyang/air/aq-1", "-", stdin=b'{"metrics": {"pm2_5": 3}}')
    assert out.returncode == 1
    answer = json.loads(out.stdout)
    assert answer["rejected"] == "unknown_metric" and "pm25_ugm3" in answer["sentence"]


def test_decode_cli_names_a_missing_file() -> None:
    out = _cli("--topic", "city/goyang/air/aq-1", "/nonexistent/payload.json")
    assert out.returncode == 2
    assert "cannot read payload file /nonexistent/payload.json" in out.stderr


@pytest.mark.integration
def test_metrics_endpoint_counts_messages_and_dead_letters(dsn: str, broker: Broker, unique: str) -> None:
    port = free_port()
    worker = IngestWorker(
        IngestConfig(
            dsn=dsn, mqtt_host=broker.host, mqtt_port=broker.port, mqtt_username=broker.username,
            mqtt_password=broker.password, client_id=f"test-metrics-{unique}", batch_max_age_s=0.05,
            metrics_port=port,
        )
    )  # fmt: skip
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        assert worker.wait_connected(10)
        mosquitto_pub(broker, f"city/test/noise/m-{unique}", '{"metrics": {"noise_dba": 50}}')
        mosquitto_pub(broker, f"city/test/noise/m-{unique}", '{"metrics": {"noise_dba": 500}}')

        def scrape() -> str:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
                return str(response.read().decode())

        def scraped_both() -> str:
            text = scrape()
            return text if "value_out_of_range" in text else ""

        text = wait_for(scraped_both, 5.0)
        assert f'smartcity_ingest_messages_total{{worker="test-metrics-{unique}"}} 2' in text
        assert 'reason="value_out_of_range"} 1' in text
    finally:
        worker.stop()
        thread.join(30)


@pytest.mark.integration
def test_two_workers_share_the_stream(settings: Settings, dsn: str, broker: Broker, unique: str) -> None:
    env = cli_env(settings, SMARTCITY_INGEST_CLIENT_ID=f"shared-{unique}", SMARTCITY_INGEST_METRICS_PORT="0")
    proc = subprocess.Popen(
        [sys.executable, "-m", "smartcity.cli", "ingest", "run", "--workers", "2"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        time.sleep(4.0)  # both workers connected and subscribed
        base = datetime.now(UTC) - timedelta(minutes=30)
        lines = "\n".join(
            json.dumps({"time": (base + timedelta(seconds=i)).isoformat(), "metrics": {"noise_dba": 45}})
            for i in range(400)
        )
        subprocess.run(
            ["mosquitto_pub", "-h", broker.host, "-p", str(broker.port), "-u", broker.username, "-P", broker.password,
             "-V", "mqttv5", "-q", "1", "-t", f"city/test/noise/sh-{unique}", "-l"],
            input=lines.encode(), check=True, timeout=30,
        )  # fmt: skip
        with psycopg.connect(dsn, autocommit=True) as conn:

            def stored() -> int:
                row = conn.execute("SELECT count(*) FROM readings WHERE device_id = %s", (f"sh-{unique}",)).fetchone()
                return int(row[0]) if row else 0

            assert wait_for(lambda: stored() == 400, 10.0)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    summaries = [json.loads(line.split(" ", 1)[1]) for line in err.splitlines() if line.startswith("ingest-summary ")]
    assert len(summaries) == 2
    assert sum(s["messages"] for s in summaries) == 400
    assert all(s["messages"] > 0 for s in summaries), "one worker got nothing: the subscription was not shared"
