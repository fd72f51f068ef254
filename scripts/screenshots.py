"""Refresh docs/screenshots from a running city (``smartcity up``), as the docs show it.

Usage: .venv/bin/python scripts/screenshots.py [--url http://127.0.0.1:8050] [--out docs/screenshots]
       --student CLASS.MEMBER:PASSWORD   (the class page; a sheet from ``smartcity class create``)

Writes: wall-day.png and wall-night.png (``?sky=`` previews), exhibit-ko.png, exhibit-en.png,
operations.png, operations-panel.png (a building's panel with its sensors' 24 hours and 12
months), class-projector.png (1366x768, signed in as the student), class-phone.png (390x844).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from smartcity.settings import load_settings  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]


def _map_ready(page: Any, container: str) -> None:
    page.wait_for_function(f"window.smartcityDrawn && window.smartcityDrawn['{container}']", timeout=60_000)
    page.wait_for_timeout(3000)


def _sign_in(page: Any, url: str, username: str, password: str) -> None:
    page.goto(f"{url}/login?next=/class")
    page.fill("#login-username", username)
    page.fill("#login-password", password)
    page.click("#login-submit")
    page.wait_for_selector("#nav-user", timeout=30_000)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8050")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--student", help="CLASS.MEMBER:PASSWORD for the class page")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    dsn = load_settings().database_dsn()
    with psycopg.connect(dsn) as conn:
        found = conn.execute(
            "SELECT ST_X(p), ST_Y(p), h FROM (SELECT ST_Transform(ST_Translate(ST_Centroid(geom), 30, 0), 4326) p, "
            "height_m h FROM buildings WHERE name LIKE '%%Smart City Center%%' LIMIT 1) q"
        ).fetchone()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        for name, path in (("wall-day", "/wall?sky=12:30"), ("wall-night", "/wall?sky=22:30")):
            page.goto(args.url + path)
            _map_ready(page, "wall-map")
            page.screenshot(path=str(args.out / f"{name}.png"))
        for lang in ("ko", "en"):
            page.goto(f"{args.url}/exhibit?lang={lang}&idle=600")
            _map_ready(page, "exh-map")
            page.screenshot(path=str(args.out / f"exhibit-{lang}.png"))
        page.goto(args.url + "/")
        _map_ready(page, "ops-map")
        page.screenshot(path=str(args.out / "operations.png"))
        if found:
            lon, lat, height = found
            x, y = page.evaluate(f"window.smartcityProject('ops-map', {lon}, {lat}, {height})")
            page.mouse.click(x, y)
            page.wait_for_selector("#ops-panel.open .js-plotly-plot", timeout=30_000)
            page.wait_for_timeout(2000)
            page.screenshot(path=str(args.out / "operations-panel.png"))
        if args.student:
            username, _, password = args.student.partition(":")
            for name, size in (("class-projector", (1366, 768)), ("class-phone", (390, 844))):
                student = browser.new_page(viewport={"width": size[0], "height": size[1]})
                _sign_in(student, args.url, username, password)
                student.goto(args.url + "/class")
                student.wait_for_selector("#class-member", timeout=30_000)
                _map_ready(student, "class-map")
                student.screenshot(path=str(args.out / f"{name}.png"), full_page=name == "class-phone")
                student.close()
        browser.close()
    print(f"screenshots: written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
