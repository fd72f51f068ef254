"""Dashboard figures on a big city: 20,000 buildings, 1,000 devices x 30 days of readings.

- ``wall_first_render_s``: /wall in headless Chromium (Debian's, software WebGL), on the
  page's own clock from navigation to the later of the first frame drawn with the
  buildings and the first story's number shown (the server has served a page before);
  baseline: the same page's DOMContentLoaded (scripts loaded, no data yet),
  ``wall_render_ratio``. The first frame holds the 4,000 buildings nearest the view's
  centre; ``wall_all_buildings_s`` is when the rest had followed.
- ``callback_p95_ms``: the p95 of the data callbacks (operations refresh, 12-hours-ago
  replay, building panel, anomaly feed, wall refresh) called in the app, 30 times each,
  with six hours of hourly forecast runs stored for every series (the wall's outlook);
  baseline: the p95 of a one-row query through the same helper, ``callback_ratio``.
- ``first_page_mb``: bytes the browser received for /wall's first render (compressed, as
  sent), against the bytes of its code alone (``first_page_ratio``: what the city's data adds).

- ``demo_first_forecast_s``, ``demo_first_anomaly_s``: ``smartcity up`` in a fresh home (a new
  database cluster and broker, an empty database) until the first forecast row and the
  first anomaly episode are in the database; baseline: until it prints that the city is
  live (``demo_live_s``; stack, migrations, district and the history it writes first), with
  ``demo_first_forecast_ratio``. ``--demo`` measures these alone.
- ``axe_serious_violations``: axe-core's serious and critical violations (elements) over
  every page, Korean and English, against ``axe_rules_passed`` (rules that held).

Usage: .venv/bin/python bench/dashboard.py [--json] [--demo] [--days 30] [--devices 1000] [--buildings 20000]
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
from shapely.geometry import Point, box

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._stack import free_port, private_stack, report  # noqa: E402
from bench.twin import buildings_grid  # noqa: E402
from contract.kinds import METRICS_BY_KIND  # noqa: E402
from dashboard.app import DashboardConfig, create_app  # noqa: E402
from ingest.bulk import BulkWriter  # noqa: E402
from ingest.registry import register_sited  # noqa: E402
from sensors_sim.backfill import backfill  # noqa: E402
from twin import store  # noqa: E402
from twin.crs import METRIC_CRS  # noqa: E402
from twin.district import District  # noqa: E402

KINDS = ("energy", "air", "traffic", "light", "noise", "parking", "water")
CHROMIUM = os.environ.get("SMARTCITY_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]


def big_district(n_buildings: int, n_devices: int) -> District:
    buildings = buildings_grid(n_buildings).rename(columns={"BLD_ID": "building_id", "HGT": "height_m"})
    buildings = buildings.assign(
        name=None, use=np.where(np.arange(n_buildings) % 5 == 0, "commercial", "apartment"),
        floors=buildings["FLOORS"], synthetic=True,
    ).drop(columns=["FLOORS"])  # fmt: skip
    rng = np.random.default_rng(5)
    picks = rng.choice(n_buildings, n_devices, replace=False)
    sites = gpd.GeoDataFrame(
        {
            "device_id": [f"{KINDS[i % len(KINDS)]}-{i:05d}" for i in range(n_devices)],
            "kind": [KINDS[i % len(KINDS)] for i in range(n_devices)],
            "name": None, "building_id": buildings["building_id"].iloc[picks].to_numpy(), "pnu": None, "way_id": None,
        },
        geometry=[Point(p.x, p.y) for p in buildings.geometry.iloc[picks].centroid],
        crs=METRIC_CRS,
    )  # fmt: skip
    hull = buildings.union_all().convex_hull
    # sixteen named dongs over the city, so the wall draws its outlines and names as at Goyang
    x0, y0, x1, y1 = hull.bounds
    cells = [box(x0 + (x1 - x0) * i / 4, y0 + (y1 - y0) * j / 4, x0 + (x1 - x0) * (i + 1) / 4,
                 y0 + (y1 - y0) * (j + 1) / 4).intersection(hull) for i in range(4) for j in range(4)]  # fmt: skip
    dongs = gpd.GeoDataFrame(
        {"code": [f"bench-{k}" for k in range(16)], "name": [f"벤치{k + 1}동" for k in range(16)],
         "name_eng": [f"Bench {k + 1}-dong" for k in range(16)]},
        geometry=cells, crs=METRIC_CRS,
    )  # fmt: skip
    return District("bench", "bench", "bench", hull.centroid, dongs, buildings, sites, "synthetic bench city")


def seed_forecasts(conn: psycopg.Connection[tuple[object, ...]], sites: pd.DataFrame, district: str) -> int:
    """Six hourly runs of 24-hour forecasts for every device metric and the district's own
    series, as the analytics service leaves them (it keeps 6 hours of runs): the wall's
    outlook query reads these. The values do not matter here, only how many rows there are."""
    now = pd.Timestamp.now(tz="UTC").floor("1h")
    series = [(d, m) for d, k in zip(sites["device_id"], sites["kind"], strict=True) for m in METRICS_BY_KIND[k]]
    series += [(f"district:{district}", m) for m in ("pm25_ugm3", "power_kw")]
    rows = 0
    with (
        conn.cursor() as cur,
        cur.copy(
            "COPY forecasts (time, device_id, metric, made_at, model, yhat, lo80, hi80, lo95, hi95) FROM STDIN"
        ) as copy,
    ):
        for run in range(6):
            made = now - pd.Timedelta(hours=run)
            for hour in range(1, 25):
                at = made + pd.Timedelta(hours=hour)
                for device_id, metric in series:
                    copy.write_row((at, device_id, metric, made, "mstl", 10.0, 8.0, 12.0, 7.0, 13.0))
                    rows += 1
    conn.commit()
    return rows


def p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


def time_callbacks(app: object, dsn: str, buildings: list[str]) -> tuple[float, float, dict[str, float]]:
    from dashboard import panels, queries

    # the page modules as Dash registered them (importing them again would register twice)
    operations, wall = sys.modules["pages.operations"], sys.modules["pages.wall"]

    durations: list[float] = []
    by_name: dict[str, list[float]] = {}
    baseline: list[float] = []
    with app.server.app_context():  # type: ignore[attr-defined]
        shown = ["buildings", "sensors", "ways"]
        with app.server.test_request_context():  # type: ignore[attr-defined]
            wall.load_base(0, None)  # fills the app's cache of still layers, as the first page does
        for i in range(30):
            for name, call in (
                ("ops_refresh", lambda i=i: operations.refresh(i, shown, 0)),
                ("ops_replay", lambda i=i: operations.refresh(i, shown, -12)),
                ("ops_panel", lambda i=i: operations.open_panel({"building_id": buildings[i % len(buildings)]})),
                ("ops_feed", lambda: panels.feed_items(queries.anomaly_feed(dsn, "bench"))),  # the callback's work
                ("wall_refresh", lambda i=i: wall.refresh(i, i, None, None)),
            ):
                started = time.perf_counter()
                call()
                elapsed = (time.perf_counter() - started) * 1000
                durations.append(elapsed)
                by_name.setdefault(name, []).append(elapsed)
            started = time.perf_counter()
            queries.district(dsn, "bench")
            baseline.append((time.perf_counter() - started) * 1000)
    return p95(durations), p95(baseline), {name: p95(values) for name, values in by_name.items()}


def browse(url: str) -> tuple[float, float, float, float, float]:
    """(wall first render s, wall MB, the same page's DOMContentLoaded s, its scripts' MB,
    every building drawn s)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        # page-clock time of the first story number (the browser's own clock, so the
        # harness's polling does not count)
        page.add_init_script(
            "new MutationObserver((m, o) => { const v = document.getElementById('wall-value');"
            " if (v && v.textContent.trim()) { window.storyAt = performance.now(); o.disconnect(); } })"
            ".observe(document, {subtree: true, childList: true, characterData: true});"
        )
        sizes: list[tuple[str, int]] = []
        page.on("requestfinished", lambda r: sizes.append((r.url, r.sizes()["responseBodySize"])))
        page.goto(url + "/wall")
        page.wait_for_function(
            "window.smartcityDrawn && window.smartcityDrawn['wall-map'] && window.storyAt", timeout=120_000, polling=50
        )
        page.wait_for_timeout(500)  # the last responses' sizes
        render_ms = page.evaluate("Math.max(window.smartcityDrawn['wall-map'], window.storyAt)")
        page.wait_for_function("window.smartcityAllDrawn && window.smartcityAllDrawn['wall-map']", timeout=120_000)
        all_ms = page.evaluate("window.smartcityAllDrawn['wall-map']")
        loaded_ms = page.evaluate("performance.timing.domContentLoadedEventEnd - performance.timing.navigationStart")
        browser.close()
    total_mb = sum(n for _, n in sizes) / 1e6
    code_mb = sum(n for u, n in sizes if "_dash-update-component" not in u) / 1e6
    return render_ms / 1000, total_mb, loaded_ms / 1000, code_mb, all_ms / 1000


