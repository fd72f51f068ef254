"""Exhibit (/exhibit): for visitors, in Korean or English. Large touch targets, simple
stories, the parcel lookup by lot number, and an attract loop after a minute idle
(``?idle=SECONDS`` changes the minute, for rehearsals): the city turns only then, and
stands still while a visitor looks."""

from __future__ import annotations

import math
from typing import Any

import dash
from dash import Input, Output, State, callback, clientside_callback, ctx, dcc, html
from flask import current_app

from dashboard import legend, queries, scenes
from dashboard import sky as sky_mod
from dashboard.app import DashboardConfig
from dashboard.controls import aria
from dashboard.errors import DataUnavailable
from dashboard.i18n import t

dash.register_page(__name__, path="/exhibit", name="Exhibit", title="Exhibit · 전시")  # type: ignore[no-untyped-call]


def layout(idle: str = "60", lang: str = "ko", sky: str = "", **_: Any) -> html.Div:
    try:
        idle_s = max(1.0, float(idle))
    except ValueError:
        idle_s = 60.0
    if math.isnan(idle_s) or idle_s > 86_400:  # NaN or past a day: the default minute
        idle_s = 60.0
    first = "en" if lang == "en" else "ko"  # anything else a URL says is the city's own language
    return html.Div(
        [
            html.Div(id="exh-map", className="exh-map"),
            html.Div(
                [
                    html.Button("한국어", id="exh-ko", n_clicks=0, className="exh-lang", lang="ko"),
                    html.Button("English", id="exh-en", n_clicks=0, className="exh-lang", lang="en"),
                ],
                className="exh-langs",
                role="group",
                **aria(label="언어 · language"),
            ),
            html.Div([html.H1(id="exh-title"), html.P(id="exh-subtitle")], className="exh-head"),
            html.Div(id="exh-stories", className="exh-stories"),
            html.Div(
                [
                    html.Label(id="exh-lookup-label", htmlFor="exh-lookup-input"),
                    dcc.Input(id="exh-lookup-input", type="text", className="exh-input", debounce=False),
                    html.Button(id="exh-lookup-go", n_clicks=0, className="exh-go"),
                    html.Div(id="exh-lookup-result", className="exh-result"),
                ],
                className="exh-lookup",
            ),
            html.Div(
                [html.Div(id="exh-attract-title"), html.Div(id="exh-attract-sub", className="sub", lang="en")],
                className="exh-attract",
            ),
            legend.panel(legend.entries(), element_id="exh-legend"),
            dcc.Store(id="exh-lang", data=first),
            dcc.Store(id="exh-sky-at", data=sky[:16]),  # ?sky=HH:MM shows that hour's light
            html.Div(id="exh-lang-sink", style={"display": "none"}),
            dcc.Store(id="exh-idle", data=idle_s),
            dcc.Store(id="exh-still"),
            dcc.Store(id="exh-live"),
            html.Div(id="exh-sink", style={"display": "none"}),
            html.Div(id="exh-attract-sink", style={"display": "none"}),
            dcc.Interval(id="exh-tick", interval=10_000, n_intervals=0),
        ],
        id="exh-root",
        className="exh",
    )


@callback(
    Output("exh-lang", "data"),
    Input("exh-ko", "n_clicks"),
    Input("exh-en", "n_clicks"),
    prevent_initial_call=True,
)
def choose_language(ko: int, en: int) -> str:
    return "en" if ctx.triggered_id == "exh-en" else "ko"


@callback(
    Output("exh-title", "children"),
    Output("exh-subtitle", "children"),
    Output("exh-lookup-label", "children"),
    Output("exh-lookup-input", "placeholder"),
    Output("exh-lookup-go", "children"),
    Output("exh-attract-title", "children"),
    Output("exh-attract-sub", "children"),
    Output("exh-root", "lang"),
    Output("exh-attract-sub", "lang"),
    Output("exh-ko", "aria-pressed"),
    Output("exh-en", "aria-pressed"),
    Input("exh-lang", "data"),
)
def words(lang: str) -> tuple[str, ...]:
    keys = ("title", "subtitle", "lookup", "lookup_hint", "lookup_go", "attract", "attract_sub")
    lang = "en" if lang == "en" else "ko"
    other = "ko" if lang == "en" else "en"  # the attract loop's second line is in the other language
    pressed = ("false", "true") if lang == "en" else ("true", "false")
    return (*(t(lang, k) for k in keys), lang, other, *pressed)


