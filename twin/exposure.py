"""What each building is exposed to, and the state of buildings and parcels: pure functions.

Exposure is the inverse-distance-weighted mean of the nearby stations' latest values
(power 2, stations within ``radius_m``); a building inside a station's ``snap_m`` takes
that station's value. State joins each building's own sensors' latest values, open
anomalies and next-hour forecast, and rolls buildings up to parcels.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from twin.errors import TwinError


def idw(
    targets: gpd.GeoDataFrame,
    stations: gpd.GeoDataFrame,
    values: pd.Series,
    *,
    radius_m: float = 1500.0,
    power: float = 2.0,
    neighbours: int = 8,
    snap_m: float = 1.0,
) -> pd.Series:
    """Inverse-distance-weighted ``values`` (indexed like ``stations``) at each target's centroid.

    Targets with no station within ``radius_m`` get NaN. Both layers in one metric CRS.

    Raises:
        TwinError: the layers are not in one projected CRS.
    """
    if targets.crs is None or targets.crs != stations.crs or not targets.crs.is_projected:
        raise TwinError(f"exposure needs both layers in one metric CRS; got {targets.crs} and {stations.crs}")
    known = values.reindex(stations.index).notna().to_numpy()
    if not known.any() or targets.empty:
        return pd.Series(np.nan, index=targets.index)
    points = stations.geometry[known]
    xy = np.column_stack([points.x.to_numpy(), points.y.to_numpy()])
    v = values.reindex(stations.index).to_numpy(dtype=float)[known]
    centroids = targets.geometry.centroid
    txy = np.column_stack([centroids.x.to_numpy(), centroids.y.to_numpy()])
    k = min(neighbours, len(v))
    distance_m, index = cKDTree(xy).query(txy, k=k, distance_upper_bound=radius_m)
    distance_m, index = distance_m.reshape(len(txy), k), index.reshape(len(txy), k)
    valid = np.isfinite(distance_m)
    weights = np.where(valid, 1.0 / np.maximum(distance_m, snap_m) ** power, 0.0)
    picked = np.where(valid, v[np.minimum(index, len(v) - 1)], 0.0)
    total = weights.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        result = np.where(total > 0, (weights * picked).sum(axis=1) / total, np.nan)
    at_station = distance_m[:, 0] < snap_m  # k-d tree results are sorted by distance
    result = np.where(at_station, picked[:, 0], result)
    return pd.Series(result, index=targets.index)


def exposure(
    buildings: gpd.GeoDataFrame, sites: gpd.GeoDataFrame, latest: pd.DataFrame, metrics: tuple[str, ...]
) -> pd.DataFrame:
    """Each building's exposure to each metric (columns named after the metrics).

    ``latest`` has device_id, metric, value; ``sites`` device_id and geometry.
    """
    out = pd.DataFrame(index=buildings.index)
    for metric in metrics:
        rows = latest[latest["metric"] == metric].drop_duplicates("device_id").set_index("device_id")["value"]
        stations = sites[sites["device_id"].isin(rows.index)]
        values = pd.Series(rows.reindex(stations["device_id"]).to_numpy(), index=stations.index)
        out[metric] = idw(buildings, stations, values)
    return out


def building_state(
    buildings: pd.DataFrame, sites: pd.DataFrame, latest: pd.DataFrame, anomalies: pd.DataFrame,
    forecasts: pd.DataFrame | None = None,
) -> pd.DataFrame:  # fmt: skip
    """One row per (building, metric) of its own sensors: latest value, open anomalies, next-hour forecast.

    Args:
        buildings: building_id (and pnu, when known).
        sites: device_id, building_id.
        latest: device_id, metric, value, time.
        anomalies: device_id, metric (open episodes only).
        forecasts: device_id, metric, yhat (the next hour's), when analytics has them.

    Returns:
        building_id, pnu, device_id, metric, value, time, open_anomalies, forecast_next_h.
    """
    own = sites.dropna(subset=["building_id"])[["device_id", "building_id"]]
    state = own.merge(latest[["device_id", "metric", "value", "time"]], on="device_id", how="inner")
    if "pnu" in buildings.columns:
        state = state.merge(buildings[["building_id", "pnu"]], on="building_id", how="left")
    else:
        state["pnu"] = None
    counts = anomalies.groupby(["device_id", "metric"]).size().rename("open_anomalies").reset_index()
    state = state.merge(counts, on=["device_id", "metric"], how="left")
    state["open_anomalies"] = state["open_anomalies"].fillna(0).astype(int)
    if forecasts is not None and not forecasts.empty:
        next_h = forecasts.groupby(["device_id", "metric"])["yhat"].first().rename("forecast_next_h").reset_index()
        state = state.merge(next_h, on=["device_id", "metric"], how="left")
    else:
        state["forecast_next_h"] = np.nan
    columns = ["building_id", "pnu", "device_id", "metric", "value", "time", "open_anomalies", "forecast_next_h"]
    return state[columns].reset_index(drop=True)


def parcel_state(state: pd.DataFrame) -> pd.DataFrame:
    """Per parcel and metric: mean latest value over its buildings' sensors, devices, open anomalies."""
    known = state.dropna(subset=["pnu"])
    return (
        known.groupby(["pnu", "metric"])
        .agg(value=("value", "mean"), devices=("device_id", "nunique"), open_anomalies=("open_anomalies", "sum"))
        .reset_index()
    )
