"""Operations (/): the 3D twin with live sensors, layers, a 24-hour replay, the building panel,
the anomaly feed and KPI tiles; a degraded-data banner when the database is away."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import dash
import pandas as pd
from dash import ALL, Input, Output, State, callback, clientside_callback, ctx, dcc, html
from flask import current_app

from dashboard import auth, controls, legend, mapspec, panels, queries, scenes, sky
from dashboard.app import DashboardConfig
from dashboard.colors import PRIMARY_METRIC
from dashboard.errors import DataUnavailable

dash.register_page(__name__, path="/", name="Operations", title="Operations · 운영")  # type: ignore[no-untyped-call]

LAYERS = [
    ("buildings", "buildings · 건물"),
    ("sensors", "sensors · 센서"),
    ("ways", "streets & streams · 도로·하천"),
    ("parcels", "parcels · 필지"),
]
COLOURS = [
    ("use", "use · 용도"),
    ("anomaly", "anomalies · 이상"),
    ("exposure", "PM2.5 exposure · 노출"),
]
REPLAY_HOURS = 24
controls.register_toggles("ops-layers", LAYERS, multiple=True)
controls.register_toggles("ops-colour", COLOURS, multiple=False)


def layout(**_: Any) -> html.Div:
    config: DashboardConfig = current_app.config["SMARTCITY"]
    return html.Div(
        [
            html.H1("운영 · Operations", className="sr-only"),
            html.Div(id="ops-banner", className="sc-banner", role="status"),
            html.Div(
                [
                    _kpi("ops-kpi-rate", "readings / min"),
                    _kpi("ops-kpi-devices", "devices reporting"),
                    _kpi("ops-kpi-anomalies", "open anomalies"),
                    _kpi("ops-kpi-newest", "newest reading (UTC)"),
                    html.Div(
                        [
                            controls.toggle_group(
                                "ops-layers", LAYERS, ["buildings", "sensors", "ways"], label="layers · 레이어"
                            ),
                            controls.toggle_group("ops-colour", COLOURS, ["use"], label="colour by · 색상"),
                        ],
                        className="sc-controls",
                    ),
                ],
                className="sc-kpis",
            ),
            html.Div(
                [
                    html.Div(
                        [
                            html.Div(id="ops-map", style={"position": "absolute", "inset": "0"}),
                            html.Div(legend.panel(legend.entries(), element_id="ops-legend"), id="ops-legend-box"),
                            html.Div(id="ops-attribution", className="sc-attribution"),
                            html.Div(id="ops-panel", className="sc-panel"),
                        ],
                        className="sc-map",
                    ),
                    html.Div(
                        [
                            html.H2("anomalies · 이상 징후"),
                            html.Div(id="ops-ack-note", role="status"),
                            html.Div(id="ops-feed"),
                            html.Div(id="ops-completeness"),
                            html.Div(id="ops-district-long"),
                            html.Div(id="ops-unplaced"),
                        ],
                        className="sc-feed",
                    ),
                ],
                className="sc-main",
            ),
            controls.hour_slider("ops-hour", hours_back=REPLAY_HOURS, label="replay · 지난 24시간"),
            dcc.Store(id="ops-still"),
            dcc.Store(id="ops-live"),
            dcc.Store(id="ops-picked"),
            dcc.Store(id="ops-acked"),
            dcc.Store(id="ops-feed-shown"),
            html.Div(id="ops-render-sink", style={"display": "none"}),
            dcc.Interval(id="ops-tick", interval=int(config.refresh_s * 1000), n_intervals=0),
            dcc.Interval(id="ops-slow", interval=60_000, n_intervals=0),  # completeness, long views
        ]
    )


def _kpi(component_id: str, label: str) -> html.Div:
    return html.Div([html.Div("–", id=component_id, className="v"), html.Div(label, className="k")], className="sc-kpi")


@callback(
    Output("ops-still", "data"),
    Output("ops-attribution", "children"),
    Input("ops-tick", "n_intervals"),
    Input("ops-layers", "data"),
    Input("ops-colour", "data"),
    State("ops-still", "modified_timestamp"),
)
def load_still(tick: int, shown: list[str], colours: list[str], loaded: int | None) -> tuple[Any, Any]:
    """The heavy layers: sent again only when the layers or colours asked for change (or,
    coloured by anomalies or exposure, once a minute or so)."""
    shown = shown or []
    colour = colours[0] if colours else "use"
    periodic = ctx.triggered_id == "ops-tick"
    if periodic and loaded and loaded > 0 and (colour == "use" or tick % 6):
        return dash.no_update, dash.no_update
    config: DashboardConfig = current_app.config["SMARTCITY"]
    try:
        found = scenes.base(config, scenes.cache_of(current_app.config))
        if found is None:
            return dash.no_update, "district not loaded yet"
        layers = [found["layers"][0]]
        if "parcels" in shown:
            layers.append(mapspec.parcels_layer(queries.parcels(config.dsn, config.district)))
        if "ways" in shown:
            layers.append(found["layers"][1])
        layers.extend(found["layers"][3:])  # the dongs' outlines and names, always
        if "buildings" in shown:
            if colour == "use":
                layers.append(found["layers"][2])
            else:
                in_anomaly = queries.buildings_in_anomaly(config.dsn, config.district) if colour == "anomaly" else set()
                exposure = None
                if colour == "exposure":
                    exposure = mapspec.exposure_by_building(
                        found["records"], queries.devices_latest(config.dsn, config.district)
                    )
                layers.append(
                    mapspec.building_layer(found["records"], colour_by=colour, in_anomaly=in_anomaly, exposure=exposure)
                )
    except DataUnavailable:
        return dash.no_update, dash.no_update
    return {"view": found["view"], "layers": layers}, found["attribution"]


@callback(Output("ops-legend-box", "children"), Input("ops-layers", "data"), Input("ops-colour", "data"))
def show_legend(shown: list[str] | None, colours: list[str] | None) -> Any:
    """A legend entry for every colour the map draws now."""
    colour = colours[0] if colours else "use"
    return legend.panel(legend.entries(colour, shown or []), element_id="ops-legend")


@callback(
    Output("ops-live", "data"),
    Output("ops-banner", "children"),
    Output("ops-banner", "className"),
    Output("ops-kpi-rate", "children"),
    Output("ops-kpi-devices", "children"),
    Output("ops-kpi-anomalies", "children"),
    Output("ops-kpi-newest", "children"),
    Output("ops-hour-text", "children"),
    Input("ops-tick", "n_intervals"),
    Input("ops-layers", "data"),
    Input("ops-hour", "value"),
)
def refresh(_: int, shown: list[str] | None, raw_hour: object) -> tuple[Any, ...]:
    config: DashboardConfig = current_app.config["SMARTCITY"]
    shown = shown or []
    hour = controls.hour_offset(raw_hour, hours_back=REPLAY_HOURS)
    hour_text = "now · 지금" if hour == 0 else f"{hour} h · {-hour}시간 전"
    try:
        devices = queries.devices_latest(config.dsn, config.district)
        kpi = queries.kpis(config.dsn)
        if hour:
            start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=hour)
            devices = _at_hour(devices, queries.hourly(config.dsn, config.district, start, start + timedelta(hours=1)))
    except DataUnavailable:
        banner = "Database unreachable: showing the last data received · 데이터베이스 연결 끊김"
        return (dash.no_update, banner, "sc-banner visible") + (dash.no_update,) * 4 + (hour_text,)
    look = scenes.sky_now(config)
    sensors = [mapspec.sensor_layer(devices, glow=sky.sensor_glow(look))] if "sensors" in shown else []
    live: dict[str, Any] = {"layers": sensors}
    if look is not None:
        live["sky"] = look
    reporting = devices.dropna(subset=["metric"])["device_id"].nunique()
    newest = kpi["newest"].strftime("%H:%M:%S") if kpi["newest"] else "–"
    return (
        live,
        "",
        "sc-banner",
        f"{kpi['readings_last_minute']:,}",
        f"{reporting:,}",
        str(kpi["open_anomalies"]),
        newest,
        hour_text,
    )


def _at_hour(devices: pd.DataFrame, hourly: pd.DataFrame) -> pd.DataFrame:
    """The devices with their values of one past hour instead of the latest."""
    places = devices.drop_duplicates("device_id")[["device_id", "kind", "lon_deg", "lat_deg", "building_id"]]
    values = hourly.rename(columns={"hour": "time"})[["device_id", "metric", "value", "time"]]
    return places.merge(values, on="device_id", how="left")


@callback(
    Output("ops-panel", "children"),
    Output("ops-panel", "className"),
    Input("ops-picked", "data"),
    prevent_initial_call=True,
)
def open_panel(picked: dict[str, Any] | None) -> tuple[Any, str]:
    if not picked or not picked.get("building_id"):
        return "", "sc-panel"
    config: DashboardConfig = current_app.config["SMARTCITY"]
    try:
        building = queries.building(config.dsn, config.district, str(picked["building_id"]))
        if building is None:
            return "", "sc-panel"
        sensors = queries.building_sensors(config.dsn, config.district, building["building_id"])
        ids = [str(d) for d in sensors["device_id"]]
        series = queries.series(config.dsn, ids)
        forecast = queries.forecasts(config.dsn, ids)
        anomalies = queries.device_anomalies(config.dsn, ids)
        pairs = [(d, PRIMARY_METRIC.get(str(k), ("", 1.0))[0]) for d, k in zip(ids, sensors["kind"], strict=True)]
        long_views = queries.long_views(config.dsn, pairs)
    except DataUnavailable as exc:
        return html.P(str(exc)), "sc-panel open"
    return panels.building_panel(building, sensors, series, forecast, anomalies, long_views=long_views), "sc-panel open"


@callback(
    Output("ops-completeness", "children"),
    Output("ops-district-long", "children"),
    Input("ops-slow", "n_intervals"),
)
def slow(_: int) -> tuple[Any, Any]:
    """Completeness of the last 24 h and the district's year: once a minute (rollups change slowly)."""
    config: DashboardConfig = current_app.config["SMARTCITY"]
    try:
        scored, overall = queries.completeness(config.dsn, config.district)
        year = queries.district_long_view(config.dsn, config.district, "pm25_ugm3")
    except DataUnavailable as exc:
        return html.P(str(exc)), dash.no_update
    figure = panels.long_view_figure(f"{config.district} · pm25_ugm3 · 12 months", year, height=180)
    long = dcc.Graph(figure=figure, config={"displayModeBar": False}, className="sc-graph", id="ops-district-graph")
    return panels.completeness_items(scored, overall, 24), long


