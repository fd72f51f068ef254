"""A second broker on loopback plays the network server; ingest reads it as a configured source."""

from __future__ import annotations

import contextlib
import csv
import json
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from dashboard import queries as dashboard_queries
from ingest.sources import load_sources
from ingest.worker import IngestConfig
from smartcity import _mosquitto, devices_commands
from smartcity import _processes as proc
from smartcity.settings import Settings
from tests.fixtures.services import ensure_district, running, wait_for
from tests.fixtures.stack import free_port

pytestmark = pytest.mark.integration

DATA = Path(__file__).parent / "data" / "ecosystems"
NETWORK_SERVER = ("goyang-air@ttn", "NNSXS.test-api-key")


@pytest.fixture(scope="module")
def network_server(settings: Settings) -> Iterator[int]:
    """A Mosquitto of its own, with a password, as The Things Stack's MQTT server would be
    (set up as the project's own broker is: run as 'mosquitto' when we are root)."""
    user = proc.service_user("mosquitto")
    name = f"network-server-{uuid.uuid4().hex[:6]}"
    folder = proc.service_dir(settings.home, name, user)
    port = free_port()
    hashes = _mosquitto.hash_passwords([NETWORK_SERVER])
    (folder / "passwords").write_text(f"{NETWORK_SERVER[0]}:{hashes[NETWORK_SERVER[0]]}\n")
    (folder / "mosquitto.conf").write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {folder / 'passwords'}\n"
        f"persistence false\nlog_dest stderr\n"
    )
    proc.chown_tree(folder, user)
    binary = proc.find_binary("mosquitto", Path("/usr/sbin/mosquitto"), package="mosquitto")
    server = subprocess.Popen([str(binary), "-c", str(folder / "mosquitto.conf")], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.05)
        yield port
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(folder, ignore_errors=True)
        (settings.home / name).unlink(missing_ok=True) if (settings.home / name).is_symlink() else None


def _publish(port: int, topic: str, payload: bytes) -> None:
    subprocess.run(
        ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-u", NETWORK_SERVER[0], "-P", NETWORK_SERVER[1],
         "-q", "1", "-t", topic, "-s"],
        input=payload, check=True, timeout=10,
    )  # fmt: skip


def test_uplinks_from_a_configured_source_land_on_placed_devices_visible_on_the_map(
    settings: Settings, dsn: str, network_server: int, tmp_path: Path
) -> None:
    ensure_district(settings, dsn)
    tag = uuid.uuid4().hex[:8]
    eui_placed, eui_new = f"70b3d57e{tag}", f"70b3d57f{tag}"
    # the city registered one sensor by its DevEUI, on a building; the other is new to it
    with psycopg.connect(dsn) as conn:
        x, y = conn.execute(
            "SELECT ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) FROM buildings "
            "WHERE district = %s ORDER BY building_id LIMIT 1",
            (settings.district,),
        ).fetchone()  # type: ignore[misc]
    devices = tmp_path / "devices.csv"
    with devices.open("w", newline="") as f:
        csv.writer(f).writerows([["device_id", "kind", "external_id", "x", "y"],
                                 [f"air-lora-{tag}", "air", eui_placed.upper(), x, y]])  # fmt: skip
    assert devices_commands.import_file(settings, str(devices), crs="EPSG:5186", district=settings.district) == 0

    sources_file = tmp_path / "sources.toml"
    sources_file.write_text(
        f'[[source]]\nname = "ttn"\nadapter = "ttn-v3"\nhost = "127.0.0.1"\nport = {network_server}\n'
        f'username = "{NETWORK_SERVER[0]}"\npassword_env = "TTN_API_KEY"\ndevice_id = "ttn-{{dev_eui}}"\n'
        f'client_id = "smartcity-ingest-ttn-{tag}"\n'
        '[source.mapping]\npm2_5 = {metric = "pm25_ugm3", unit = "ug/m3"}\npm10 = "pm10_ugm3"\n'
        'temperature = "temperature_c"\nhumidity = "humidity_pct"\nbattery = "-"\n'
    )
    (source,) = load_sources(sources_file, district=settings.district, timezone=settings.city_timezone,
                             environ={"TTN_API_KEY": NETWORK_SERVER[1]})  # fmt: skip
    username, password = settings.mqtt_credentials()
    config = IngestConfig(dsn=dsn, mqtt_host=settings.mqtt_host, mqtt_port=settings.mqtt_port, mqtt_username=username,
                          mqtt_password=password, batch_max_age_s=0.05, writers=1, source=source)  # fmt: skip

    template = json.loads((DATA / "ttn-v3-up.json").read_text())
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

    def uplink(eui: str, pm25: float) -> bytes:
        body = json.loads(json.dumps(template))
        body["end_device_ids"]["dev_eui"] = eui.upper()
        body["end_device_ids"]["device_id"] = f"eui-{eui}"
        body["uplink_message"]["received_at"] = now
        body["uplink_message"]["decoded_payload"]["pm2_5"] = pm25
        return json.dumps(body).encode()

    with contextlib.contextmanager(running)(config) as worker:
        _publish(network_server, f"v3/goyang-air@ttn/devices/eui-{eui_placed}/up", uplink(eui_placed, 21.5))
        _publish(network_server, f"v3/goyang-air@ttn/devices/eui-{eui_new}/up", uplink(eui_new, 8.0))
        _publish(network_server, f"v3/goyang-air@ttn/devices/eui-{eui_new}/join", b"{}")  # no readings, no refusal
        _publish(network_server, f"v3/goyang-air@ttn/devices/eui-{eui_new}/up", b'{"end_device_ids": 7}')  # refused

        def landed() -> bool:
            with psycopg.connect(dsn) as conn:
                n = conn.execute(
                    "SELECT count(*) FROM readings WHERE device_id IN (%s, %s)", (f"air-lora-{tag}", f"ttn-{eui_new}")
                ).fetchone()
                dead = conn.execute(
                    "SELECT count(*) FROM dead_letters WHERE topic LIKE %s", (f"%{eui_new}/up",)
                ).fetchone()
            return n == (8,) and dead == (1,)

        assert wait_for(landed, 15.0), "the uplinks did not land (4 readings each) with one dead letter"
        assert worker.counters.rejected == 1

    with psycopg.connect(dsn) as conn:
        pm25 = conn.execute(
            "SELECT device_id, value FROM readings WHERE metric = 'pm25_ugm3' AND device_id IN (%s, %s) ORDER BY value",
            (f"air-lora-{tag}", f"ttn-{eui_new}"),
        ).fetchall()
        new = conn.execute(
            "SELECT source, kind, lon_deg FROM devices WHERE device_id = %s", (f"ttn-{eui_new}",)
        ).fetchone()
    assert pm25 == [(f"ttn-{eui_new}", 8.0), (f"air-lora-{tag}", 21.5)], "the registered DevEUI lands on its device"
    assert new == ("adapter", "air", None)
    # the placed device is on the operations map with its reading; the new one is listed unplaced
    with psycopg.connect(dsn) as conn:  # the very queries the operations page runs
        latest = conn.execute(dashboard_queries.DEVICES_LATEST, (settings.district,)).fetchall()
        unplaced = conn.execute(dashboard_queries.UNPLACED, (settings.district, 100_000)).fetchall()
    assert (f"air-lora-{tag}", "pm25_ugm3", 21.5) in {(r[0], r[5], r[6]) for r in latest}
    assert f"ttn-{eui_new}" in {r[0] for r in unplaced}