# The document's own language follows the visitor's choice (screen readers read by it).
clientside_callback(
    "function(lang) { document.documentElement.lang = lang === 'en' ? 'en' : 'ko'; return ''; }",
    Output("exh-lang-sink", "children"),
    Input("exh-lang", "data"),
)


scenes.register_still_loader("exh-still", "exh-tick")


@callback(
    Output("exh-live", "data"),
    Output("exh-stories", "children"),
    Input("exh-tick", "n_intervals"),
    Input("exh-lang", "data"),
    State("exh-sky-at", "data"),
)
def refresh(_: int, lang: str, sky_at: str | None) -> tuple[Any, ...]:
    config: DashboardConfig = current_app.config["SMARTCITY"]
    try:
        state = scenes.live(config)
    except DataUnavailable:
        return dash.no_update, dash.no_update
    cards = [
        html.Div(
            [
                html.Div(s["title"], className="k"),
                html.Div(s["value"], className="v"),
                html.Div(s["note"], className="n"),
            ],
            className="exh-card",
        )
        for s in scenes.stories(state, lang)[:3]
    ]
    look = scenes.sky_now(config, sky_mod.parse_clock(sky_at, config.timezone))
    return scenes.live_layers(state, look), cards


@callback(
    Output("exh-lookup-result", "children"),
    Input("exh-lookup-go", "n_clicks"),
    Input("exh-lookup-input", "n_submit"),
    State("exh-lookup-input", "value"),
    State("exh-lang", "data"),
    prevent_initial_call=True,
)
def lookup(_: int, __: int | None, query: str | None, lang: str) -> Any:
    from twin import store
    from twin.errors import LookupFailed, LookupRefused

    if not query:
        return ""
    config: DashboardConfig = current_app.config["SMARTCITY"]
    try:
        with queries.connection(config.dsn) as conn:  # the process's pool
            found = store.lookup(conn, query)
    except LookupRefused as exc:
        return html.P(str(exc), className="exh-error")
    except LookupFailed:
        return html.P(t(lang, "not_found"), className="exh-error")
    except DataUnavailable:
        return html.P("⚠ database unavailable · 데이터베이스 연결 끊김", className="exh-error")
    parcel = found[0]
    buildings = parcel["buildings"]
    sensors = parcel["sensors"]
    assert isinstance(buildings, list) and isinstance(sensors, list)
    lines = [
        html.H3(str(parcel["address"])),
        html.P(f"PNU {parcel['pnu']} · {parcel['land_category']} · {parcel['area_m2']:,.0f} m²"),
        html.P(
            f"{t(lang, 'buildings')}: "
            + (", ".join(f"{b['use']} {b['height_m']:.0f} m" for b in buildings) or t(lang, "no_building"))
        ),
        html.P(
            f"{t(lang, 'sensors')}: " + ", ".join(f"{s['device_id']} ({s['distance_m']:.0f} m)" for s in sensors[:5])
            if sensors
            else ""
        ),
    ]
    return html.Div(lines, id="exh-lookup-found")


clientside_callback(
    "function(still, live) { return window.dash_clientside.smartcity.renderOrbitingMap(still, live, 'exh-map'); }",
    Output("exh-sink", "children"),
    Input("exh-still", "data"),
    Input("exh-live", "data"),
)

clientside_callback(
    "function(idle) { return window.dash_clientside.smartcity.armAttract(idle, 'exh-root'); }",
    Output("exh-attract-sink", "children"),
    Input("exh-idle", "data"),
)
