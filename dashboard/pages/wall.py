"""Wall (/wall): no touching needed. A slowly orbiting city, cycling stories in large type,
and a banner when the data is stale or the database is away; it recovers by itself."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import dash
from dash import Input, Output, State, callback, clientside_callback, dcc, html
from flask import current_app

from dashboard import legend, queries, scenes
from dashboard import sky as sky_mod
from dashboard.app import DashboardConfig
from dashboard.controls import aria
from dashboard.errors import DataUnavailable

dash.register_page(__name__, path="/wall", name="Wall", title="Wall · 상황판")  # type: ignore[no-untyped-call]

STORY_SECONDS = 15


def layout(sky: str = "", **_: Any) -> html.Div:
    config: DashboardConfig = current_app.config["SMARTCITY"]
    refresh_ms = int(max(10.0, config.refresh_s) * 1000)  # a wall refreshes at most every 10 s
    return html.Div(
        [
            html.H1("상황판 · City wall", className="sr-only"),
            html.Div(
                id="wall-map",
                className="wall-map",
                role="img",
                **aria(label="3D map of the district · 지구 3D 지도"),
            ),
            html.Div(id="wall-banner", className="sc-banner wall-banner"),
            html.Div(
                [
                    html.Div(id="wall-title", className="wall-title"),
                    html.Div(id="wall-value", className="wall-value"),
                    html.Div(id="wall-note", className="wall-note"),
                ],
                id="wall-story",
                className="wall-story",
            ),
            html.Div(id="wall-clock", className="wall-clock"),
            html.Div(id="wall-completeness", className="wall-completeness"),
            legend.panel(legend.entries(), element_id="wall-legend"),
            html.Div(id="wall-attribution", className="sc-attribution"),
            dcc.Store(id="wall-sky-at", data=sky[:16]),  # ?sky=HH:MM shows that hour's light
            dcc.Store(id="wall-still"),
            dcc.Store(id="wall-live"),
            dcc.Store(id="wall-last-ok"),
            html.Div(id="wall-sink", style={"display": "none"}),
            dcc.Interval(id="wall-tick", interval=refresh_ms, n_intervals=0),
            dcc.Interval(id="wall-story-tick", interval=STORY_SECONDS * 1000, n_intervals=0),
            dcc.Interval(id="wall-slow", interval=60_000, n_intervals=0),
        ],
        className="wall",
    )


@callback(
    Output("wall-still", "data"),
    Output("wall-attribution", "children"),
    Input("wall-tick", "n_intervals"),
    State("wall-attribution", "children"),
)
def load_base(_: int, loaded: str | None) -> tuple[Any, Any]:
    if loaded:
        return dash.no_update, dash.no_update
    config: DashboardConfig = current_app.config["SMARTCITY"]
    try:
        found = scenes.base(config, scenes.cache_of(current_app.config))
    except DataUnavailable:
        return dash.no_update, dash.no_update
    if found is None:
        return dash.no_update, dash.no_update
    return scenes.still(found), found["attribution"]


@callback(
    Output("wall-live", "data"),
    Output("wall-banner", "children"),
    Output("wall-banner", "className"),
    Output("wall-title", "children"),
    Output("wall-value", "children"),
    Output("wall-note", "children"),
    Output("wall-clock", "children"),
    Output("wall-last-ok", "data"),
    Input("wall-tick", "n_intervals"),
    Input("wall-story-tick", "n_intervals"),
    State("wall-last-ok", "data"),
    State("wall-sky-at", "data"),
)
def refresh(_: int, story_tick: int, last_ok: str | None, sky_at: str | None) -> tuple[Any, ...]:
    config: DashboardConfig = current_app.config["SMARTCITY"]
    now = datetime.now(UTC)
    local = ZoneInfo(config.timezone)
    clock = f"{now.astimezone(local):%H:%M %Z}"  # the city's own time: people read the wall in it
    try:
        state = scenes.live(config)
    except DataUnavailable:
        since = f" since {datetime.fromisoformat(last_ok).astimezone(local):%H:%M:%S %Z}" if last_ok else ""
        banner = f"⚠ 데이터베이스 연결 끊김 · database unreachable{since} — showing the last data received"
        return (dash.no_update, banner, "sc-banner wall-banner visible") + (dash.no_update,) * 3 + (clock, last_ok)
    stale_s = scenes.staleness(state.kpi["newest"], now)
    if stale_s is None or stale_s > scenes.STALE_AFTER_S:
        age = "no readings yet" if stale_s is None else f"newest reading {stale_s / 60:.0f} min old"
        banner, banner_class = (
            f"⚠ 데이터 지연 · data stale: {age} (broker or ingest down?)",
            "sc-banner wall-banner visible",
        )
    else:
        banner, banner_class = "", "sc-banner wall-banner"
    story = scenes.stories(state, "ko" if story_tick % 2 == 0 else "en")[(story_tick // 2) % 4]
    look = scenes.sky_now(config, sky_mod.parse_clock(sky_at, config.timezone))
    return (
        scenes.live_layers(state, look),
        banner,
        banner_class,
        story["title"],
        story["value"],
        story["note"],
        clock,
        now.isoformat(),
    )


@callback(Output("wall-completeness", "children"), Input("wall-slow", "n_intervals"))
def completeness(_: int) -> Any:
    """How much of what the city's devices should have sent arrived (24 h), once a minute."""
    config: DashboardConfig = current_app.config["SMARTCITY"]
    try:
        scored, overall = queries.completeness(config.dsn, config.district)
    except DataUnavailable:
        return dash.no_update
    if overall is None:
        return ""
    missing = int((scored["completeness_pct"] < 95).sum())
    worst = f" · {missing} devices under 95%" if missing else ""
    return f"수신율 {overall:.1f}% · {overall:.1f}% of expected readings in 24 h{worst}"


clientside_callback(
    "function(still, live) { return window.dash_clientside.smartcity.renderOrbitingMap(still, live, 'wall-map'); }",
    Output("wall-sink", "children"),
    Input("wall-still", "data"),
    Input("wall-live", "data"),
)
