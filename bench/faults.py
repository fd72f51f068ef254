"""Fault, fuzz and attack figures, measured in one run on a private stack.

- faults: N QoS 1 readings from paho-like devices through an ingest SIGKILL, a database
  restart and a broker restart (bench/_faults.py): ``faults_lost``, ``faults_duplicates``,
  ``faults_drain_s`` (after the devices' last acknowledgement), per run; the baseline is
  the same stream with no fault, in the same run (``faults_drain_ratio``).
- fuzz: M generated hostile messages (tests/fuzzing.py) through a live ingest worker:
  ``fuzz_worker_stops`` (0 when the worker is alive and took every message) and
  ``fuzz_unaccounted`` (messages neither stored nor dead-lettered as the decoder says).
- attacks: tests/test_attacks.py run by pytest; ``attack_escapes`` is its failures.

Usage: .venv/bin/python bench/faults.py [--json] [--readings N] [--runs R] [--fuzz M] [--skip-attacks]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import _faults  # noqa: E402
from bench._stack import private_stack, report  # noqa: E402
from ingest.decode import decode  # noqa: E402
from ingest.worker import IngestConfig, IngestWorker  # noqa: E402
from smartcity.settings import Settings  # noqa: E402
from tests.fixtures.stack import cli_env  # noqa: E402
from tests.fuzzing import Generator  # noqa: E402


def fuzz(settings: Settings, count: int) -> dict[str, float]:
    run = f"fz{uuid.uuid4().hex[:6]}"
    user, password = settings.mqtt_credentials()
    worker = IngestWorker(
        IngestConfig(
            dsn=settings.database_dsn(),
            mqtt_host=settings.mqtt_host,
            mqtt_port=settings.mqtt_port,
            mqtt_username=user,
            mqtt_password=password,
            client_id=f"fuzz-{run}",
        )
    )
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    assert worker.wait_connected(10)
    gen = Generator(11)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.username_pw_set(user, password)
    client.max_inflight_messages_set(2000)
    client.connect(settings.mqtt_host, settings.mqtt_port)
    client.loop_start()
    refused = 0
    started = time.perf_counter()
    now = datetime.now(UTC)
    for first in range(0, count, 20_000):
        infos = []
        for n in range(first, min(count, first + 20_000)):
            topic, payload = gen.message(n, district=run)
            refused += decode(topic, payload, now).rejection is not None
            infos.append(client.publish(topic, payload, qos=1))
        for info in infos:
            info.wait_for_publish(120)
    deadline = time.monotonic() + 600
    while worker.counters.messages < count and time.monotonic() < deadline and thread.is_alive():
        time.sleep(0.2)
    elapsed = time.perf_counter() - started
    client.loop_stop()
    client.disconnect()
    alive = thread.is_alive() and worker.counters.messages >= count
    worker.stop()
    thread.join(60)
    with psycopg.connect(settings.database_dsn()) as conn:
        row = conn.execute("SELECT count(*) FROM dead_letters WHERE topic LIKE %s", (f"city/{run}/%",)).fetchone()
    dead = int(row[0]) if row else 0
    return {
        "fuzz_messages": count,
        "fuzz_worker_stops": 0 if alive else 1,
        "fuzz_dead_letters": dead,
        "fuzz_unaccounted": abs(dead - refused) + max(0, count - worker.counters.messages),
        "fuzz_messages_per_s": round(count / elapsed),
    }


def attacks() -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(ROOT / "tests" / "test_attacks.py")],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    tail = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-300:]
    passed = re.search(r"(\d+) passed", tail)
    failed = re.search(r"(\d+) (failed|error)", tail)
    return {
        "attack_cases": int(passed.group(1)) if passed else 0,
        "attack_escapes": int(failed.group(1)) if failed else (0 if passed else -1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--readings", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--fuzz", type=int, default=1_000_000)
    parser.add_argument("--skip-attacks", action="store_true")
    args = parser.parse_args()
    figures: dict[str, float] = {}
    with private_stack("bench-faults") as settings:
        baseline = _faults.run(settings, cli_env(settings, SMARTCITY_INGEST_CLIENT_ID="smartcity-ingest-base"),
                               "base", count=args.readings, faults=())  # fmt: skip
        figures["baseline_drain_s"] = round(baseline.drain_s, 2)
        lost = duplicates = 0
        drains = []
        for n in range(args.runs):
            result = _faults.run(settings, cli_env(settings, SMARTCITY_INGEST_CLIENT_ID=f"smartcity-ingest-{n}"),
                                 f"run{n}", count=args.readings)  # fmt: skip
            figures[f"faults_run{n + 1}_lost"] = result.lost
            figures[f"faults_run{n + 1}_duplicates"] = result.duplicates
            lost += result.lost
            duplicates += result.duplicates
            drains.append(result.drain_s)
        figures["faults_readings"] = args.readings
        figures["faults_lost"] = lost
        figures["faults_duplicates"] = duplicates
        figures["faults_drain_s"] = round(max(drains), 2) if drains else 0.0
        figures["faults_drain_ratio"] = round(max(drains) / max(baseline.drain_s, 0.01), 2) if drains else 0.0
        if args.fuzz:
            figures.update(fuzz(settings, args.fuzz))
    if not args.skip_attacks:
        figures.update(attacks())
    report(figures, as_json=args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
