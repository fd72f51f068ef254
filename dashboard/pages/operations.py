"""Operations (/): the 3D twin with live sensors, KPI tiles and a degraded-data banner."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, callback, clientside_callback, dcc, html
from flask import current_app

from dashboard import mapspec, queries
from dashboard.app import DashboardConfig
from dashboard.errors import DataUnavailable

dash.register_page(__name__, path="/", name="Operations", title="Operations · 운영")  # type: ignore[no-untyped-call]


def layout(**_: Any) -> html.Div:
    config: DashboardConfig = current_app.config["SMARTCITY"]
    return html.Div(
        [
            html.Div(id="ops-banner", className="sc-banner"),
            html.Div(
                [
                    _kpi("ops-kpi-rate", "readings / min"),
                    _kpi("ops-kpi-devices", "devices reporting"),
                    _kpi("ops-kpi-anomalies", "open anomalies"),
                    _kpi("ops-kpi-newest", "newest reading (UTC)"),
                ],
                className="sc-kpis",
            ),
            html.Div(
                [
                    html.Div(id="ops-map", style={"position": "absolute", "inset": "0"}),
                    html.Div(id="ops-attribution", className="sc-attribution"),
                ],
                className="sc-map",
            ),
            dcc.Store(id="ops-base"),
            dcc.Store(id="ops-spec"),
            html.Div(id="ops-render-sink", style={"display": "none"}),
            dcc.Interval(id="ops-tick", interval=int(config.refresh_s * 1000), n_intervals=0),
        ]
    )


def _kpi(component_id: str, label: str) -> html.Div:
    return html.Div([html.Div("–", id=component_id, className="v"), html.Div(label, className="k")], className="sc-kpi")


@callback(
    Output("ops-base", "data"),
    Output("ops-attribution", "children"),
    Input("ops-tick", "n_intervals"),
    State("ops-base", "data"),
)
def load_base(_: int, current: dict[str, Any] | None) -> tuple[Any, Any]:
    if current:
        return dash.no_update, dash.no_update
    config: DashboardConfig = current_app.config["SMARTCITY"]
    try:
        district = queries.district(config.dsn, config.district)
        if district is None:
            return dash.no_update, "district not loaded yet"
        buildings = queries.buildings(config.dsn, config.district)
        boundary = queries.boundary(config.dsn, config.district)
    except DataUnavailable:
        return dash.no_update, dash.no_update
    view = mapspec.view_state(district["center_lon_deg"], district["center_lat_deg"])
    return {"view": view, "layers": mapspec.base_layers(buildings, boundary)}, district["attribution"]


@callback(
    Output("ops-spec", "data"),
    Output("ops-banner", "children"),
    Output("ops-banner", "className"),
    Output("ops-kpi-rate", "children"),
    Output("ops-kpi-devices", "children"),
    Output("ops-kpi-anomalies", "children"),
    Output("ops-kpi-newest", "children"),
    Input("ops-tick", "n_intervals"),
    Input("ops-base", "data"),
)
def refresh(_: int, base: dict[str, Any] | None) -> tuple[Any, ...]:
    config: DashboardConfig = current_app.config["SMARTCITY"]
    try:
        devices = queries.devices_latest(config.dsn, config.district)
        kpi = queries.kpis(config.dsn)
    except DataUnavailable:
        banner = "Database unreachable: showing the last data received · 데이터베이스 연결 끊김"
        return (dash.no_update, banner, "sc-banner visible") + (dash.no_update,) * 4
    if not base:
        return (dash.no_update, "", "sc-banner") + (dash.no_update,) * 4
    spec = mapspec.deck_spec(base["view"], base["layers"] + [mapspec.sensor_layer(devices)])
    reporting = devices.dropna(subset=["metric"])["device_id"].nunique()
    newest = kpi["newest"].strftime("%H:%M:%S") if kpi["newest"] else "–"
    return (
        spec,
        "",
        "sc-banner",
        f"{kpi['readings_last_minute']:,}",
        f"{reporting:,}",
        str(kpi["open_anomalies"]),
        newest,
    )


clientside_callback(
    "function(spec) { return window.dash_clientside.smartcity.renderDeck(spec, 'ops-map'); }",
    Output("ops-render-sink", "children"),
    Input("ops-spec", "data"),
)
