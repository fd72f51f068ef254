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
    """The district's outline. Not filled: the ground is the map's sky colour (``dashboard.sky``),
    which follows the city's clock, and a filled polygon would hide the streets drawn on it."""
    polygons = [{"path": poly[0]} for poly in boundary]
    return {
        "@@type": "PathLayer", "id": "boundary", "data": polygons, "getPath": "@@=path",
        "getColor": [90, 120, 160, 255], "getWidth": 6, "widthUnits": "meters", "widthMinPixels": 1,
    }  # fmt: skip


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


STREAM_COLOR = [70, 150, 235, 255]
MAIN_ROAD_COLOR = [215, 200, 150, 255]
STREET_COLOR = [150, 160, 175, 220]
AREA_LINE_COLOR = [110, 140, 215, 235]
PARCEL_LINE_COLOR = [200, 200, 120, 140]
MAIN_ROAD_WIDTH_M = 20.0  # a road this wide or wider is a main road (대로)


def way_style(kind: str, width_m: float | None) -> tuple[list[int], float, str]:
    """Colour, drawn width in metres and class (stream, main road, street) of a way."""
    width = float(width_m) if width_m is not None and pd.notna(width_m) and width_m > 0 else None
    if kind == "stream":
        return STREAM_COLOR, max(width or 12.0, 8.0), "stream"
    if width is not None and width >= MAIN_ROAD_WIDTH_M:
        return MAIN_ROAD_COLOR, width, "main_road"
    return STREET_COLOR, width or 8.0, "street"


def ways_layer(ways: pd.DataFrame) -> dict[str, Any]:
    """Streams (blue, water), main roads (sand) and streets (grey) as flat paths of their own
    width in metres (deck.gl JSON written directly: pydeck would turn the units into an accessor)."""
    widths = ways["width_m"] if "width_m" in ways.columns else [None] * len(ways)
    data = []
    for w, k, n, width_m, p in zip(ways["way_id"], ways["kind"], ways["name"], widths, ways["path"], strict=True):
        color, width, _ = way_style(str(k), width_m)
        data.append({"path": p, "label": f"{n or w}", "color": color, "width": width})
    return {
        "@@type": "PathLayer", "id": "ways", "data": data, "getPath": "@@=path", "getColor": "@@=color",
        "getWidth": "@@=width", "widthUnits": "meters", "widthMinPixels": 1, "capRounded": True,
        "jointRounded": True, "pickable": True,
    }  # fmt: skip


def area_layers(areas: pd.DataFrame, *, lang: str = "ko") -> list[dict[str, Any]]:
    """The dongs' outlines and their names in both languages (the first in ``lang``)."""
    if areas.empty:
        return []
    rings, labels = [], []
    for name, name_en, polygons, lon, lat in zip(
        areas["name"], areas["name_en"], areas["polygons"], areas["label_lon_deg"], areas["label_lat_deg"], strict=True
    ):
        both = [t for t in ((name, name_en) if lang != "en" else (name_en, name)) if isinstance(t, str) and t]
        text = "\n".join(dict.fromkeys(both))
        for polygon in polygons or []:
            rings.append({"path": polygon[0], "label": text.replace("\n", " · ")})
        if text and lon is not None and lat is not None:
            labels.append({"position": [float(lon), float(lat), 2.0], "text": text})
    outlines = {
        "@@type": "PathLayer", "id": "areas", "data": rings, "getPath": "@@=path", "getColor": AREA_LINE_COLOR,
        "getWidth": 8, "widthUnits": "meters", "widthMinPixels": 2, "pickable": False,
        "parameters": {"depthCompare": "always"},
    }  # fmt: skip
    names = {
        "@@type": "TextLayer", "id": "area-names", "data": labels, "getPosition": "@@=position",
        "getText": "@@=text", "getSize": 18, "sizeUnits": "pixels", "getColor": [235, 242, 255, 255],
        "outlineWidth": 3, "outlineColor": [10, 14, 24, 230], "fontSettings": {"sdf": True},
        "fontFamily": '"Noto Sans CJK KR", "Noto Sans KR", sans-serif', "fontWeight": 600,
        "characterSet": "auto", "billboard": True, "getTextAnchor": "middle", "getAlignmentBaseline": "center",
        "lineHeight": 1.15, "parameters": {"depthCompare": "always"},  # place names over the buildings
    }  # fmt: skip
    return [outlines, names]


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
            get_line_color=PARCEL_LINE_COLOR,
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


def sensor_layer(devices: pd.DataFrame, *, glow: float = 1.0) -> dict[str, Any]:
    """Sensors as columns, height and colour by their primary metric (deck.gl JSON, written directly).

    ``glow`` is how strongly a column answers the ambient light (``dashboard.sky.sensor_glow``):
    a sensor's colour is its reading and stays readable at night, when the buildings dim.
    """
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
        "material": {"ambient": round(glow, 3), "diffuse": 0.3, "shininess": 8, "specularColor": [40, 40, 40]},
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
