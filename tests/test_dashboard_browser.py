"""The dashboard in real headless Chromium (Debian's), driven by Playwright."""

from __future__ import annotations

import io
import json
import time
from datetime import UTC, datetime

import numpy as np
import psycopg
import pytest
from PIL import Image, ImageStat

from smartcity import _mosquitto
from tests.fixtures.browser import OPERATOR, SHOTS, STUDENT_PASSWORD, open_page, sign_in

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.usefixtures("close_pages")]


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
    assert b"window.smartcityDeck" in body and b"PolygonLayer" in body
    assert len(body) < 1_500_000, "the slim deck.gl build, not a notebook bundle"
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
        hashes = _mosquitto.hash_passwords([(f"{class_id}.ana", STUDENT_PASSWORD), (f"{class_id}.bob", "bob-password")])
        for member in ("ana", "bob"):
            conn.execute(
                "INSERT INTO class_members (username, class_id, member, role, password_hash, sim_device_id, "
                "expires_at) VALUES (%s, %s, %s, 'student', %s, %s, now() + interval '1 day') "
                "ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash",
                (f"{class_id}.{member}", class_id, member, hashes[f"{class_id}.{member}"],
                 "air-0001" if member == "ana" else None),
            )  # fmt: skip
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
    page.wait_for_selector("#class-signin", timeout=20000)  # nothing of anyone's before signing in
    assert page.locator("#class-accepted-table").count() == 0
    sign_in(page, dashboard_url, f"{class_id}.ana", STUDENT_PASSWORD, "/class")
    page.goto(f"{dashboard_url}/class?c={class_id}&s=bob")  # asking for a classmate shows oneself
    page.wait_for_selector("#class-accepted-table", timeout=20000)
    assert f"esp-{tag}" in page.inner_text("#class-accepted-table")
    rejected = page.inner_text("#class-rejected-table")
    assert "unknown_metric" in rejected and "temp" in rejected
    assert "air-0001" in page.inner_text("#class-member")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "class.png"))
    assert errors == [], errors
    page.close()


def _acknowledged(dsn: str, anomaly_id: int) -> bool:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT acknowledged FROM anomalies WHERE id = %s", (anomaly_id,)).fetchone()
    return bool(row and row[0])


def test_operations_refuses_an_acknowledgement_without_login_and_accepts_it_after(
    dashboard_url: str, browser: object, dsn: str
) -> None:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "INSERT INTO anomalies (device_id, metric, started_at, ended_at, kind, severity, explanation) "
            "VALUES ('air-0002', 'pm25_ugm3', now() - interval '10 minutes', now(), 'spike', 9.5, 'PM2.5 spike') "
            "RETURNING id"
        ).fetchone()
        conn.commit()
    assert row is not None
    anomaly_id = int(row[0])
    button = f"""[id='{{"index":{anomaly_id},"type":"ops-ack"}}']"""
    page = browser.new_page(viewport={"width": 1920, "height": 1080})  # type: ignore[attr-defined]
    page.goto(dashboard_url + "/")
    page.wait_for_selector(button, timeout=20000)
    page.click(button)
    page.wait_for_selector("#ops-ack-note a", timeout=30000)  # "sign in as an operator"
    assert not _acknowledged(dsn, anomaly_id)
    # a forged callback from another site is refused before Dash sees it
    forged = page.request.post(
        dashboard_url + "/_dash-update-component", data="{}", headers={"Origin": "http://evil.example"}
    )
    assert forged.status == 403
    sign_in(page, dashboard_url, *OPERATOR, "/")
    page.wait_for_selector(button, timeout=20000)
    page.click(button)
    deadline = time.monotonic() + 10
    while not _acknowledged(dsn, anomaly_id) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _acknowledged(dsn, anomaly_id)
    page.click("#nav-logout")
    page.wait_for_selector("#nav-login", timeout=30000)
    page.close()


