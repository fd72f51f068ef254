"""Twin figures, measured in one run, each against the naive way in the same run.

- ``join_100k_s``: 100,000 building footprints joined with 10,000 device points
  (``twin.joins.device_to_building``: spatial index, inside else nearest within 30 m).
  Naive: row-by-row point-in-polygon over every building, timed on a sample of devices
  and scaled to 10,000 (``join_naive_100k_s``, ``join_speedup``).
- ``import_100k_s``: a 100,000-building Shapefile read, validated, mapped, reprojected
  and stored in TimescaleDB/PostGIS in one transaction (``twin import``'s path). Naive:
  one INSERT per building, timed on a sample and scaled (``import_naive_100k_s``).
- ``state_10k_s``: the state of 10,000 buildings (their sensors' latest values, open
  anomalies, next-hour forecast) plus IDW exposure to PM2.5 from 1,000 stations. Naive:
  a Python loop per building, timed on a sample and scaled (``state_naive_10k_s``).

Usage: .venv/bin/python bench/twin.py [--json]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import shapely
from shapely.geometry import Point

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._stack import private_stack, report  # noqa: E402
from twin import importer, store  # noqa: E402
from twin.crs import METRIC_CRS  # noqa: E402
from twin.exposure import building_state, idw  # noqa: E402
from twin.files import read_any, write_any  # noqa: E402
from twin.joins import device_to_building  # noqa: E402

X0, Y0 = 190_000.0, 560_000.0  # around Goyang in EPSG:5186


def buildings_grid(n: int, seed: int = 1) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(n)))
    i = np.arange(n)
    x = X0 + (i % side) * 30.0
    y = Y0 + (i // side) * 30.0
    w = rng.uniform(8, 20, n)
    geoms = shapely.box(x, y, x + w, y + w)
    return gpd.GeoDataFrame(
        {
            "BLD_ID": [f"b{k:06d}" for k in i],
            "HGT": np.round(rng.uniform(5, 90, n), 1),
            "FLOORS": rng.integers(1, 30, n),
        },
        geometry=geoms,
        crs=METRIC_CRS,
    )


def devices_in(buildings: gpd.GeoDataFrame, n: int, seed: int = 2) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    picked = buildings.geometry.iloc[rng.integers(0, len(buildings), n)].centroid.to_numpy()
    jitter = rng.uniform(-12, 12, (n, 2))
    points = [Point(p.x + dx, p.y + dy) for p, (dx, dy) in zip(picked, jitter, strict=True)]
    return gpd.GeoDataFrame({"device_id": [f"d{k:05d}" for k in range(n)]}, geometry=points, crs=METRIC_CRS)


def bench_join(buildings: gpd.GeoDataFrame, devices: gpd.GeoDataFrame) -> tuple[float, float]:
    frame = buildings.rename(columns={"BLD_ID": "building_id"})
    began = time.perf_counter()
    device_to_building(devices, frame)
    fast = time.perf_counter() - began
    sample = devices.head(20)
    polygons = list(frame.geometry)
    began = time.perf_counter()
    for point in sample.geometry:
        for polygon in polygons:
            if polygon.contains(point):
                break
    naive = (time.perf_counter() - began) * len(devices) / len(sample)
    return fast, naive


def bench_import(settings_dsn: str, buildings: gpd.GeoDataFrame, folder: Path) -> tuple[float, float]:
    path = folder / "buildings.shp"
    write_any(buildings, path)
    began = time.perf_counter()
    raw = read_any(path)
    report_ = importer.Report(str(path), "buildings", encoding=raw.encoding)
    frame = importer.prepare(
        raw.frame, "buildings", report_, mapping={"building_id": "BLD_ID", "height_m": "HGT", "floors": "FLOORS"}
    )
    assert report_.ok, report_.lines()
    with psycopg.connect(settings_dsn) as conn:
        store.save_layer(conn, "bench", "buildings", frame, name="bench")
    fast = time.perf_counter() - began
    sample = frame.head(2000)
    began = time.perf_counter()
    with psycopg.connect(settings_dsn) as conn, conn.cursor() as cur:
        for row in sample.itertuples(index=False):
            cur.execute(
                "INSERT INTO buildings (building_id, district, height_m, floors, synthetic, geom) "
                "VALUES (%s, 'bench', %s, %s, false, ST_GeomFromWKB(%s, 5186))",
                (f"naive-{row.building_id}", float(row.height_m), int(row.floors), shapely.to_wkb(row.geometry)),
            )
        conn.rollback()  # the naive rows are only timed, not kept
    naive = (time.perf_counter() - began) * len(frame) / len(sample)
    return fast, naive


def bench_state(n_buildings: int = 10_000, n_stations: int = 1000) -> tuple[float, float]:
    rng = np.random.default_rng(3)
    buildings = buildings_grid(n_buildings, seed=4).rename(columns={"BLD_ID": "building_id"})
    buildings["pnu"] = [f"P{k // 3}" for k in range(n_buildings)]
    sites = pd.DataFrame({"device_id": [f"m{k}" for k in range(n_buildings)], "building_id": buildings["building_id"]})
    now = pd.Timestamp.now(tz="UTC")
    latest = pd.DataFrame(
        {"device_id": np.repeat(sites["device_id"].to_numpy(), 2), "metric": ["power_kw", "energy_kwh"] * n_buildings,
         "value": rng.uniform(1, 100, 2 * n_buildings), "time": now}
    )  # fmt: skip
    anomalies = latest.sample(200, random_state=1)[["device_id", "metric"]]
    forecasts = latest[["device_id", "metric"]].assign(yhat=1.0)
    stations = devices_in(buildings, n_stations)
    pm = pd.Series(rng.uniform(5, 80, n_stations), index=stations.index)
    began = time.perf_counter()
    building_state(buildings, sites, latest, anomalies, forecasts)
    idw(buildings, stations, pm)
    fast = time.perf_counter() - began
    sample = buildings.head(100)
    began = time.perf_counter()
    station_xy = [(p.x, p.y) for p in stations.geometry]
    for row in sample.itertuples(index=False):
        mine = [d for d, b in zip(sites["device_id"], sites["building_id"], strict=True) if b == row.building_id]
        _ = latest[latest["device_id"].isin(mine)]
        c = row.geometry.centroid
        weights = [1 / max(1.0, np.hypot(c.x - x, c.y - y)) ** 2 for x, y in station_xy]
        _ = sum(w * v for w, v in zip(weights, pm, strict=True)) / sum(weights)
    naive = (time.perf_counter() - began) * n_buildings / len(sample)
    return fast, naive


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--buildings", type=int, default=100_000)
    args = parser.parse_args()
    buildings = buildings_grid(args.buildings)
    devices = devices_in(buildings, 10_000)
    join_s, join_naive_s = bench_join(buildings, devices)
    state_s, state_naive_s = bench_state()
    with private_stack("bench-twin-stack") as settings, tempfile.TemporaryDirectory() as folder:
        import_s, import_naive_s = bench_import(settings.database_dsn(), buildings, Path(folder))
    figures = {
        "join_100k_s": round(join_s, 3),
        "join_naive_100k_s": round(join_naive_s, 1),
        "join_speedup": round(join_naive_s / join_s, 1),
        "import_100k_s": round(import_s, 2),
        "import_naive_100k_s": round(import_naive_s, 1),
        "import_speedup": round(import_naive_s / import_s, 1),
        "state_10k_s": round(state_s, 3),
        "state_naive_10k_s": round(state_naive_s, 1),
        "state_speedup": round(state_naive_s / state_s, 1),
        "buildings": args.buildings,
    }
    report(figures, as_json=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
