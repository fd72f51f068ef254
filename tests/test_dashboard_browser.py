"""The dashboard in real headless Chromium (Debian's), driven by Playwright."""

from __future__ import annotations

import io
import json
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import psycopg
import pytest
from PIL import Image, ImageStat
from werkzeug.serving import make_server

from dashboard.app import DashboardConfig, create_app
from tests.fixtures.stack import free_port
from twin import store
from twin._io import default_layers
from twin.district import build_district

pytestmark = [pytest.mark.integration, pytest.mark.browser]

CHROMIUM = os.environ.get("SMARTCITY_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(
    os.environ.get("SMARTCITY_SCREENSHOTS", Path(__file__).resolve().parents[1] / "test-artifacts" / "screenshots")
)
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
]  # fmt: skip


@pytest.fixture(scope="module")
def dashboard_url(dsn: str) -> Iterator[str]:
    district = build_district(*default_layers(), n_devices=40)
    with psycopg.connect(dsn) as conn:
        store.save_district(conn, district)
        now = datetime.now(UTC)
        with conn.cursor() as cur:
            for i, device_id in enumerate(district.sites["device_id"]):
                cur.execute(
                    "INSERT INTO latest_readings (device_id, metric, time, value) VALUES (%s, %s, %s, %s) "
                    "ON CONFLICT (device_id, metric) DO UPDATE SET value = excluded.value, time = excluded.time",
                    (device_id, "pm25_ugm3" if device_id.startswith("air") else "power_kw", now, 10.0 + i),
                )
        conn.commit()
    app = create_app(DashboardConfig(dsn=dsn, district="goyang", refresh_s=2))
    port = free_port()
    server = make_server("127.0.0.1", port, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def test_operations_map_renders_offline_without_console_errors(dashboard_url: str, browser: object) -> None:
    page = browser.new_page(viewport={"width": 1920, "height": 1080})  # type: ignore[attr-defined]
    errors: list[str] = []
    outside: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on(
        "request",
        lambda r: (
            outside.append(r.url) if not r.url.startswith(dashboard_url) and not r.url.startswith("data:") else None
        ),
    )
    page.goto(dashboard_url + "/")
    page.wait_for_selector("#ops-map canvas", timeout=20000)
    page.wait_for_function("document.getElementById('ops-kpi-devices').textContent.trim() === '40'", timeout=20000)
    page.wait_for_timeout(1500)  # let deck.gl draw its first frames
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "operations.png"))
    image = Image.open(io.BytesIO(page.locator("#ops-map").screenshot())).convert("RGB")
    background = (14, 20, 32)
    pixels = np.asarray(image, dtype=np.int16)
    differing = int((np.abs(pixels - np.array(background)).max(axis=2) > 40).sum())
    assert differing > 0.05 * pixels.shape[0] * pixels.shape[1], (
        f"map looks blank: {differing} pixels differ from the background"
    )
    assert ImageStat.Stat(image).stddev[0] > 10
    assert errors == [], errors
    assert outside == [], f"the page fetched from outside the app: {outside}"
    page.close()


def test_deck_bundle_is_served_by_the_app(dashboard_url: str) -> None:
    import urllib.request

    with urllib.request.urlopen(dashboard_url + "/_smartcity/deck.js", timeout=10) as response:
        body = response.read()
    assert b"createDeck" in body
    with urllib.request.urlopen(dashboard_url + "/_dash-layout", timeout=10) as response:
        layout = json.loads(response.read())
    assert "props" in layout


def test_class_page_lists_a_students_accepted_and_rejected_messages(
    dashboard_url: str, browser: object, dsn: str
) -> None:
    class_id, tag = "pageclass", datetime.now(UTC).strftime("%H%M%S%f")
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO classes (class_id, name, district, expires_at) "
            "VALUES (%s, %s, 'goyang', now() + interval '1 day') ON CONFLICT DO NOTHING",
            (class_id, class_id),
        )
        conn.execute(
            "INSERT INTO class_members (username, class_id, member, role, password_hash, sim_device_id, expires_at) "
            "VALUES (%s, %s, 'ana', 'student', 'x', 'air-0001', now() + interval '1 day') ON CONFLICT DO NOTHING",
            (f"{class_id}.ana", class_id),
        )
        conn.execute(
            "INSERT INTO devices (device_id, kind, district, source, owner) VALUES (%s, 'student', %s, 'class', 'ana')",
            (f"esp-{tag}", class_id),
        )
        conn.execute(
            "INSERT INTO readings (time, device_id, metric, value) VALUES (now(), %s, 'temperature_c', 21.5)",
            (f"esp-{tag}",),
        )
        conn.execute(
            "INSERT INTO dead_letters (topic, device_id, payload, payload_bytes, reason, detail) "
            "VALUES (%s, %s, %s, 5, 'unknown_metric', 'metric \"temp\" is not in the vocabulary')",
            (f"class/{class_id}/ana/esp-{tag}", f"esp-{tag}", b'{"temp": 1}'),
        )
        conn.commit()
    page = browser.new_page(viewport={"width": 1920, "height": 1080})  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{dashboard_url}/class?c={class_id}&s=ana")
    page.wait_for_selector("#class-accepted-table", timeout=20000)
    assert f"esp-{tag}" in page.inner_text("#class-accepted-table")
    rejected = page.inner_text("#class-rejected-table")
    assert "unknown_metric" in rejected and "temp" in rejected
    assert "air-0001" in page.inner_text("#class-member")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "class.png"))
    assert errors == [], errors
    page.close()
