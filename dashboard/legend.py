"""The map's legend: one entry for every colour the map is drawing, in Korean and English."""

from __future__ import annotations

from collections.abc import Sequence

from dash import html

from dashboard import mapspec
from dashboard.colors import BUILDING_COLORS, ramp
from dashboard.controls import aria

__all__ = ["entries", "panel"]

Entry = tuple[str, list[int], str]  # (label, rgb, shape: "box", "line" or "column")

_USES = {
    "commercial": "상업 · commercial",
    "apartment": "아파트 · apartment",
    "residential": "주거 · residential",
    "public": "공공 · public",
    "school": "학교 · school",
}


def entries(colour_by: str = "use", shown: Sequence[str] = ("buildings", "sensors", "ways")) -> list[Entry]:
    """What each colour on the map means, for the layers ``shown`` and the buildings coloured by
    ``colour_by`` (use, anomaly or exposure)."""
    found: list[Entry] = []
    if "buildings" in shown:
        if colour_by == "anomaly":
            found += [("이상 발생 건물 · building with an open anomaly", [235, 70, 60], "box"),
                      ("그 밖의 건물 · other buildings", [90, 100, 115], "box")]  # fmt: skip
        elif colour_by == "exposure":
            found += [("PM2.5 낮음 · low exposure", ramp(0.0)[:3], "box"),
                      ("PM2.5 보통 · moderate", ramp(0.5)[:3], "box"),
                      ("PM2.5 높음 · high (75 µg/m³+)", ramp(1.0)[:3], "box"),
                      ("자료 없음 · no data", ramp(float("nan"))[:3], "box")]  # fmt: skip
        else:
            found += [(label, BUILDING_COLORS[use], "box") for use, label in _USES.items()]
    if "sensors" in shown:
        found += [("센서 낮음 · sensor, low reading", ramp(0.0)[:3], "column"),
                  ("센서 보통 · sensor, middling", ramp(0.5)[:3], "column"),
                  ("센서 높음 · sensor, high reading", ramp(1.0)[:3], "column")]  # fmt: skip
    if "ways" in shown:
        found += [("하천 · stream", mapspec.STREAM_COLOR[:3], "line"),
                  ("대로 · main road", mapspec.MAIN_ROAD_COLOR[:3], "line"),
                  ("도로 · street", mapspec.STREET_COLOR[:3], "line")]  # fmt: skip
    if "parcels" in shown:
        found.append(("필지 · parcel", mapspec.PARCEL_LINE_COLOR[:3], "line"))
    found.append(("행정동 경계 · dong boundary", mapspec.AREA_LINE_COLOR[:3], "line"))
    return found


def panel(items: Sequence[Entry], *, element_id: str, title: str = "범례 · legend") -> html.Div:
    """The legend as a small list over the map (the swatches are decoration: the words say it)."""
    rows = [
        html.Li(
            [
                html.Span(
                    className=f"sc-swatch sc-swatch-{shape}",
                    style={"background": f"rgb({rgb[0]}, {rgb[1]}, {rgb[2]})"},
                    **aria(hidden="true"),
                ),
                html.Span(label),
            ]
        )
        for label, rgb, shape in items
    ]
    return html.Div([html.P(title, className="sc-legend-title"), html.Ul(rows)], id=element_id, className="sc-legend")
