"""SensorThings API figures (issue 19), measured in one run on this machine.

A private stack holds ``--readings`` (default 20 million) readings: ``--devices`` (1,000)
placed air sensors, one pm2.5 series each at 5-minute steps back from now. Then:

- sta_observations_p95_ms: a Datastream's last 24 h of Observations
  (``$filter=phenomenonTime ge ...&$top=1000&$orderby=phenomenonTime desc``) over HTTP,
  against the same rows read by a plain SQL query in the same run (sta_overhead_ratio);
- sta_filter_geo_p95_ms: ``Things?$filter=st_within(Locations/location, <polygon>)``
  over the 1,000 devices (a quarter of them inside);
- sta_mqtt_latency_p95_ms: a device's publish to a SensorThings MQTT subscriber, through
  ingest (announcing) and the bridge.

Usage: .venv/bin/python bench/sta.py [--json] [--readings N] [--devices N] [--requests N]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import threading
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
from flask import Flask
from paho.mqtt.enums import CallbackAPIVersion
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._stack import free_port, private_stack, report  # noqa: E402
from contract import STA_CITY_DATASTREAMS  # noqa: E402
from smartcity import services  # noqa: E402
from smartcity.settings import Settings  # noqa: E402
from sta import mqtt as sta_mqtt  # noqa: E402
from sta.model import observation_id  # noqa: E402
from sta.service import StaConfig, install  # noqa: E402

STEP_S = 300
WEST, EAST, SOUTH, NORTH = 126.80, 126.90, 37.62, 37.70  # the devices' grid (Goyang)


def fill(dsn: str, devices: int, readings: int) -> float:
    """Devices on a grid and their history, generated inside PostgreSQL; seconds taken."""
    per_device = readings // devices
    side = int(devices**0.5) + 1
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    started = time.perf_counter()
    with psycopg.connect(dsn) as conn:
        conn.execute(
            """INSERT INTO devices (device_id, kind, district, lon_deg, lat_deg)
               SELECT format('sta-%%s', lpad(i::text, 5, '0')), 'air', 'bench',
                      %s + (%s - %s) * ((i %% %s) + 0.5) / %s, %s + (%s - %s) * ((i / %s) + 0.5) / %s
               FROM generate_series(0, %s::int - 1) AS i""",
            (WEST, EAST, WEST, side, side, SOUTH, NORTH, SOUTH, side, side, devices),
        )
        conn.commit()
        for first in range(0, devices, 50):  # in slices: one transaction per 50 devices' history
            conn.execute(
                """INSERT INTO readings (time, device_id, metric, value)
                   SELECT %s - make_interval(secs => s * %s), format('sta-%%s', lpad(i::text, 5, '0')), 'pm25_ugm3',
                          20 + 10 * sin(s / 40.0 + i)
                   FROM generate_series(%s::int, %s::int) AS i, generate_series(0, %s::int - 1) AS s""",
                (end, STEP_S, first, min(first + 50, devices) - 1, per_device),
            )
            conn.commit()
        conn.execute(
            """INSERT INTO latest_values (device_id, metrics, metric_times, metric_values, oldest, newest)
               SELECT device_id, '{pm25_ugm3}', ARRAY[%s::timestamptz], '{0}', %s, %s
               FROM devices WHERE district = 'bench'""",
            (end, end, end),
        )
        conn.commit()
        conn.execute("ANALYZE")
    return time.perf_counter() - started


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


def http_figures(settings: Settings, devices: int, requests: int) -> dict[str, float]:
    dsn = settings.database_dsn()
    app = Flask("bench-sta")
    install(app, StaConfig(dsn=dsn), lambda: None)
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{port}/sta/v1.1"
    since = datetime.now(UTC) - timedelta(hours=24)

    def fetch(path: str, query: dict[str, str]) -> dict[str, object]:
        safe = "/()':"
        url = f"{base}/{urllib.parse.quote(path, safe=safe)}?{urllib.parse.urlencode(query)}"
        with urllib.request.urlopen(url, timeout=30) as answer:
            return json.loads(answer.read())  # type: ignore[no-any-return]

    day = {"$filter": f"phenomenonTime ge {since.isoformat().replace('+00:00', 'Z')}", "$top": "1000",
           "$orderby": "phenomenonTime desc"}  # fmt: skip
    chosen = [f"sta-{(i * 37) % devices:05d}" for i in range(requests)]
    fetch(f"Datastreams('{chosen[0]}:pm25_ugm3')/Observations", day)  # warm the pool and the plan
    sta_ms, sql_ms, rows = [], [], 0
    with psycopg.connect(dsn) as conn:
        for device in chosen:
            t0 = time.perf_counter()
            page = fetch(f"Datastreams('{device}:pm25_ugm3')/Observations", day)
            sta_ms.append((time.perf_counter() - t0) * 1000)
            rows = len(page["value"])  # type: ignore[arg-type]
            t0 = time.perf_counter()
            found = conn.execute(
                "SELECT time, value FROM readings WHERE device_id = %s AND metric = 'pm25_ugm3' AND time >= %s "
                "ORDER BY time DESC LIMIT 1000",
                (device, since),
            ).fetchall()
            sql_ms.append((time.perf_counter() - t0) * 1000)
            if len(found) != rows:
                raise RuntimeError(f"{device}: the API gave {rows} Observations, SQL {len(found)} rows")
    box = "geography'POLYGON((126.80 37.62, 126.85 37.62, 126.85 37.66, 126.80 37.66, 126.80 37.62))'"
    geo = {"$filter": f"st_within(Locations/location, {box})", "$top": "1000", "$select": "id"}
    inside = len(fetch("Things", geo)["value"])  # type: ignore[arg-type]
    geo_ms = []
    for _ in range(max(10, requests // 3)):
        t0 = time.perf_counter()
        fetch("Things", geo)
        geo_ms.append((time.perf_counter() - t0) * 1000)
    server.shutdown()
    return {
        "sta_observations_p95_ms": round(_p95(sta_ms), 1),
        "sta_observations_median_ms": round(statistics.median(sta_ms), 1),
        "sql_observations_p95_ms": round(_p95(sql_ms), 2),
        "sta_overhead_ratio": round(_p95(sta_ms) / _p95(sql_ms), 1),
        "sta_observations_per_request": rows,
        "sta_filter_geo_p95_ms": round(_p95(geo_ms), 1),
        "sta_filter_geo_things_inside": inside,
    }


def mqtt_figures(settings: Settings, messages: int) -> dict[str, float]:
    """Publish → SensorThings subscriber, through an announcing ingest worker and the bridge."""
    import dataclasses

    from ingest.worker import IngestWorker

    dsn = settings.database_dsn()
    user, password = settings.mqtt_credentials()
    config = dataclasses.replace(services.ingest_config(settings), client_id="bench-sta-ingest", metrics_port=0,
                                 batch_max_age_s=0.05, announce=True)  # fmt: skip
    arrived: dict[str, float] = {}

    def client(client_id: str) -> mqtt.Client:
        made = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        made.username_pw_set(user, password)
        made.connect(settings.mqtt_host, settings.mqtt_port)
        made.loop_start()
        return made

    listener = client("bench-sta-listener")
    listener.on_message = lambda c, u, m: arrived.setdefault(json.loads(m.payload)["@iot.id"], time.monotonic())
    listener.subscribe(STA_CITY_DATASTREAMS, qos=0)
    bridge = client("bench-sta-bridge")
    _, stop = sta_mqtt.start(dsn, "http://bench/sta/v1.1", lambda t, p: bridge.publish(t, p, qos=0))
    device = client("bench-sta-device")
    sent: dict[str, float] = {}
    worker = IngestWorker(config)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        if not worker.wait_connected(10):
            raise RuntimeError("ingest did not connect")
        time.sleep(2.0)  # ingest sees the bridge connected
        start = datetime.now(UTC).replace(microsecond=0)
        for i in range(messages):
            when = start + timedelta(milliseconds=i)
            sent[observation_id(f"mq-{i % 20:03d}", "pm25_ugm3", when)] = time.monotonic()
            body = {"time": when.isoformat(), "metrics": {"pm25_ugm3": 10.0 + i % 7}}
            device.publish(f"city/bench/air/mq-{i % 20:03d}", json.dumps(body), qos=1)
            time.sleep(0.01)
        deadline = time.monotonic() + 20
        while len(arrived.keys() & sent.keys()) < len(sent) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop()
        thread.join(30)
        stop.set()
        for made in (listener, bridge, device):
            made.loop_stop()
            made.disconnect()
    latencies = [(arrived[k] - sent[k]) * 1000 for k in sent if k in arrived]
    if len(latencies) < len(sent):
        raise RuntimeError(f"{len(sent) - len(latencies)} of {len(sent)} Observations never reached the subscriber")
    return {
        "sta_mqtt_latency_p95_ms": round(_p95(latencies), 1),
        "sta_mqtt_latency_median_ms": round(statistics.median(latencies), 1),
        "sta_mqtt_messages": len(sent),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--readings", type=int, default=20_000_000)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--messages", type=int, default=300)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request is noise here
    with private_stack("bench-sta") as settings:
        fill_s = fill(settings.database_dsn(), args.devices, args.readings)
        figures: dict[str, float] = {"readings": args.readings, "devices": args.devices, "fill_s": round(fill_s, 1)}
        figures |= http_figures(settings, args.devices, args.requests)
        figures |= mqtt_figures(settings, args.messages)
    report(figures, as_json=args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
