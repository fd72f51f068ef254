"""Reading the layers that ship with the twin."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd

from twin.errors import LayerError

DATA_DIR = Path(__file__).resolve().parent / "data"


def read_layer(path: Path) -> gpd.GeoDataFrame:
    """A vector layer as a GeoDataFrame.

    Raises:
        LayerError: the file is missing, unreadable, or has no CRS.
    """
    try:
        frame = gpd.read_file(path)
    except Exception as exc:  # pyogrio raises several unrelated types for unreadable files
        raise LayerError(f"cannot read layer {path}: {exc}") from exc
    if frame.crs is None:
        raise LayerError(f"layer {path} has no CRS; give one (e.g. EPSG:5186) or add a .prj")
    return frame


def default_layers() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Goyang's dong boundaries and facility points, as shipped."""
    return (
        read_layer(DATA_DIR / "goyang_dongs_kostat2018.geojson"),
        read_layer(DATA_DIR / "goyang_facilities_excerpt.geojson"),
    )