def test_wall_and_exhibit_need_no_login_and_a_wrong_password_is_refused(dashboard_url: str, browser: object) -> None:
    page = browser.new_page(viewport={"width": 1366, "height": 768})  # type: ignore[attr-defined]
    for path, marker in (("/wall", "#wall-map"), ("/exhibit", "#exh-map")):
        page.goto(dashboard_url + path)
        page.wait_for_selector(marker, timeout=20000)
        assert page.locator("#nav-login").count() == 1
    page.goto(dashboard_url + "/login")
    page.fill("#login-username", OPERATOR[0])
    page.fill("#login-password", "not-the-password")
    page.click("#login-submit")
    page.wait_for_selector(".sc-login-error", timeout=30000)
    assert page.locator("#nav-user").count() == 0
    page.close()


def _not_blank(page: object, selector: str) -> None:
    image = Image.open(io.BytesIO(page.locator(selector).screenshot())).convert("RGB")  # type: ignore[attr-defined]
    pixels = np.asarray(image, dtype=np.int16)
    differing = int((np.abs(pixels - np.array((14, 20, 32))).max(axis=2) > 40).sum())
    assert differing > 0.03 * pixels.shape[0] * pixels.shape[1], f"{selector} looks blank ({differing} pixels differ)"


@pytest.mark.parametrize(
    ("path", "shot", "canvas"),
    [("/wall", "wall", "#wall-map canvas"), ("/exhibit", "exhibit", "#exh-map canvas"),
     ("/class?c=pageclass&s=ana", "class", "#class-map canvas")],
)  # fmt: skip
def test_every_page_loads_offline_without_console_errors_and_draws_its_map(
    dashboard_url: str, browser: object, path: str, shot: str, canvas: str
) -> None:
    page, errors, outside = open_page(browser, dashboard_url + path)
    page.wait_for_selector(canvas, timeout=20000)  # type: ignore[attr-defined]
    page.wait_for_timeout(2000)  # type: ignore[attr-defined]
    _not_blank(page, canvas.split(" ", maxsplit=1)[0])
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{shot}.png"))  # type: ignore[attr-defined]
    assert errors == [], errors
    assert outside == [], outside
    page.close()  # type: ignore[attr-defined]


def test_clicking_a_building_opens_its_panel_with_its_sensors(dashboard_url: str, browser: object, dsn: str) -> None:
    page, errors, _ = open_page(browser, dashboard_url + "/")
    page.wait_for_selector("#ops-map canvas", timeout=20000)  # type: ignore[attr-defined]
    page.wait_for_function("document.getElementById('ops-kpi-devices').textContent.trim() !== '–'", timeout=20000)  # type: ignore[attr-defined]
    page.wait_for_timeout(1500)  # type: ignore[attr-defined]
    with psycopg.connect(dsn) as conn:  # a point on the roof, 30 m east of the centre (the counter stands there)
        lon, lat, height = conn.execute(
            "SELECT ST_X(p), ST_Y(p), h FROM (SELECT ST_Transform(ST_Translate(ST_Centroid(geom), 30, 0), 4326) p, "
            "height_m h FROM buildings WHERE name LIKE '%%Smart City Center%%') q"
        ).fetchone()
    page.wait_for_function("window.smartcityDrawn && window.smartcityDrawn['ops-map']", timeout=30000)  # type: ignore[attr-defined]
    x, y = page.evaluate(f"window.smartcityProject('ops-map', {lon}, {lat}, {height})")  # type: ignore[attr-defined]
    page.mouse.click(x, y)  # type: ignore[attr-defined]
    page.wait_for_selector("#ops-panel.open #ops-panel-title", timeout=30000)  # type: ignore[attr-defined]
    title = page.inner_text("#ops-panel-title")  # type: ignore[attr-defined]
    assert "Smart City Center" in title, f"the click picked {title!r}"
    assert "footfall-0001" in page.inner_text("#ops-panel-sensors")  # type: ignore[attr-defined]
    page.wait_for_selector("#ops-panel .js-plotly-plot", timeout=30000)  # type: ignore[attr-defined]
    page.screenshot(path=str(SHOTS / "operations-panel.png"))  # type: ignore[attr-defined]
    page.click("#ops-panel-close")  # type: ignore[attr-defined]
    page.wait_for_selector("#ops-panel.open", state="detached", timeout=15000)  # type: ignore[attr-defined]
    assert errors == [], errors
    page.close()  # type: ignore[attr-defined]


