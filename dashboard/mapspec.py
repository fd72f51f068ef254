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


def base_layers(buildings: pd.DataFrame, boundary: list[Any]) -> list[dict[str, Any]]:
    """Boundary and buildings: the static part of the map."""
    polygons = [{"ring": poly[0]} for poly in boundary]
    frame = buildings.copy()
    frame["color"] = [[*BUILDING_COLORS.get(str(u), [130, 130, 130]), 235] for u in frame["use"]]
    frame["label"] = [
        (n if isinstance(n, str) else b) + f" · {u} · {h:g} m"
        for n, b, u, h in zip(frame["name"], frame["building_id"], frame["use"], frame["height_m"], strict=True)
    ]
    layers = [
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
        ),
        pdk.Layer(
            "PolygonLayer",
            id="buildings",
            data=frame[["building_id", "ring", "height_m", "color", "label"]],
            get_polygon="ring",
            extruded=True,
            get_elevation="height_m",
            get_fill_color="color",
            pickable=True,
            auto_highlight=True,
            material={"ambient": 0.45, "diffuse": 0.6, "shininess": 24},
        ),
    ]
    return [_spec(layer) for layer in layers]


def sensor_frame(devices: pd.DataFrame) -> pd.DataFrame:
    """One row per device with its primary metric's latest value and a colour share."""
    rows = []
    for device_id, group in devices.groupby("device_id", sort=True):
        first = group.iloc[0]
        metric, high = PRIMARY_METRIC.get(str(first["kind"]), ("", 1.0))
        match = group[group["metric"] == metric]
        value = float(match["value"].iloc[0]) if not match.empty and pd.notna(match["value"].iloc[0]) else None
        share = None if value is None else value / high
        rows.append(
            {
                "device_id": device_id,
                "kind": first["kind"],
                "position": [float(first["lon_deg"]), float(first["lat_deg"])],
                "metric": metric,
                "value": value,
                "color": ramp(share if share is not None else float("nan")),
                "elevation": 30 + 220 * min(1.0, max(0.0, share or 0.0)),
                "label": f"{device_id} · {metric} = {value:g}" if value is not None else f"{device_id} · no data yet",
            }
        )
    return pd.DataFrame(
        rows, columns=["device_id", "kind", "position", "metric", "value", "color", "elevation", "label"]
    )


def sensor_layer(devices: pd.DataFrame) -> dict[str, Any]:
    frame = sensor_frame(devices)
    layer = pdk.Layer(
        "ColumnLayer",
        id="sensors",
        data=frame,
        get_position="position",
        get_elevation="elevation",
        get_fill_color="color",
        radius=14,
        disk_resolution=12,
        extruded=True,
        pickable=True,
    )
    return _spec(layer)


def _spec(layer: pdk.Layer) -> dict[str, Any]:
    """A pydeck layer as the JSON that createDeck reads (pydeck's own serialisation)."""
    spec: dict[str, Any] = json.loads(pdk.Deck(layers=[layer]).to_json())["layers"][0]
    return spec


def deck_spec(view: dict[str, Any], layers: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "initialViewState": view,
        "views": [{"@@type": "MapView", "controller": True}],
        "layers": layers,
    }
