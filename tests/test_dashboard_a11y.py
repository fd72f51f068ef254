"""Every page for everyone: axe-core (from npm, pinned in tests/axe) finds no serious or
critical violation on any page, in Korean and English, signed in or not; the operations page
works from the keyboard; the class page fits a classroom projector and a phone."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from smartcity import _mosquitto
from tests.fixtures.axe import describe, serious_violations
from tests.fixtures.browser import OPERATOR, open_page, sign_in

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.usefixtures("close_pages")]

CLASS_ID, STUDENT, PASSWORD = "a11yclass", "mina", "mina-test-password"
READY = {  # the page has drawn its data: (element id, what its text must satisfy)
    "/": ("ops-kpi-devices", "t === '40'"),
    "/wall": ("wall-title", "t.length > 0"),
    "/exhibit": ("exh-title", "t.length > 0"),
    "/class": ("class-who", "t.length > 0"),
    "/login": ("login-username", "true"),
}


def _ready(page: Any, path: str) -> None:
    element, condition = READY[path.split("?", maxsplit=1)[0]]
    page.wait_for_function(
        f"(() => {{ const e = document.getElementById('{element}'); if (!e) return false;"
        f" const t = (e.textContent || '').trim(); return {condition}; }})()",
        timeout=30000,
    )
    page.wait_for_timeout(500)  # the callbacks that follow the first answer


def _assert_accessible(page: Any, where: str) -> None:
    found = serious_violations(page)
    assert found == [], f"{where}: axe-core found serious or critical violations:\n{describe(found)}"


@pytest.fixture(scope="module")
def student(dashboard_url: str, dsn: str) -> tuple[str, str]:
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO classes (class_id, name, district, expires_at) "
            "VALUES (%s, %s, 'goyang', now() + interval '1 day') ON CONFLICT DO NOTHING",
            (CLASS_ID, CLASS_ID),
        )
        username = f"{CLASS_ID}.{STUDENT}"
        hashed = _mosquitto.hash_passwords([(username, PASSWORD)])[username]
        conn.execute(
            "INSERT INTO class_members (username, class_id, member, role, password_hash, sim_device_id, expires_at) "
            "VALUES (%s, %s, %s, 'student', %s, 'air-0003', now() + interval '1 day') "
            "ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash",
            (username, CLASS_ID, STUDENT, hashed),
        )
        conn.execute(
            "INSERT INTO dead_letters (topic, device_id, payload, payload_bytes, reason, detail) "
            "VALUES (%s, 'esp-a11y', %s, 5, 'unknown_metric', 'metric \"temp\" is not in the vocabulary')",
            (f"class/{CLASS_ID}/{STUDENT}/esp-a11y", b'{"temp": 1}'),
        )
        conn.execute(
            "INSERT INTO anomalies (device_id, metric, started_at, ended_at, kind, severity, explanation) "
            "VALUES ('air-0004', 'pm25_ugm3', now() - interval '20 minutes', now(), 'spike', 7.5, 'PM2.5 spike')"
        )
        conn.commit()
    return username, PASSWORD


@pytest.mark.parametrize(
    ("path", "lang"),
    [("/", "ko"), ("/wall", "ko"), ("/exhibit?lang=ko", "ko"), ("/exhibit?lang=en", "en"), ("/class", "ko"),
     ("/login", None)],
)  # fmt: skip
def test_every_page_has_no_serious_accessibility_violation(
    dashboard_url: str, browser: object, path: str, lang: str | None
) -> None:
    page, errors, _ = open_page(browser, dashboard_url + path)
    _ready(page, path)
    if lang is not None:
        page.wait_for_function(f"document.documentElement.lang === '{lang}'", timeout=15000)  # type: ignore[attr-defined]
    _assert_accessible(page, path)
    assert errors == [], errors


def test_the_exhibit_in_english_by_touch_speaks_english_to_screen_readers(dashboard_url: str, browser: object) -> None:
    page, errors, _ = open_page(browser, dashboard_url + "/exhibit?idle=600")
    _ready(page, "/exhibit")
    assert page.evaluate("document.documentElement.lang") == "ko"  # type: ignore[attr-defined]
    assert page.get_attribute("#exh-ko", "aria-pressed") == "true"  # type: ignore[attr-defined]
    page.click("#exh-en")  # type: ignore[attr-defined]
    page.wait_for_function("document.documentElement.lang === 'en'", timeout=15000)  # type: ignore[attr-defined]
    page.wait_for_function("document.getElementById('exh-en').getAttribute('aria-pressed') === 'true'")  # type: ignore[attr-defined]
    assert page.get_attribute("#exh-attract-sub", "lang") == "ko"  # type: ignore[attr-defined]  # the other language's line
    _assert_accessible(page, "/exhibit after choosing English")
    assert errors == [], errors


def test_signed_in_pages_have_no_serious_accessibility_violation(
    dashboard_url: str, browser: object, student: tuple[str, str], dsn: str
) -> None:
    page, errors, _ = open_page(browser, dashboard_url + "/login")
    sign_in(page, dashboard_url, *student, "/class")
    page.goto(f"{dashboard_url}/class")  # type: ignore[attr-defined]
    page.wait_for_selector("#class-rejected-table", timeout=30000)  # type: ignore[attr-defined]
    _assert_accessible(page, "/class signed in as a student")
    page.click("#nav-logout")  # type: ignore[attr-defined]
    page.wait_for_selector("#nav-login", timeout=30000)  # type: ignore[attr-defined]
    sign_in(page, dashboard_url, *OPERATOR, "/")
    page.goto(dashboard_url + "/")  # type: ignore[attr-defined]
    _ready(page, "/")
    page.wait_for_selector(".sc-ack", timeout=30000)  # type: ignore[attr-defined]
    with psycopg.connect(dsn) as conn:
        lon, lat, height = conn.execute(
            "SELECT ST_X(p), ST_Y(p), h FROM (SELECT ST_Transform(ST_Translate(ST_Centroid(geom), 30, 0), 4326) p, "
            "height_m h FROM buildings WHERE name LIKE '%%Smart City Center%%') q"
        ).fetchone()  # type: ignore[misc]
    page.wait_for_function("window.smartcityDrawn && window.smartcityDrawn['ops-map']", timeout=30000)  # type: ignore[attr-defined]
    x, y = page.evaluate(f"window.smartcityProject('ops-map', {lon}, {lat}, {height})")  # type: ignore[attr-defined]
    page.mouse.click(x, y)  # type: ignore[attr-defined]
    page.wait_for_selector("#ops-panel.open .js-plotly-plot", timeout=30000)  # type: ignore[attr-defined]
    _assert_accessible(page, "/ signed in as an operator, a building's panel open")
    assert errors == [], errors


def _tab_to(page: Any, selector: str, *, presses: int = 40) -> None:
    """Tab from where the focus is until ``selector`` has it, as a keyboard user would."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate(f"document.activeElement === document.querySelector({selector!r})"):
            return
    raise AssertionError(f"{presses} presses of Tab never reached {selector}")


