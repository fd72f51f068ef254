"""deck.gl specifications (pydeck JSON) for the twin's map: pure functions of DataFrames.

The twin's own layers are the basemap: district boundary, building footprints extruded
by height, sensors as columns. No tiles, no map provider.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pydeck as pdk

from dashboard.colors import BUILDING_COLORS, PRIMARY_METRIC, ramp


def view_state(
    center_lon_deg: float, center_lat_deg: float, *, zoom: float = 14.2, pitch: float = 55.0, bearing: float = -20.0
) -> dict[str, Any]:
    return {
        "longitude": center_lon_deg,
        "latitude": center_lat_deg,
        "zoom": zoom,
        "pitch": pitch,
        "bearing": bearing,
        "maxPitch": 75,
    }


def boundary_layer(boundary: list[Any]) -> dict[str, Any]:
    polygons = [{"ring": poly[0]} for poly in boundary]
    return _spec(
        pdk.Layer(
            "PolygonLayer",
            id="boundary",
            data=polygons,
            get_polygon="ring",
            filled=True,
            stroked=True,
            get_fill_color=[22, 30, 44, 255],
            get_line_color=[90, 120, 160, 255],
            line_width_min_pixels=1,
        )
    )


def building_records(buildings: pd.DataFrame) -> list[dict[str, Any]]:
    """What the map needs of each building, once (the colours change, the rest does not)."""
    labels = [
        (n if isinstance(n, str) else b) + f" · {u} · {h:g} m"
        for n, b, u, h in zip(
            buildings["name"], buildings["building_id"], buildings["use"], buildings["height_m"], strict=True
        )
    ]
    return [
        {"building_id": b, "ring": r, "height_m": float(h), "use": str(u), "label": lab}
        for b, r, h, u, lab in zip(
            buildings["building_id"], buildings["ring"], buildings["height_m"], buildings["use"], labels, strict=True
        )
    ]


def building_layer(
    records: list[dict[str, Any]],
    *,
    colour_by: str = "use",
    in_anomaly: set[str] | frozenset[str] = frozenset(),
    exposure: dict[str, float] | None = None,
    exposure_high: float = 75.0,
) -> dict[str, Any]:
    """Buildings extruded by height, coloured by use, by open anomalies, or by an exposure value.

    Written as deck.gl JSON directly (not through pydeck): twenty thousand buildings would
    take pydeck's serialiser seconds.
    """
    data = []
    for record in records:
        if colour_by == "anomaly":
            color = [235, 70, 60, 245] if record["building_id"] in in_anomaly else [90, 100, 115, 220]
        elif colour_by == "exposure" and exposure is not None:
            color = ramp(exposure.get(record["building_id"], float("nan")) / exposure_high)
        else:
            color = [*BUILDING_COLORS.get(record["use"], [130, 130, 130]), 235]
        data.append({**record, "color": color})
    return {
        # no outlines: an extruded footprint does not draw them, but building them costs time
        "@@type": "PolygonLayer", "id": "buildings", "data": data, "getPolygon": "@@=ring", "extruded": True,
        "stroked": False,
        "getElevation": "@@=height_m", "getFillColor": "@@=color", "pickable": True, "autoHighlight": True,
        "material": {"ambient": 0.45, "diffuse": 0.6, "shininess": 24},
        "updateTriggers": {"getFillColor": [colour_by, len(in_anomaly)]},
    }  # fmt: skip


def ways_layer(ways: pd.DataFrame) -> dict[str, Any]:
    """Streets (grey) and streams (blue) as paths."""
    data = [
        {
            "path": p,
            "label": f"{n or w}",
            "color": [70, 150, 235, 255] if k == "stream" else [150, 160, 175, 200],
            "width": 12 if k == "stream" else 6,
        }
        for w, k, n, p in zip(ways["way_id"], ways["kind"], ways["name"], ways["path"], strict=True)
    ]
    return _spec(
        pdk.Layer(
            "PathLayer",
            id="ways",
            data=data,
            get_path="path",
            get_color="color",
            get_width="width",
            width_units="meters",
            width_min_pixels=1,
            pickable=True,
        )
    )


def parcels_layer(parcels: pd.DataFrame) -> dict[str, Any]:
    data = [
        {"ring": r, "label": f"{a} · {c} · PNU {p}"}
        for p, a, c, r in zip(
            parcels["pnu"], parcels["address"], parcels["land_category"], parcels["ring"], strict=True
        )
    ]
    return _spec(
        pdk.Layer(
            "PolygonLayer",
            id="parcels",
            data=data,
            get_polygon="ring",
            filled=False,
            stroked=True,
            get_line_color=[200, 200, 120, 140],
            line_width_min_pixels=1,
            pickable=True,
        )
    )


def sensor_frame(devices: pd.DataFrame) -> pd.DataFrame:
    """One row per device with its primary metric's latest value and a colour share (vectorised)."""
    columns = ["device_id", "kind", "position", "metric", "value", "color", "elevation", "label"]
    if devices.empty:
        return pd.DataFrame(columns=columns)
    places = devices.drop_duplicates("device_id").sort_values("device_id")[["device_id", "kind", "lon_deg", "lat_deg"]]
    primary = places["kind"].map(lambda k: PRIMARY_METRIC.get(str(k), ("", 1.0)))
    places = places.assign(metric=[p[0] for p in primary], high=[p[1] for p in primary])
    values = devices.dropna(subset=["metric"]).drop_duplicates(["device_id", "metric"])[
        ["device_id", "metric", "value"]
    ]
    frame = places.merge(values, on=["device_id", "metric"], how="left")
    share = frame["value"].astype(float) / frame["high"]
    frame["position"] = [[float(x), float(y)] for x, y in zip(frame["lon_deg"], frame["lat_deg"], strict=True)]
    frame["color"] = [ramp(float(v)) for v in share]
    frame["elevation"] = 30 + 220 * share.clip(0.0, 1.0).fillna(0.0)
    frame["label"] = [
        f"{d} · {m} = {v:g}" if pd.notna(v) else f"{d} · no data yet"
        for d, m, v in zip(frame["device_id"], frame["metric"], frame["value"], strict=True)
    ]
    frame["value"] = frame["value"].astype(object).where(frame["value"].notna(), None)
    return frame[columns]