def test_exhibit_switches_language_and_finds_a_parcel(dashboard_url: str, browser: object) -> None:
    page, errors, _ = open_page(browser, dashboard_url + "/exhibit?idle=600")  # no attract loop in this test
    page.wait_for_selector("#exh-title", timeout=20000)  # type: ignore[attr-defined]
    page.wait_for_function("document.getElementById('exh-title').textContent.includes('스마트시티')", timeout=20000)  # type: ignore[attr-defined]
    for button in ("#exh-ko", "#exh-en", "#exh-lookup-go"):
        size = page.locator(button).bounding_box()  # type: ignore[attr-defined]
        assert size["width"] >= 48 and size["height"] >= 48, f"{button} is under 48 px"
    page.click("#exh-en")  # type: ignore[attr-defined]
    page.wait_for_function("document.getElementById('exh-title').textContent.includes('Smart City')", timeout=30000)  # type: ignore[attr-defined]
    assert page.get_attribute("#exh-root", "lang") == "en"  # type: ignore[attr-defined]
    page.fill("#exh-lookup-input", "덕양구 화정동 9999-9")  # type: ignore[attr-defined]
    page.click("#exh-lookup-go")  # type: ignore[attr-defined]
    page.wait_for_selector("#exh-lookup-result .exh-error", timeout=30000)  # type: ignore[attr-defined]
    assert "No parcel" in page.inner_text("#exh-lookup-result")  # type: ignore[attr-defined]
    page.click("#exh-ko")  # type: ignore[attr-defined]
    page.wait_for_function("document.getElementById('exh-title').textContent.includes('스마트시티')", timeout=30000)  # type: ignore[attr-defined]
    assert errors == [], errors
    page.close()  # type: ignore[attr-defined]


def test_exhibit_attract_loop_starts_when_idle_and_a_touch_ends_it(dashboard_url: str, browser: object) -> None:
    page, errors, _ = open_page(browser, dashboard_url + "/exhibit?idle=3")
    page.wait_for_selector("#exh-root.attract", timeout=30000)  # type: ignore[attr-defined]
    assert page.locator(".exh-attract").is_visible()  # type: ignore[attr-defined]
    # The loop comes back after three idle seconds, and a busy CI machine may draw no frame
    # in that window: a watcher records the class change as it happens instead of polling.
    page.evaluate(  # type: ignore[attr-defined]
        """() => {
          const root = document.getElementById('exh-root');
          window.attractEnded = false;
          new MutationObserver(() => {
            if (!root.classList.contains('attract')) { window.attractEnded = true; }
          }).observe(root, { attributes: true, attributeFilter: ['class'] });
        }"""
    )
    page.mouse.click(200, 500)  # type: ignore[attr-defined]
    page.wait_for_function("window.attractEnded === true", timeout=15000, polling=100)  # type: ignore[attr-defined]
    # and once idle again, the loop starts again by itself
    page.wait_for_selector("#exh-root.attract", timeout=30000)  # type: ignore[attr-defined]
    assert errors == [], errors
    page.close()  # type: ignore[attr-defined]