def test_the_operations_page_works_from_the_keyboard(dashboard_url: str, browser: object) -> None:
    page, errors, _ = open_page(browser, dashboard_url + "/")
    _ready(page, "/")
    parcels = """[id='{"type":"ops-layers-opt","value":"parcels"}']"""
    anomalies = """[id='{"type":"ops-colour-opt","value":"anomaly"}']"""
    assert page.get_attribute(parcels, "aria-pressed") == "false"
    _tab_to(page, parcels)
    page.keyboard.press("Space")
    page.wait_for_function(f"document.querySelector({parcels!r}).getAttribute('aria-pressed') === 'true'")
    _tab_to(page, anomalies)
    page.keyboard.press("Enter")
    page.wait_for_function(f"document.querySelector({anomalies!r}).getAttribute('aria-pressed') === 'true'")
    use = """[id='{"type":"ops-colour-opt","value":"use"}']"""
    assert page.get_attribute(use, "aria-pressed") == "false", "colour-by is a single choice"
    _tab_to(page, "#ops-hour")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    page.wait_for_function("document.getElementById('ops-hour-text').textContent.startsWith('-2 h')", timeout=15000)
    focus = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert focus != "none", "the focused control shows no outline"
    assert errors == [], errors


@pytest.mark.parametrize(("width", "height"), [(1366, 768), (390, 844)])
def test_the_class_page_fits_a_projector_and_a_phone(
    dashboard_url: str, browser: object, student: tuple[str, str], width: int, height: int
) -> None:
    page = browser.new_page(viewport={"width": width, "height": height})  # type: ignore[attr-defined]
    sign_in(page, dashboard_url, *student, "/class")
    page.goto(f"{dashboard_url}/class")  # type: ignore[attr-defined]
    page.wait_for_selector("#class-rejected-table", timeout=30000)  # type: ignore[attr-defined]
    page.wait_for_selector(".sc-howto pre", timeout=30000)  # type: ignore[attr-defined]
    scroll = page.evaluate("document.documentElement.scrollWidth")  # type: ignore[attr-defined]
    assert scroll <= width, f"the class page is {scroll} px wide in a {width} px window"
    for selector in ("#class-id", "#class-student", ".sc-howto pre", "#class-map"):
        box = page.locator(selector).bounding_box()  # type: ignore[attr-defined]
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, (
            f"{selector} runs off a {width} px window: {box}"
        )
    size = page.evaluate("parseFloat(getComputedStyle(document.getElementById('class-id')).fontSize)")  # type: ignore[attr-defined]
    assert size >= 16, "inputs under 16 px make phones zoom in"
