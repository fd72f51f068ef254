"""Synthetic parcels, buildings, streets and a stream inside real boundaries: pure, seeded.

No real cadastral or footprint layer of Goyang is available here, so the default
district is generated on a street grid around the Smart City Center, inside the real
dong boundaries. Every generated feature has ``synthetic = True`` and a city replaces
them by importing its official layers. Parcel numbers follow the real PNU rules and
use the real legal-dong codes of Goyang, read from the real facility points' PNUs and
addresses (each generated parcel takes the legal dong of the nearest facility: the
codes and names are real, the assignment near dong borders is approximate).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely import LineString, Point, box
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from twin.pnu import Pnu

BLOCK_W_M = 140.0
BLOCK_H_M = 110.0
STREET_M = 20.0
STREAM_BUFFER_M = 30.0
_ADDRESS_GU_DONG = re.compile(r"(?P<gu>\S+구)\s+(?P<dong>\S+동)\s")


@dataclass(frozen=True)
class Layers:
    parcels: gpd.GeoDataFrame  # pnu, sigungu, legal_dong, lot, land_category, area_m2, address, synthetic
    buildings: gpd.GeoDataFrame  # building_id, name, use, height_m, floors, year_built, pnu, address, synthetic
    ways: gpd.GeoDataFrame  # way_id, kind (street|stream), name, width_m, synthetic


def legal_dongs(facilities: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Real legal dongs (code, sigungu, legal_dong) at the facility points that name one.

    The code is the first 10 digits of a facility's PNU; the names come from its lot
    address (``경기도 고양시 덕양구 토당동 120-5번지``). Only Goyang codes (4128...) are kept.
    """
    rows = []
    for _, fac in facilities.iterrows():
        pnu, address = str(fac.get("pnu") or ""), str(fac.get("address") or "")
        match = _ADDRESS_GU_DONG.search(address)
        if pnu.startswith("4128") and len(pnu) == 19 and match:
            rows.append(
                {"code": pnu[:10], "sigungu": match["gu"], "legal_dong": match["dong"], "geometry": fac.geometry}
            )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=facilities.crs)


def stream_line(center: Point, radius_m: float) -> LineString:
    """A stream meandering west to east some 400 m south of the center."""
    xs = np.linspace(center.x - radius_m * 1.1, center.x + radius_m * 1.1, 80)
    ys = center.y - 400 + 90 * np.sin((xs - center.x) / 260.0)
    return LineString(np.column_stack([xs, ys]))


