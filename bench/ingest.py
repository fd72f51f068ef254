"""Ingest figures, measured in one run on this machine, printed as ratios against a baseline.

Baseline (a): one Python MQTT subscriber at QoS 0 that only decodes, draining a backlog.
Then (b): broker -> ingest -> committed rows at QoS 1, draining a backlog published
while ingest was stopped, for 1-reading and 6-reading messages, with 1 and 2 workers;
(c) rows stored against readings sent; (d) peak RSS of the ingest processes.

Adapters and the registry (bench/_adapters.py): readings/s through the Tasmota and TTN
adapters against canonical JSON in the same run, and a 10,000-device registry import.

Usage: .venv/bin/python bench/ingest.py [--json] [--messages N] [--keep-stack] [--part core|adapters|registry]
It starts a private stack under .smartcity/bench-stack on free ports.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import psutil
import psycopg
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._adapters import adapter_figures, registry_figures  # noqa: E402
from bench._stack import private_stack, report  # noqa: E402
from ingest._mqtt import FastClient  # noqa: E402
from ingest.decode import decode  # noqa: E402
from smartcity.settings import Settings  # noqa: E402

AIR = {"pm10_ugm3": 30.0, "pm25_ugm3": 18.0, "no2_ppb": 20.0, "o3_ppb": 30.0, "co_ppm": 0.4, "temperature_c": 9.5}


def _payloads(start: int, stop: int, per_message: int, base: datetime, run: str) -> list[tuple[str, bytes]]:
    out = []
    metrics = dict(list(AIR.items())[:per_message]) if per_message > 1 else {"noise_dba": 55.0}
    for i in range(start, stop):
        device = f"{run}-{i % 1000:04d}"
        when = base + timedelta(milliseconds=i // 1000)
        body = {"time": when.isoformat(), "metrics": {k: v + (i % 7) for k, v in metrics.items()}}
        out.append((f"city/bench/air/{device}", json.dumps(body).encode()))
    return out


def _publish_part(host: str, port: int, user: str, password: str, args: tuple[int, int, int, str, str]) -> None:
    start, stop, per_message, base_iso, run = args
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.username_pw_set(user, password)
    client.max_inflight_messages_set(2000)
    client.max_queued_messages_set(0)
    client.connect(host, port)
    client.loop_start()
    messages = _payloads(start, stop, per_message, datetime.fromisoformat(base_iso), run)
    for first in range(0, len(messages), 20000):  # MQTT packet ids are 16-bit: keep fewer in flight
        infos = [client.publish(topic, payload, qos=1) for topic, payload in messages[first : first + 20000]]
        for info in infos:
            info.wait_for_publish(60)
    client.loop_stop()
    client.disconnect()


def publish_backlog(settings: Settings, n: int, per_message: int, run: str, processes: int = 2) -> None:
    """Publish n messages at QoS 1 from ``processes`` publishers; returns once the broker has them all."""
    user, password = settings.mqtt_credentials()
    base = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    step = -(-n // processes)
    parts = [(i, min(n, i + step), per_message, base, run) for i in range(0, n, step)]
    ctx = multiprocessing.get_context("fork")
    procs = [
        ctx.Process(target=_publish_part, args=(settings.mqtt_host, settings.mqtt_port, user, password, part))
        for part in parts
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join()


def _session(settings: Settings, client_id: str, fast: bool) -> mqtt.Client:
    user, password = settings.mqtt_credentials()
    cls = FastClient if fast else mqtt.Client
    client = cls(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.username_pw_set(user, password)
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 3600
    props.ReceiveMaximum = 20000
    client.connect(settings.mqtt_host, settings.mqtt_port, clean_start=False, properties=props)
    return client


def forget_sessions(settings: Settings, client_ids: list[str]) -> None:
    """End persistent sessions, so the broker stops queueing for them (between configurations)."""
    user, password = settings.mqtt_credentials()
    for client_id in client_ids:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        client.username_pw_set(user, password)
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 0
        client.connect(settings.mqtt_host, settings.mqtt_port, clean_start=True, properties=props)
        client.loop_start()
        time.sleep(0.2)
        client.disconnect()
        client.loop_stop()


def drain_rate(settings: Settings, n: int, *, fast: bool) -> float:
    """(a): messages/s of one Python subscriber at QoS 0 that only decodes a backlog of n.

    ``fast``: with ingest's buffered paho client (the fair ceiling for ingest), else plain paho.
    """
    client_id = f"bench-drain-{'fast' if fast else 'plain'}"
    client = _session(settings, client_id, fast)
    done = threading.Event()
    client.on_connect = lambda c, *a: c.subscribe("city/bench/#", qos=0)
    client.on_subscribe = lambda *a: done.set()
    client.loop_start()
    done.wait(10)
    client.loop_stop()
    client.disconnect()
    publish_backlog(settings, n, 1, client_id)
    count = 0
    finished = threading.Event()
    now = datetime.now(UTC)

    def on_message(c: mqtt.Client, u: object, m: mqtt.MQTTMessage) -> None:
        nonlocal count
        decode(m.topic, m.payload, now)
        count += 1
        if count >= n:
            finished.set()

    client = _session(settings, client_id, fast)
    client.on_message = on_message
    started = time.perf_counter()
    client.loop_start()
    finished.wait(300)
    elapsed = time.perf_counter() - started
    client.loop_stop()
    client.disconnect()
    forget_sessions(settings, [client_id])
    return count / elapsed


def _env(settings: Settings, client_id: str) -> dict[str, str]:
    env = dict(os.environ)
    env["SMARTCITY_INGEST_CLIENT_ID"] = client_id
    env.update(
        SMARTCITY_HOME=str(settings.home),
        SMARTCITY_PG_PORT=str(settings.pg_port),
        SMARTCITY_MQTT_PORT=str(settings.mqtt_port),
        SMARTCITY_MQTT_DEMO_PORT=str(settings.mqtt_demo_port),
    )
    return env


def _start_ingest(settings: Settings, workers: int, client_id: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "smartcity.cli", "ingest", "run", "--workers", str(workers)],
        env=_env(settings, client_id),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _summaries(proc: subprocess.Popen[str]) -> list[dict[str, float]]:
    """The counters each worker printed as it stopped."""
    _, err = proc.communicate(timeout=120)
    return [json.loads(line.split(" ", 1)[1]) for line in err.splitlines() if line.startswith("ingest-summary ")]


def _stored(conn: psycopg.Connection[tuple[object, ...]], run: str) -> int:
    row = conn.execute("SELECT count(*) FROM readings WHERE device_id LIKE %s", (run + "-%",)).fetchone()
    return int(row[0]) if row else 0


def e2e(settings: Settings, n_messages: int, per_message: int, workers: int, run: str) -> dict[str, float]:
    """(b)-(d) for one configuration: drain a backlog through ingest into the database."""
    # First start creates the persistent session(s) and subscriptions; then stop it.
    client_id = f"bench-ingest-{run}"
    proc = _start_ingest(settings, workers, client_id)
    time.sleep(4.0)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    publish_backlog(settings, n_messages, per_message, run)
    expected = n_messages * per_message
    peak_rss = 0.0
    with psycopg.connect(settings.database_dsn(), autocommit=True) as conn:
        proc = _start_ingest(settings, workers, client_id)
        ps = psutil.Process(proc.pid)
        last = 0
        deadline = time.monotonic() + 600
        next_count = 0.0
        while last < expected and time.monotonic() < deadline:
            try:
                rss = ps.memory_info().rss + sum(ch.memory_info().rss for ch in ps.children(recursive=True))
                peak_rss = max(peak_rss, rss / 2**20)
            except psutil.Error:
                pass
            if time.monotonic() > next_count:  # counting costs the database: not too often
                last = _stored(conn, run)
                next_count = time.monotonic() + 0.5
            time.sleep(0.02)
        time.sleep(0.5)
        final = _stored(conn, run)
        distinct = conn.execute(
            "SELECT count(*) FROM (SELECT DISTINCT device_id, metric, time FROM readings WHERE device_id LIKE %s) d",
            (run + "-%",),
        ).fetchone()
    proc.send_signal(signal.SIGTERM)
    summaries = _summaries(proc)
    forget_sessions(settings, [client_id] if workers == 1 else [f"{client_id}-{i}" for i in range(workers)])
    # Rate between the first and the last commit, across workers, from their own clocks.
    firsts = [s["first_commit_s"] for s in summaries if s["first_commit_s"]]
    lasts = [s["last_commit_s"] for s in summaries if s["last_commit_s"]]
    stored = sum(s["readings"] for s in summaries) - sum(
        s["first_readings"] for s in summaries if s["first_commit_s"] == min(firsts, default=0)
    )
    span = max(lasts, default=0) - min(firsts, default=0)
    rate = stored / span if span > 0 else 0.0
    return {
        "readings_per_s": rate,
        "msgs_per_s": rate / per_message,
        "lost": float(expected - final),
        "duplicates": float(final - int(distinct[0] if distinct else 0)),
        "rss_mb": peak_rss,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--keep-stack", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; each figure is the median over rounds")
    parser.add_argument("--part", action="append", choices=["core", "adapters", "registry"],
                        help="only these parts (repeatable); all by default")  # fmt: skip
    args = parser.parse_args()
    parts = set(args.part or ["core", "adapters", "registry"])
    extra: dict[str, float] = {}
    with private_stack("bench-stack", keep=args.keep_stack) as settings:
        n = args.messages
        rounds = []
        if "adapters" in parts:
            extra |= adapter_figures(settings, min(n, 20_000), args.repeat)
        if "registry" in parts:
            extra |= registry_figures(settings, settings.home)
        for r in range(args.repeat if "core" in parts else 0):
            drain = drain_rate(settings, n, fast=True)
            single = e2e(settings, n, 1, 1, f"s1r{r}")
            batch6 = e2e(settings, n, 6, 1, f"b6r{r}")
            single2 = e2e(settings, n, 1, 2, f"s2r{r}")
            batch6_2 = e2e(settings, n, 6, 2, f"b62r{r}")
            drain_plain = drain_rate(settings, n, fast=False)
            runs = (single, batch6, single2, batch6_2)
            rounds.append(
                {
                    "drain_msgs_per_s": drain,
                    "drain_msgs_per_s_plain_paho": drain_plain,
                    "e2e_msgs_per_s": single["msgs_per_s"],
                    "e2e_ratio_to_drain": single["msgs_per_s"] / drain,
                    "e2e_readings_per_s_batch6": batch6["readings_per_s"],
                    "e2e_msgs_per_s_2workers": single2["msgs_per_s"],
                    "e2e_readings_per_s_batch6_2workers": batch6_2["readings_per_s"],
                    "lost": sum(x["lost"] for x in runs),
                    "duplicates": sum(x["duplicates"] for x in runs),
                    "rss_mb": max(single["rss_mb"], batch6["rss_mb"]),
                    "rss_mb_2workers": max(single2["rss_mb"], batch6_2["rss_mb"]),
                }
            )
    figures: dict[str, float] = {}
    for key in rounds[0] if rounds else []:
        values = [r[key] for r in rounds]
        if key in ("lost", "duplicates"):
            figures[key] = int(sum(values))  # every round counts
        elif key.startswith("rss"):
            figures[key] = round(max(values), 1)  # the worst round
        else:
            median = statistics.median(values)
            figures[key] = round(median, 3) if "ratio" in key else round(median)
    figures |= extra
    figures["messages"] = n
    figures["rounds"] = args.repeat
    report(figures, as_json=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
