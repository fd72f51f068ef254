"""The default district: Goyang around the Smart City Center in Seongsa-dong.

Pure functions over GeoDataFrames in the metric CRS (EPSG:5186). The dong boundaries
and facility points are real (see ``data/ATTRIBUTION.md``); buildings are generated,
deterministically from a seed, inside the real boundaries and marked ``synthetic``.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely import box
from shapely.geometry import Point
from shapely.ops import unary_union

from twin.crs import METRIC_CRS

DISTRICT_ID = "goyang"
CENTER_DONG_CODES = ("3110154", "3110155")  # Seongsa 1-dong and 2-dong
GOYANG_CODE_PREFIX = "31"
BLOCK_W_M = 140.0
BLOCK_H_M = 110.0
STREET_M = 20.0

# (kind, share of the fleet); footfall is the one counter at the Smart City Center.
FLEET_MIX = (
    ("energy", 0.25),
    ("air", 0.15),
    ("traffic", 0.15),
    ("light", 0.15),
    ("noise", 0.1),
    ("parking", 0.1),
    ("water", 0.05),
)


@dataclass(frozen=True)
class District:
    district: str
    name: str
    name_en: str
    center: Point  # metric CRS
    dongs: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    sites: gpd.GeoDataFrame
    attribution: str
    problems: tuple[str, ...] = ()


def center_of(dongs: gpd.GeoDataFrame) -> Point:
    """Centroid of Seongsa 1-dong and 2-dong, in the dongs' CRS."""
    core = dongs[dongs["code"].astype(str).isin(CENTER_DONG_CODES)]
    if core.empty:
        raise ValueError(f"dong layer lacks Seongsa-dong (codes {', '.join(CENTER_DONG_CODES)})")
    return unary_union(core.geometry.to_list()).centroid


def misplaced_facilities(facilities: gpd.GeoDataFrame, dongs: gpd.GeoDataFrame) -> list[str]:
    """One sentence per facility that lies outside every dong or whose PNU is not Goyang's.

    Goyang's legal-dong codes (the first 5 digits of a PNU) begin with 4128.
    """
    area = unary_union(dongs.geometry.to_list())
    problems = []
    for _, row in facilities.iterrows():
        pnu = str(row.get("pnu") or "")
        outside = not area.contains(row.geometry)
        if outside or not pnu.startswith("4128"):
            lon_lat = gpd.GeoSeries([row.geometry], crs=facilities.crs).to_crs("EPSG:4326").iloc[0]
            problems.append(
                f"facility {row['id']} ({row.get('name', '')}) at {lon_lat.y:.3f} N {lon_lat.x:.3f} E "
                f"with PNU {pnu or 'missing'} lies outside Goyang's dongs"
                + ("" if pnu.startswith("4128") else " and its PNU is not a Goyang parcel code (4128...)")
            )
    return problems


