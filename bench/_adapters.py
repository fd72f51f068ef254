"""Adapter and registry figures for bench/ingest.py (issue 15).

adapter_readings_per_s: a backlog of Tasmota SENSOR messages and of The Things Stack uplinks,
each with four readings, drained through ingest's worker reading a configured source
(in this process), against canonical JSON messages of four readings drained the same way
in the same run. registry_import_10k_s: 10,000 devices (EPSG:5186 x/y) read from CSV,
placed on the twin and registered, against COPYing the same rows into a bare table.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import random
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from ingest.adapters import ADAPTERS, rules_from_config
from ingest.sources import Source
from ingest.worker import IngestWorker
from smartcity import devices_commands, services, twin_commands
from smartcity.settings import Settings

TTN_RULES = {"pm2_5": "pm25_ugm3", "pm10": "pm10_ugm3", "temperature": "temperature_c", "humidity": "humidity_pct"}


def _bodies(kind: str, n: int, run: str) -> list[tuple[str, bytes]]:
    base = datetime.now(UTC) - timedelta(hours=1)
    out = []
    for i in range(n):
        device, when = f"{run}-{i % 500:04d}", base + timedelta(milliseconds=i)
        if kind == "canonical":
            body = {"time": when.isoformat(), "metrics": {"pm25_ugm3": 12.0 + i % 7, "pm10_ugm3": 30.0,
                                                          "temperature_c": 4.5, "humidity_pct": 60.0}}  # fmt: skip
            out.append((f"city/bench/air/{device}", json.dumps(body).encode()))
        elif kind == "tasmota":
            local = when.astimezone(ZoneInfo("Asia/Seoul")).replace(tzinfo=None)
            body = {"Time": local.isoformat(timespec="milliseconds"), "TempUnit": "C", "PressureUnit": "hPa",
                    "BME280": {"Temperature": 4.5, "Humidity": 60.0, "DewPoint": -2.1, "Pressure": 1016.0},
                    "PMS5003": {"PM2.5": 12 + i % 7, "PM10": 30}}  # fmt: skip
            out.append((f"tele/{device}/SENSOR", json.dumps(body).encode()))
        else:
            body = {"end_device_ids": {"device_id": device, "dev_eui": f"70B3D57E{i % 500:08X}",
                                       "application_ids": {"application_id": "bench"}},
                    "received_at": when.isoformat(),
                    "uplink_message": {"f_port": 2, "f_cnt": i, "frm_payload": "AAAA",
                                       "decoded_payload": {"pm2_5": 12.0 + i % 7, "pm10": 30.0, "temperature": 4.5,
                                                           "humidity": 60.0, "battery": 3.6},
                                       "rx_metadata": [{"gateway_ids": {"gateway_id": "gw"}, "rssi": -90}],
                                       "received_at": when.isoformat()}}  # fmt: skip
            out.append((f"v3/bench@ttn/devices/{device}/up", json.dumps(body).encode()))
    return out


def _publish(settings: Settings, messages: list[tuple[str, bytes]]) -> None:
    user, password = settings.mqtt_credentials()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.username_pw_set(user, password)
    client.max_inflight_messages_set(2000)
    client.max_queued_messages_set(0)
    client.connect(settings.mqtt_host, settings.mqtt_port)
    client.loop_start()
    for first in range(0, len(messages), 20000):
        infos = [client.publish(t, p, qos=1) for t, p in messages[first : first + 20000]]
        for info in infos:
            info.wait_for_publish(60)
    client.loop_stop()
    client.disconnect()


def _source(settings: Settings, adapter: str, run: str) -> Source:
    user, password = settings.mqtt_credentials()
    chosen = ADAPTERS[adapter]
    rules = rules_from_config(TTN_RULES | {"battery": "-"} if adapter == "ttn-v3" else {}, "bench")
    return Source(
        name=adapter, adapter=chosen, host=settings.mqtt_host, port=settings.mqtt_port, topics=chosen.topic_filters,
        district="bench", device_id="{device}", timezone=ZoneInfo("Asia/Seoul"), username=user, password=password,
        rules=rules, client_id=f"bench-src-{run}", mqtt_version=5,
    )  # fmt: skip


def _drain(settings: Settings, kind: str, n: int, run: str) -> float:
    """Readings/s of one in-process worker draining a backlog of n messages of ``kind``."""
    config = services.ingest_config(settings)
    config = dataclasses.replace(config, client_id=f"bench-src-{run}", metrics_port=0, stats_interval_s=3600)
    if kind != "canonical":
        adapter = "tasmota" if kind == "tasmota" else "ttn-v3"
        config = dataclasses.replace(config, source=_source(settings, adapter, run))

    def once() -> IngestWorker:
        worker = IngestWorker(config)
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        worker.wait_connected(10)
        return worker

    first = once()  # the persistent session and its subscription
    first.stop()
    time.sleep(1.0)
    _publish(settings, _bodies(kind, n, run))
    worker = IngestWorker(config)
    thread = threading.Thread(target=worker.run, daemon=True)
    started = time.perf_counter()  # connecting is part of it: the same for every kind
    thread.start()
    deadline = time.monotonic() + 300
    while worker.counters.readings < 4 * n and time.monotonic() < deadline:
        time.sleep(0.01)
    elapsed = time.perf_counter() - started
    worker.stop()
    thread.join(60)
    c = worker.counters
    if c.readings < 4 * n or c.rejected:
        raise RuntimeError(f"{kind}: {c.readings} readings of {4 * n}, {c.rejected} refused ({c.rejected_by_reason})")
    return c.readings / elapsed


def adapter_figures(settings: Settings, n: int, rounds: int) -> dict[str, float]:
    import statistics

    rates: dict[str, list[float]] = {"canonical": [], "tasmota": [], "ttn": []}
    for r in range(rounds):
        for kind, measured in rates.items():
            measured.append(_drain(settings, kind, n, f"ad{kind[:3]}{r}"))
    canonical = statistics.median(rates["canonical"])
    tasmota, ttn = statistics.median(rates["tasmota"]), statistics.median(rates["ttn"])
    return {
        "adapter_canonical_readings_per_s": round(canonical),
        "adapter_readings_per_s_tasmota": round(tasmota),
        "adapter_readings_per_s_ttn": round(ttn),
        "adapter_readings_per_s": round(min(tasmota, ttn)),
        "adapter_ratio_to_canonical": round(min(tasmota, ttn) / canonical, 3),
        "adapter_messages": n,
    }


def registry_figures(settings: Settings, folder: Path, n: int = 10_000) -> dict[str, float]:
    twin_commands.load_district(settings, district="goyang", only_if_missing=True)
    with psycopg.connect(settings.database_dsn()) as conn:
        points = conn.execute(
            "SELECT ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) FROM buildings WHERE district = %s",
            ("goyang",),
        ).fetchall()
    rng = random.Random(15)
    rows = []
    for i in range(n):
        x, y = points[i % len(points)]
        rows.append([f"reg-{i:05d}", "air", f"70B3D57F{i:08X}", f"{x + rng.uniform(-20, 20):.2f}",
                     f"{y + rng.uniform(-20, 20):.2f}", "2026-01-15"])  # fmt: skip
    path = folder / "devices-10k.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["device_id", "kind", "external_id", "x", "y", "installed_on"])
        writer.writerows(rows)
    with psycopg.connect(settings.database_dsn()) as conn:  # baseline: the same rows COPYed into a bare table
        started = time.perf_counter()
        with conn.transaction():
            conn.execute("CREATE TEMPORARY TABLE bare (a text, b text, c text, x float8, y float8, d date)")
            with conn.cursor().copy("COPY bare FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        baseline = time.perf_counter() - started
    started = time.perf_counter()
    status = devices_commands.import_file(settings, str(path), crs="EPSG:5186", district="goyang")
    elapsed = time.perf_counter() - started
    if status != 0:
        raise RuntimeError("the 10k device import was refused")
    return {"registry_import_10k_s": round(elapsed, 2), "registry_copy_10k_s": round(baseline, 3),
            "registry_ratio_to_copy": round(elapsed / baseline, 1)}  # fmt: skip