@callback(
    Output("ops-picked", "data", allow_duplicate=True),
    Input("ops-panel-close", "n_clicks"),
    prevent_initial_call=True,
)
def close_panel(clicks: int | None) -> Any:
    return None if clicks else dash.no_update


@callback(
    Output("ops-feed", "children"),
    Output("ops-unplaced", "children"),
    Output("ops-feed-shown", "data"),
    Input("ops-tick", "n_intervals"),
    Input("ops-acked", "data"),
    State("ops-feed-shown", "data"),
)
def feed(_: int, __: Any, shown: str | None) -> Any:
    """The anomaly feed, drawn again only when it changed: a button redrawn under an
    operator's finger loses the click (and a wall screen need not repaint every tick)."""
    config: DashboardConfig = current_app.config["SMARTCITY"]
    try:
        anomalies = queries.anomaly_feed(config.dsn, config.district)
        unplaced_rows = queries.unplaced_devices(config.dsn, config.district)
    except DataUnavailable:
        return dash.no_update, dash.no_update, dash.no_update
    drawn = anomalies.to_json(date_format="iso") + unplaced_rows[0].to_json(date_format="iso") + str(unplaced_rows[1])
    signature = hashlib.sha256(drawn.encode()).hexdigest()
    if signature == shown:
        return dash.no_update, dash.no_update, dash.no_update
    return panels.feed_items(anomalies), panels.unplaced_items(*unplaced_rows), signature