def generate_buildings(
    dongs: gpd.GeoDataFrame, center: Point, *, radius_m: float = 1500.0, seed: int = 7
) -> gpd.GeoDataFrame:
    """Synthetic building footprints on a street grid around ``center``, inside the dongs.

    Heights and uses follow distance from the center: towers in the core, apartment
    blocks around it, low-rise beyond. Returns columns building_id, name, use,
    height_m, floors, synthetic, geometry (the dongs' metric CRS).
    """
    rng = np.random.default_rng(seed)
    area = unary_union(dongs.geometry.to_list())
    rows: list[dict[str, object]] = []
    pitch_x = BLOCK_W_M + STREET_M
    pitch_y = BLOCK_H_M + STREET_M
    n_x = int(radius_m // pitch_x)
    n_y = int(radius_m // pitch_y)
    for ix in range(-n_x, n_x + 1):
        for iy in range(-n_y, n_y + 1):
            x0 = center.x + ix * pitch_x - BLOCK_W_M / 2
            y0 = center.y + iy * pitch_y - BLOCK_H_M / 2
            distance_m = float(np.hypot(ix * pitch_x, iy * pitch_y))
            if distance_m > radius_m:
                continue
            if ix == 0 and iy == 0:
                rows.append(_center_building(x0, y0))
                continue
            use, per_side = _zone(distance_m, rng)
            cell_w = BLOCK_W_M / per_side
            cell_h = BLOCK_H_M / 2
            for cx in range(per_side):
                for cy in range(2):
                    if rng.random() < 0.12:
                        continue  # an open lot or a park
                    margin = rng.uniform(4, 12)
                    footprint = box(
                        x0 + cx * cell_w + margin,
                        y0 + cy * cell_h + margin,
                        x0 + (cx + 1) * cell_w - margin * rng.uniform(0.6, 1.0),
                        y0 + (cy + 1) * cell_h - margin * rng.uniform(0.6, 1.0),
                    )
                    if not area.contains(footprint.centroid):
                        continue
                    height_m = _height(use, distance_m, rng)
                    rows.append(
                        {
                            "name": None,
                            "use": use,
                            "height_m": round(height_m, 1),
                            "floors": max(1, int(height_m // 3.2)),
                            "geometry": footprint,
                        }
                    )
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs=dongs.crs)
    frame.insert(0, "building_id", [f"gy-b{i:05d}" for i in range(len(frame))])
    frame["synthetic"] = True
    return frame


def _center_building(x0: float, y0: float) -> dict[str, object]:
    return {
        "name": "고양 스마트시티센터 Smart City Center",
        "use": "public",
        "height_m": 42.0,
        "floors": 10,
        "geometry": box(x0 + 25, y0 + 20, x0 + BLOCK_W_M - 25, y0 + BLOCK_H_M - 20),
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


def place_devices(
    buildings: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame, *, n_devices: int, seed: int = 11
) -> gpd.GeoDataFrame:
    """Device sites for a fleet of ``n_devices``: meters in buildings, street devices on kerbs.

    Air-quality and noise stations take the real facility points first (pole-mounted
    CCTV and voice-alert sites), then kerbside points. Returns device_id, kind, name,
    building_id, pnu, geometry (metric CRS).
    """
    rng = np.random.default_rng(seed)
    counts = _fleet_counts(n_devices)
    order = rng.permutation(len(buildings))
    taken = 0
    facility_rows = facilities.reset_index(drop=True)
    next_facility = 0
    rows: list[dict[str, object]] = []
    center_building = buildings[buildings["name"].notna()].head(1)
    if n_devices >= 1 and not center_building.empty:
        row = center_building.iloc[0]
        rows.append(_site("footfall-0001", "footfall", row.geometry.centroid, row["building_id"], name=row["name"]))
    for kind, count in counts:
        for i in range(count):
            device_id = f"{kind}-{i + 1:04d}"
            building = buildings.iloc[order[taken % len(order)]]
            taken += 1
            if kind in ("energy", "parking"):
                rows.append(_site(device_id, kind, building.geometry.centroid, building["building_id"]))
            elif kind in ("air", "noise") and next_facility < len(facility_rows):
                fac = facility_rows.iloc[next_facility]
                next_facility += 1
                rows.append(_site(device_id, kind, fac.geometry, None, name=fac.get("name"), pnu=fac.get("pnu")))
            else:
                # kerbside: just outside the footprint, towards the street
                _, miny, maxx, maxy = building.geometry.bounds
                point = Point(maxx + rng.uniform(3, 8), (miny + maxy) / 2 + rng.uniform(-10, 10))
                rows.append(_site(device_id, kind, point, None))
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=buildings.crs)


def _fleet_counts(n_devices: int) -> list[tuple[str, int]]:
    remaining = max(0, n_devices - 1)  # one footfall counter
    counts = [(kind, int(np.floor(share * remaining))) for kind, share in FLEET_MIX]
    short = remaining - sum(c for _, c in counts)
    counts[0] = (counts[0][0], counts[0][1] + short)
    return counts


def _site(
    device_id: str, kind: str, point: Point, building_id: object, *, name: object = None, pnu: object = None
) -> dict[str, object]:
    return {
        "device_id": device_id,
        "kind": kind,
        "name": name,
        "building_id": building_id,
        "pnu": pnu,
        "geometry": point,
    }


def build_district(dongs: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame, *, n_devices: int, seed: int = 7) -> District:
    """The default district from the real dong and facility layers (any CRS)."""
    dongs_m = dongs.to_crs(METRIC_CRS)
    facilities_m = facilities.to_crs(METRIC_CRS)
    problems = misplaced_facilities(facilities_m, dongs_m)
    area = unary_union(dongs_m.geometry.to_list())
    inside = facilities_m[facilities_m.geometry.within(area)]
    center = center_of(dongs_m)
    # Facilities nearest the center first: those are the ones the fleet uses.
    inside = inside.assign(_d=inside.geometry.distance(center)).sort_values("_d").drop(columns="_d")
    buildings = generate_buildings(dongs_m, center, seed=seed)
    sites = place_devices(buildings, inside, n_devices=n_devices, seed=seed + 4)
    return District(
        district=DISTRICT_ID,
        name="고양시 성사동 일대",
        name_en="Goyang, around Seongsa-dong",
        center=center,
        dongs=dongs_m,
        buildings=buildings,
        sites=pd.concat([sites], ignore_index=True).pipe(gpd.GeoDataFrame, geometry="geometry", crs=METRIC_CRS),
        attribution="Boundaries: KOSTAT 2018 (KOGL Type 1). Facilities: Goyang Special City. Buildings: synthetic.",
        problems=tuple(problems),
    )
