"""The default district: Goyang around the Smart City Center in Seongsa-dong.

Pure functions over GeoDataFrames in the metric CRS (EPSG:5186). The dong boundaries
and facility points are real (see ``data/ATTRIBUTION.md``); parcels, buildings, streets
and the stream are generated (``synthetic``), deterministically, inside the real boundaries.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
from shapely.geometry import Point
from shapely.ops import unary_union

from twin import synthetic
from twin.crs import METRIC_CRS
from twin.joins import device_to_building, device_to_parcel
from twin.synthetic import Layers

DISTRICT_ID = "goyang"
CENTER_DONG_CODES = ("3110154", "3110155")  # Seongsa 1-dong and 2-dong

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
    parcels: gpd.GeoDataFrame | None = None
    ways: gpd.GeoDataFrame | None = None


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


def place_devices(
    layers: Layers, facilities: gpd.GeoDataFrame, *, n_devices: int, seed: int = 11, id_prefix: str = ""
) -> gpd.GeoDataFrame:
    """Device sites for a fleet of ``n_devices``, each where such a device stands in a city.

    Energy meters in buildings; parking counters on parking lots (else at buildings);
    air-quality and noise stations on the real facility poles (CCTV and voice-alert
    sites) first, then on streets; traffic counters and street lights on streets; water
    levels on the stream; the footfall counter at the Smart City Center. Returns
    device_id, kind, name, building_id, pnu, way_id, geometry (metric CRS); building_id
    and pnu come from the spatial joins.
    """
    rng = np.random.default_rng(seed)
    buildings, parcels, ways = layers.buildings, layers.parcels, layers.ways
    order = rng.permutation(len(buildings))
    streets = ways[ways["kind"] == "street"].reset_index(drop=True)
    streams = ways[ways["kind"] == "stream"].reset_index(drop=True)
    lots = parcels[parcels["land_category"] == "주차장"].reset_index(drop=True)
    facility_rows = facilities.reset_index(drop=True)
    taken = next_facility = 0
    rows: list[dict[str, object]] = []
    center_building = buildings[buildings["name"].notna()].head(1)
    if n_devices >= 1 and not center_building.empty:
        row = center_building.iloc[0]
        rows.append(_site(f"{id_prefix}footfall-0001", "footfall", row.geometry.centroid, name=row["name"]))
    for kind, count in _fleet_counts(n_devices):
        for i in range(count):
            device_id = f"{id_prefix}{kind}-{i + 1:04d}"
            if kind == "energy" or (kind == "parking" and i >= len(lots)):
                building = buildings.iloc[order[taken % len(order)]]
                taken += 1
                rows.append(_site(device_id, kind, building.geometry.centroid))
            elif kind == "parking":
                rows.append(_site(device_id, kind, lots.geometry.iloc[i].centroid))
            elif kind in ("air", "noise") and next_facility < len(facility_rows):
                fac = facility_rows.iloc[next_facility]
                next_facility += 1
                rows.append(_site(device_id, kind, fac.geometry, name=fac.get("name"), pnu=fac.get("pnu")))
            else:
                line_set = streams if kind == "water" and not streams.empty else streets
                way = line_set.iloc[int(rng.integers(len(line_set)))]
                point = way.geometry.interpolate(float(rng.uniform(0.1, 0.9)), normalized=True)
                rows.append(_site(device_id, kind, point, way_id=way["way_id"]))
    sites = gpd.GeoDataFrame(rows, geometry="geometry", crs=buildings.crs)
    if sites.empty:
        return sites
    sites["building_id"] = device_to_building(sites, buildings, max_distance_m=30.0)
    in_parcel = device_to_parcel(sites, parcels)
    sites["pnu"] = sites["pnu"].where(sites["pnu"].notna(), in_parcel)
    return sites


def _fleet_counts(n_devices: int) -> list[tuple[str, int]]:
    remaining = max(0, n_devices - 1)  # one footfall counter
    counts = [(kind, int(np.floor(share * remaining))) for kind, share in FLEET_MIX]
    short = remaining - sum(c for _, c in counts)
    counts[0] = (counts[0][0], counts[0][1] + short)
    return counts


def _site(
    device_id: str, kind: str, point: Point, *, name: object = None, pnu: object = None, way_id: object = None
) -> dict[str, object]:
    return {
        "device_id": device_id,
        "kind": kind,
        "name": name,
        "building_id": None,
        "pnu": pnu,
        "way_id": way_id,
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
    layers = synthetic.generate(dongs_m, synthetic.legal_dongs(inside), center, seed=seed)
    buildings = layers.buildings.assign(height_filled=False)
    layers = synthetic.Layers(layers.parcels, buildings, layers.ways)
    sites = place_devices(layers, inside, n_devices=n_devices, seed=seed + 4)
    return District(
        district=DISTRICT_ID,
        name="고양시 성사동 일대",
        name_en="Goyang, around Seongsa-dong",
        center=center,
        dongs=dongs_m,
        buildings=buildings,
        sites=sites,
        attribution=(
            "Boundaries: KOSTAT 2018 (KOGL Type 1). Facilities: Goyang Special City. "
            "Parcels, buildings, streets and stream: synthetic."
        ),
        problems=tuple(problems),
        parcels=layers.parcels,
        ways=layers.ways,
    )