@callback(
    Output("ops-ack-note", "children"),
    Output("ops-acked", "data"),
    Input({"type": "ops-ack", "index": ALL}, "n_clicks"),
    prevent_initial_call=True,
)
def acknowledge(clicks: list[int | None]) -> Any:
    """A click on an anomaly's button; its own callback, so the feed's tick cannot discard the answer."""
    trigger = ctx.triggered_id
    if not (isinstance(trigger, dict) and trigger.get("type") == "ops-ack" and any(clicks)):
        return dash.no_update, dash.no_update
    # checked here, on the server: the button is only a request, anyone can POST one
    if not auth.is_operator():
        sign_in = dcc.Link("운영자로 로그인하세요 · sign in as an operator to acknowledge", href="/login?next=/")
        return sign_in, dash.no_update
    config: DashboardConfig = current_app.config["SMARTCITY"]
    try:
        anomaly_id = _anomaly_id(trigger.get("index"))
        queries.acknowledge(config.dsn, anomaly_id)
    except ValueError as exc:
        return str(exc), dash.no_update
    except DataUnavailable as exc:
        return f"not acknowledged: {exc}", dash.no_update
    return "", anomaly_id


def _anomaly_id(raw: object) -> int:
    """The anomaly a button names; ValueError for anything but a positive integer."""
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise ValueError(f"not an anomaly id: {raw!r}")
    value = int(raw)
    if value <= 0:
        raise ValueError(f"not an anomaly id: {raw!r}")
    return value


clientside_callback(
    "function(still, live) {"
    " return window.dash_clientside.smartcity.renderMap(still, live, 'ops-map', 'ops-picked'); }",
    Output("ops-render-sink", "children"),
    Input("ops-still", "data"),
    Input("ops-live", "data"),
)