def test_wall_shows_the_stale_banner_without_the_database_and_clears_it_when_back(
    dashboard_url: str, browser: object, settings: object, dsn: str
) -> None:
    from smartcity import _postgres, stack

    if getattr(settings, "dsn", ""):
        pytest.skip("stopping the database needs the local stack; external services were given")

    def fresh_reading() -> None:  # as ingest writes while the city runs
        with psycopg.connect(dsn) as conn:
            conn.execute(
                "INSERT INTO readings (time, device_id, metric, value) VALUES (now(), 'air-0001', 'pm25_ugm3', 12)"
            )

    fresh_reading()
    page, _, _ = open_page(browser, dashboard_url + "/wall")
    page.wait_for_selector("#wall-map canvas", state="attached", timeout=30000)  # type: ignore[attr-defined]
    assert not page.locator("#wall-banner.visible").count()  # type: ignore[attr-defined]
    started = time.monotonic()
    assert _postgres.down(settings)  # type: ignore[arg-type]
    try:
        page.wait_for_selector("#wall-banner.visible", timeout=30000)  # type: ignore[attr-defined]
        assert time.monotonic() - started <= 30
        assert "unreachable" in page.inner_text("#wall-banner")  # type: ignore[attr-defined]
        page.screenshot(path=str(SHOTS / "wall-degraded.png"))  # type: ignore[attr-defined]
    finally:
        stack.up(settings)  # type: ignore[arg-type]
    fresh_reading()
    page.wait_for_selector("#wall-banner:not(.visible)", state="attached", timeout=30000)  # type: ignore[attr-defined]
    assert page.url.endswith("/wall")  # type: ignore[attr-defined]
    page.close()  # type: ignore[attr-defined]


@pytest.mark.parametrize(("clock", "phase"), [("12:30", "day"), ("23:30", "night")])
def test_the_wall_reads_as_a_place_by_day_and_by_night(
    dashboard_url: str, browser: object, clock: str, phase: str
) -> None:
    """Dongs named, streams and roads, a legend, a north arrow and a scale, and the light of the
    city's clock (``?sky=HH:MM`` previews an hour)."""
    page, errors, outside = open_page(browser, f"{dashboard_url}/wall?sky={clock}")
    page.wait_for_function(  # type: ignore[attr-defined]
        f"document.getElementById('wall-map') && document.getElementById('wall-map').dataset.sky === '{phase}'",
        timeout=30000,
    )
    page.wait_for_function("window.smartcityDrawn && window.smartcityDrawn['wall-map']", timeout=30000)  # type: ignore[attr-defined]
    layers = set(page.evaluate("window.smartcityLayers('wall-map')"))  # type: ignore[attr-defined]
    assert {"boundary", "ways", "buildings", "areas", "area-names", "sensors"} <= layers, layers
    legend = page.inner_text("#wall-legend")  # type: ignore[attr-defined]
    for entry in ("commercial", "stream", "main road", "dong boundary", "sensor, high reading"):
        assert entry in legend, f"the legend lacks {entry!r}: {legend}"
    assert page.locator("#wall-map .sc-compass").is_visible()  # type: ignore[attr-defined]
    scale = page.inner_text("#wall-map .sc-scale")  # type: ignore[attr-defined]
    assert scale.endswith((" m", " km")) and scale.split()[0].isdigit(), scale
    bar = page.locator("#wall-map .sc-scale-bar").bounding_box()  # type: ignore[attr-defined]
    assert bar is not None and 60 <= bar["width"] <= 400, bar
    page.wait_for_timeout(1500)  # type: ignore[attr-defined]  # the orbit turns the camera, and north with it
    assert "rotate(" in (page.get_attribute("#wall-map .sc-compass", "style") or "")  # type: ignore[attr-defined]
    background = page.evaluate("getComputedStyle(document.getElementById('wall-map')).backgroundColor")  # type: ignore[attr-defined]
    level = sum(int(v) for v in background[background.index("(") + 1 : background.index(")")].split(",")[:3])
    assert (level > 450) if phase == "day" else (level < 150), f"{phase} sky is {background}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"wall-{phase}.png"))  # type: ignore[attr-defined]
    assert errors == [], errors
    assert outside == [], outside