def generate(
    dongs: gpd.GeoDataFrame,
    dongs_at_points: gpd.GeoDataFrame,
    center: Point,
    *,
    radius_m: float = 1500.0,
    seed: int = 7,
) -> Layers:
    """Parcels, buildings, streets and a stream around ``center`` (the dongs' metric CRS).

    Each block of the grid is cut into lots (parcels); most lots carry one building,
    some are open ground, parks or parking; lots on the stream corridor stay empty.
    Heights and uses follow distance from the center: towers in the core, apartment
    blocks around it, low-rise beyond.
    """
    rng = np.random.default_rng(seed)
    area = unary_union(dongs.geometry.to_list())
    stream = stream_line(center, radius_m)
    corridor = stream.buffer(STREAM_BUFFER_M)
    pitch_x, pitch_y = BLOCK_W_M + STREET_M, BLOCK_H_M + STREET_M
    n_x, n_y = int(radius_m // pitch_x), int(radius_m // pitch_y)
    dong_points = dongs_at_points.reset_index(drop=True)
    next_main: dict[str, int] = {}
    parcels: list[dict[str, object]] = []
    buildings: list[dict[str, object]] = []
    for ix in range(-n_x, n_x + 1):
        for iy in range(-n_y, n_y + 1):
            distance_m = float(np.hypot(ix * pitch_x, iy * pitch_y))
            if distance_m > radius_m:
                continue
            x0 = center.x + ix * pitch_x - BLOCK_W_M / 2
            y0 = center.y + iy * pitch_y - BLOCK_H_M / 2
            block = box(x0, y0, x0 + BLOCK_W_M, y0 + BLOCK_H_M)
            if not area.contains(block.centroid):
                continue
            dong = _nearest_dong(dong_points, block.centroid)
            main = next_main.get(dong["code"], 1001)
            next_main[dong["code"]] = main + 1
            if ix == 0 and iy == 0:
                lots = [(block, "center")]
                use_per_side = None
            else:
                use, per_side = _zone(distance_m, rng)
                use_per_side = (use, per_side)
                cell_w, cell_h = BLOCK_W_M / per_side, BLOCK_H_M / 2
                lots = [
                    (box(x0 + cx * cell_w, y0 + cy * cell_h, x0 + (cx + 1) * cell_w, y0 + (cy + 1) * cell_h), use)
                    for cx in range(per_side)
                    for cy in range(2)
                ]
            for sub, (lot, use) in enumerate(lots, start=1):
                pnu = Pnu(dong["code"], False, main, sub if len(lots) > 1 else 0)
                address = f"{dong['sigungu']} {dong['legal_dong']} {pnu.lot}"
                on_stream = lot.intersects(corridor)
                draw = rng.random()
                category = "하천" if on_stream else ("공원" if draw < 0.06 else "주차장" if draw < 0.12 else "대")
                parcels.append(
                    {
                        "pnu": str(pnu), "sigungu": dong["sigungu"], "legal_dong": dong["legal_dong"],
                        "lot": pnu.lot, "land_category": category, "area_m2": round(lot.area, 1),
                        "address": address, "geometry": lot,
                    }
                )  # fmt: skip
                if category != "대":
                    continue
                if use == "center":
                    buildings.append(_center_building(lot, str(pnu), address))
                    continue
                assert use_per_side is not None
                margin = rng.uniform(4, 12)
                minx, miny, maxx, maxy = lot.bounds
                footprint = box(
                    minx + margin,
                    miny + margin,
                    maxx - margin * rng.uniform(0.6, 1.0),
                    maxy - margin * rng.uniform(0.6, 1.0),
                )
                height_m = _height(use, distance_m, rng)
                buildings.append(
                    {
                        "name": None, "use": use, "height_m": round(height_m, 1),
                        "floors": max(1, int(height_m // 3.2)), "year_built": int(rng.integers(1988, 2024)),
                        "pnu": str(pnu), "address": address, "geometry": footprint,
                    }
                )  # fmt: skip
    crs = dongs.crs
    parcel_frame = gpd.GeoDataFrame(parcels, geometry="geometry", crs=crs).assign(synthetic=True)
    building_frame = gpd.GeoDataFrame(buildings, geometry="geometry", crs=crs)
    building_frame.insert(0, "building_id", [f"gy-b{i:05d}" for i in range(len(building_frame))])
    building_frame["synthetic"] = True
    return Layers(parcel_frame, building_frame, _ways(area, center, radius_m, stream, crs))


def _nearest_dong(points: gpd.GeoDataFrame, where: Point) -> pd.Series:
    distances = points.geometry.distance(where)
    row: pd.Series = points.iloc[int(distances.to_numpy().argmin())]
    return row


def _ways(area: BaseGeometry, center: Point, radius_m: float, stream: LineString, crs: object) -> gpd.GeoDataFrame:
    """Street centrelines between the blocks, and the stream, clipped to the district."""
    pitch_x, pitch_y = BLOCK_W_M + STREET_M, BLOCK_H_M + STREET_M
    disc = center.buffer(radius_m + pitch_x).intersection(area)
    rows: list[dict[str, object]] = []
    n_x, n_y = int(radius_m // pitch_x) + 1, int(radius_m // pitch_y) + 1
    for i in range(-n_x, n_x):
        x = center.x + (i + 0.5) * pitch_x
        line = LineString([(x, center.y - radius_m - pitch_y), (x, center.y + radius_m + pitch_y)])
        rows.extend(_street(line.intersection(disc), f"성사로{i + n_x + 1}길", "ns", i))
    for j in range(-n_y, n_y):
        y = center.y + (j + 0.5) * pitch_y
        line = LineString([(center.x - radius_m - pitch_x, y), (center.x + radius_m + pitch_x, y)])
        rows.extend(_street(line.intersection(disc), f"원당로{j + n_y + 1}번길", "ew", j))
    clipped = stream.intersection(area)
    for k, part in enumerate(getattr(clipped, "geoms", [clipped])):
        if isinstance(part, LineString) and part.length > 50:
            rows.append({"way_id": f"stream-{k + 1}", "kind": "stream", "name": "성사천 (synthetic)", "width_m": 12.0,
                         "geometry": part})  # fmt: skip
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=crs).assign(synthetic=True)


def _street(geometry: BaseGeometry, name: str, axis: str, index: int) -> list[dict[str, object]]:
    parts = [g for g in getattr(geometry, "geoms", [geometry]) if isinstance(g, LineString) and g.length > 50]
    return [
        {"way_id": f"street-{axis}{index:+03d}-{k}", "kind": "street", "name": name, "width_m": STREET_M, "geometry": g}
        for k, g in enumerate(parts)
    ]


def _center_building(lot: BaseGeometry, pnu: str, address: str) -> dict[str, object]:
    minx, miny, maxx, maxy = lot.bounds
    return {
        "name": "고양 스마트시티센터 Smart City Center",
        "use": "public",
        "height_m": 42.0,
        "floors": 10,
        "year_built": 2021,
        "pnu": pnu,
        "address": address,
        "geometry": box(minx + 25, miny + 20, maxx - 25, maxy - 20),
    }


def _zone(distance_m: float, rng: np.random.Generator) -> tuple[str, int]:
    if distance_m < 450:
        return ("commercial", 2)
    if distance_m < 1000:
        return ("apartment", 2) if rng.random() < 0.75 else ("school" if rng.random() < 0.3 else "public", 1)
    return ("residential", 4)


def _height(use: str, distance_m: float, rng: np.random.Generator) -> float:
    if use == "commercial":
        return float(rng.uniform(25, 95) * (1.2 - distance_m / 1500))
    if use == "apartment":
        return float(rng.choice([45.0, 60.0, 75.0]) + rng.uniform(-3, 3))
    if use in ("school", "public"):
        return float(rng.uniform(12, 22))
    return float(rng.uniform(6, 14))
