"""Spatial joins of the twin: pure functions over GeoDataFrames in a metric CRS."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

from twin.errors import TwinError


def device_to_building(
    sites: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame, *, max_distance_m: float = 30.0
) -> pd.Series:
    """The building each device belongs to: the one containing it, else the nearest within
    ``max_distance_m``, else missing.

    Args:
        sites: points with a ``device_id`` column.
        buildings: polygons with a ``building_id`` column, same metric CRS.

    Returns:
        building_id indexed like ``sites`` (``None`` where no building qualifies).

    Raises:
        TwinError: the layers are not in the same projected CRS.
    """
    if sites.crs is None or sites.crs != buildings.crs or not sites.crs.is_projected:
        raise TwinError(f"join needs both layers in one metric CRS; got {sites.crs} and {buildings.crs}")
    left = sites[["geometry"]]
    right = buildings[["building_id", "geometry"]]
    inside = gpd.sjoin(left, right, how="left", predicate="within")
    inside = inside[~inside.index.duplicated(keep="first")]["building_id"]
    missing = inside[inside.isna()].index
    if len(missing):
        near = gpd.sjoin_nearest(left.loc[missing], right, how="left", max_distance=max_distance_m)
        near = near[~near.index.duplicated(keep="first")]["building_id"]
        inside.loc[near.index] = near
    result: pd.Series = inside.astype(object).where(inside.notna(), None)
    return result
