"""A second district from real OpenStreetMap footprints: Yeoksam, Gangnam, Seoul.

Buildings, roads and dong boundaries are OSM's (ODbL, © OpenStreetMap contributors).
About half the heights are the preparer's fill-ins (15 m and 32 m where OSM had neither
height nor levels): those buildings are marked ``height_filled``. There is no parcel
layer and no facility layer here; device sites go on buildings and streets.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
from shapely.ops import unary_union

from twin import importer
from twin.crs import METRIC_CRS
from twin.district import District, place_devices
from twin.files import read_any
from twin.synthetic import Layers

DISTRICT_ID = "yeoksam"
FILLED_HEIGHTS_M = (15.0, 32.0)


def build(folder: Path, *, n_devices: int, seed: int = 11) -> tuple[District, list[importer.Report]]:
    """The Yeoksam district from ``buildings.geojson``, ``roads.geojson`` and ``dongs.geojson``."""
    reports = []
    frames = {}
    for name, layer, options in (
        ("dongs", "areas", {"mapping": {"area_id": "id", "name": "name", "name_en": "nameEn"}}),
        ("buildings", "buildings", {"mapping": {"building_id": "id", "name": "label", "use": "kind"},
                                    "filled_heights_m": FILLED_HEIGHTS_M}),
        ("roads", "ways", {"mapping": {"way_id": "id", "name": "name", "width_m": "width"}, "way_kind": "street"}),
    ):  # fmt: skip
        path = folder / f"{name}.geojson"
        raw = read_any(path)
        report = importer.Report(str(path), layer, encoding=raw.encoding)
        frames[name] = importer.prepare(raw.frame, layer, report, **options)
        reports.append(report)
    dongs = frames["dongs"]
    buildings = frames["buildings"]
    empty_parcels = gpd.GeoDataFrame({"pnu": [], "land_category": []}, geometry=[], crs=METRIC_CRS)
    layers = Layers(empty_parcels, buildings, frames["roads"])
    sites = place_devices(
        layers, gpd.GeoDataFrame(geometry=[], crs=METRIC_CRS), n_devices=n_devices, seed=seed, id_prefix="ys-"
    )
    area = unary_union(dongs.geometry.to_list())
    district = District(
        district=DISTRICT_ID,
        name="서울 강남구 역삼동 일대",
        name_en="Yeoksam, Gangnam, Seoul",
        center=area.centroid,
        dongs=dongs,
        buildings=buildings,
        sites=sites,
        attribution="Buildings, roads, dongs: © OpenStreetMap contributors (ODbL 1.0); heights of 15 m and 32 m "
        "are fill-ins where OSM had none.",
        ways=frames["roads"],
    )
    return district, reports