A11Y_PAGES = ("/", "/wall", "/exhibit?lang=ko", "/exhibit?lang=en", "/class", "/login")


def accessibility(url: str) -> dict[str, int]:
    """axe-core (tests/axe, installed by scripts/setup) on every page in both languages: the
    serious and critical violations (elements), against the rules that passed."""
    from playwright.sync_api import sync_playwright

    axe_js = ROOT / "tests" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
    serious = passed = 0
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for path in A11Y_PAGES:
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            page.goto(url + path)
            page.wait_for_timeout(6000)  # the first answers of the page's callbacks
            page.add_script_tag(path=str(axe_js))
            found = page.evaluate(
                "async () => { const r = await axe.run(document); return [r.passes.length, "
                "r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')"
                ".reduce((n, v) => n + v.nodes.length, 0)]; }"
            )
            passed += int(found[0])
            serious += int(found[1])
            page.close()
        browser.close()
    return {"axe_serious_violations": serious, "axe_rules_passed": passed, "axe_pages": len(A11Y_PAGES)}


def demo_first_start(timeout_s: float = 300.0) -> dict[str, float]:
    """``smartcity up`` on an empty database: seconds to the city being live, to its first
    forecast and to its first anomaly episode (NaN for what did not come in ``timeout_s``)."""
    import shutil
    import signal
    import subprocess

    home = ROOT / ".smartcity" / "bench-demo-first-start"
    shutil.rmtree(home, ignore_errors=True)
    ports = {k: str(free_port()) for k in ("PG", "MQTT", "MQTT_DEMO", "DASHBOARD")}
    env = dict(os.environ, SMARTCITY_HOME=str(home), **{f"SMARTCITY_{k}_PORT": v for k, v in ports.items()})
    dsn = f"host={home / 'pg' / 'run'} port={ports['PG']} dbname=smartcity user=smartcity"
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "smartcity.cli", "up"], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    seen: dict[str, float] = {}

    def watch_output() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "The city is live" in line:
                seen.setdefault("live", time.monotonic() - started)

    threading.Thread(target=watch_output, daemon=True).start()
    queries = {
        "forecast": "SELECT EXISTS (SELECT 1 FROM forecasts)",
        "anomaly": "SELECT EXISTS (SELECT 1 FROM anomalies)",
    }
    try:
        while time.monotonic() - started < timeout_s and not {"forecast", "anomaly"} <= set(seen):
            time.sleep(0.5)
            try:
                with psycopg.connect(dsn, connect_timeout=2) as conn:
                    for name, sql in queries.items():
                        row = conn.execute(sql).fetchone()
                        if name not in seen and row is not None and row[0]:
                            seen[name] = time.monotonic() - started
            except psycopg.Error:
                continue  # not up yet, or the tables not migrated yet
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
        subprocess.run(
            [sys.executable, "-m", "smartcity.cli", "stack", "down"], env=env, capture_output=True, check=False
        )
        shutil.rmtree(home, ignore_errors=True)
    live = seen.get("live", float("nan"))
    forecast_s, anomaly_s = seen.get("forecast", float("nan")), seen.get("anomaly", float("nan"))
    return {
        "demo_live_s": round(live, 1),
        "demo_first_forecast_s": round(forecast_s, 1),
        "demo_first_anomaly_s": round(anomaly_s, 1),
        "demo_first_forecast_ratio": round(forecast_s / live, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--days", type=float, default=30.0)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--buildings", type=int, default=20_000)
    parser.add_argument("--no-browser", action="store_true", help="callbacks only (a quicker look)")
    parser.add_argument("--demo", action="store_true", help="the demo's first start alone")
    args = parser.parse_args()
    demo = demo_first_start()
    if args.demo:
        report(demo, as_json=args.json)
        return 0
    from werkzeug.serving import make_server

    with private_stack("bench-dashboard-stack") as settings:
        dsn = settings.database_dsn()
        district = big_district(args.buildings, args.devices)
        end = datetime.now(UTC).replace(second=0, microsecond=0)
        with psycopg.connect(dsn) as conn:
            store.save_district(conn, district, register=register_sited)
            fleet = pd.DataFrame({"device_id": district.sites["device_id"], "kind": district.sites["kind"]})
            loaded = backfill(conn, fleet, end - timedelta(days=args.days), end, interval_s=300, seed=3,
                              anomalies_per_device_day=0.2, run_id="bench", sink=BulkWriter(conn))  # fmt: skip
            forecast_rows = seed_forecasts(conn, district.sites, "bench")
            conn.execute("ANALYZE")
        app = create_app(DashboardConfig(dsn=dsn, district="bench", refresh_s=10))
        port = free_port()
        server = make_server("127.0.0.1", port, app.server, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            with_sensors = list(district.sites["building_id"].head(30))
            callback_p95, baseline_p95, by_callback = time_callbacks(app, dsn, with_sensors)
            wall_s, wall_mb, base_s, base_mb, all_s = (
                (0.0, 0.0, 1.0, 1.0, 0.0) if args.no_browser else browse(f"http://127.0.0.1:{port}")
            )
            a11y = {} if args.no_browser else accessibility(f"http://127.0.0.1:{port}")
        finally:
            server.shutdown()
    figures = {
        "wall_first_render_s": round(wall_s, 2),
        "baseline_dom_loaded_s": round(base_s, 2),
        "wall_render_ratio": round(wall_s / base_s, 2),
        "wall_all_buildings_s": round(all_s, 2),
        "callback_p95_ms": round(callback_p95, 1),
        "baseline_query_p95_ms": round(baseline_p95, 1),
        "callback_ratio": round(callback_p95 / baseline_p95, 1),
        **{f"p95_ms_{name}": round(value, 1) for name, value in by_callback.items()},
        "first_page_mb": round(wall_mb, 2),
        "baseline_code_mb": round(base_mb, 2),
        "first_page_ratio": round(wall_mb / base_mb, 2),
        "readings": loaded.rows,
        "forecast_rows": forecast_rows,
        "buildings": args.buildings,
        "devices": args.devices,
        "days": args.days,
        **a11y,
        **demo,
    }
    report(figures, as_json=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