def sensor_layer(devices: pd.DataFrame) -> dict[str, Any]:
    """Sensors as columns, height and colour by their primary metric (deck.gl JSON, written directly)."""
    frame = sensor_frame(devices)
    data = [
        {"device_id": d, "kind": k, "position": p, "color": c, "elevation": float(e), "label": lab}
        for d, k, p, c, e, lab in zip(frame["device_id"], frame["kind"], frame["position"], frame["color"],
                                      frame["elevation"], frame["label"], strict=True)
    ]  # fmt: skip
    return {
        "@@type": "ColumnLayer", "id": "sensors", "data": data, "getPosition": "@@=position",
        "getElevation": "@@=elevation", "getFillColor": "@@=color", "radius": 14, "diskResolution": 12,
        "extruded": True, "pickable": True,
    }  # fmt: skip


def _spec(layer: pdk.Layer) -> dict[str, Any]:
    """A pydeck layer as the JSON that createDeck reads (pydeck's own serialisation)."""
    spec: dict[str, Any] = json.loads(pdk.Deck(layers=[layer]).to_json())["layers"][0]
    return spec


def exposure_by_building(records: list[dict[str, Any]], devices: pd.DataFrame) -> dict[str, float]:
    """PM2.5 at each building: the twin's exposure model over the map's building outlines."""
    import geopandas as gpd
    from shapely.geometry import Point, Polygon

    from twin.crs import METRIC_CRS
    from twin.exposure import exposure

    air = devices[(devices["metric"] == "pm25_ugm3") & devices["value"].notna()]
    if air.empty or not records:
        return {}
    outlines = [Polygon(r["ring"]) for r in records]
    buildings = gpd.GeoDataFrame(geometry=outlines, crs="EPSG:4326").to_crs(METRIC_CRS)
    points = [Point(x, y) for x, y in zip(air["lon_deg"], air["lat_deg"], strict=True)]
    sites = gpd.GeoDataFrame({"device_id": air["device_id"].to_numpy()}, geometry=points, crs="EPSG:4326")
    found = exposure(buildings, sites.to_crs(METRIC_CRS), air[["device_id", "metric", "value"]], ("pm25_ugm3",))
    return {r["building_id"]: float(v) for r, v in zip(records, found["pm25_ugm3"], strict=True)}
