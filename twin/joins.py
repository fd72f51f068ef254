"""Spatial joins of the twin: pure functions over GeoDataFrames in a metric CRS."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely

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


def _check_metric(*frames: gpd.GeoDataFrame) -> None:
    crs = frames[0].crs
    if crs is None or not crs.is_projected or any(f.crs != crs for f in frames):
        raise TwinError(f"join needs every layer in one metric CRS; got {[str(f.crs) for f in frames]}")


def device_to_parcel(sites: gpd.GeoDataFrame, parcels: gpd.GeoDataFrame) -> pd.Series:
    """The PNU of the parcel each device stands in (``None`` on roads or outside every parcel)."""
    _check_metric(sites, parcels)
    hit = gpd.sjoin(sites[["geometry"]], parcels[["pnu", "geometry"]], how="left", predicate="within")
    hit = hit[~hit.index.duplicated(keep="first")]["pnu"]
    result: pd.Series = hit.astype(object).where(hit.notna(), None)
    return result


def building_to_parcel(buildings: gpd.GeoDataFrame, parcels: gpd.GeoDataFrame) -> pd.Series:
    """The PNU of the parcel holding the largest part of each building's footprint."""
    _check_metric(buildings, parcels)
    pairs = gpd.sjoin(
        buildings[["geometry"]], parcels[["pnu", "geometry"]], how="inner", predicate="intersects"
    ).reset_index(names="_b")
    if pairs.empty:
        return pd.Series([None] * len(buildings), index=buildings.index, dtype=object)
    left = buildings.geometry.loc[pairs["_b"]].to_numpy()
    right = parcels.geometry.loc[pairs["index_right"]].to_numpy()
    pairs["_overlap_m2"] = shapely.area(shapely.intersection(left, right))
    best = pairs.sort_values("_overlap_m2", ascending=False).drop_duplicates("_b").set_index("_b")["pnu"]
    aligned = best.reindex(buildings.index).astype(object)
    result: pd.Series = aligned.where(aligned.notna(), None)
    return result
