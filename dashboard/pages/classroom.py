"""Class (/class): a student's accepted and rejected messages, and how to publish.

Only after signing in: a student with their class account sees themselves (the form's
fields are ignored), a teacher any student of their class, an operator anyone
(``/class?c=<class>&s=<student>`` fills the form for them).
"""

from __future__ import annotations

from typing import Any

import dash
import pandas as pd
from dash import Input, Output, callback, clientside_callback, dcc, html
from flask import current_app

from contract.topics import class_filter, class_topic
from dashboard import auth, legend, mapspec, queries, scenes, sky
from dashboard.app import DashboardConfig
from dashboard.controls import aria
from dashboard.errors import DataUnavailable

dash.register_page(__name__, path="/class", name="Class", title="Class · 수업")  # type: ignore[no-untyped-call]


def layout(c: str = "", s: str = "", **_: Any) -> html.Div:
    config: DashboardConfig = current_app.config["SMARTCITY"]
    return html.Div(
        [
            html.H1("수업 · Class", className="sc-page-title"),
            html.Div(
                [
                    html.Label(
                        ["class · 수업", dcc.Input(id="class-id", value=c, debounce=True, className="sc-input")],
                        className="sc-field",
                    ),
                    html.Label(
                        ["student · 학생", dcc.Input(id="class-student", value=s, debounce=True, className="sc-input")],
                        className="sc-field",
                    ),
                ],
                className="sc-class-form",
            ),
            html.Div(id="class-banner", className="sc-banner"),
            html.Div(id="class-who"),
            html.Div(
                [
                    html.Div([html.H2("accepted / 저장됨"), html.Div(id="class-accepted")], className="sc-col"),
                    html.Div([html.H2("rejected / 거부됨"), html.Div(id="class-rejected")], className="sc-col"),
                ],
                className="sc-cols",
            ),
            html.Div(id="class-howto", className="sc-howto"),
            html.Div(
                [
                    html.Div(id="class-map", style={"position": "absolute", "inset": "0"}),
                    legend.panel(legend.entries(shown=("buildings", "sensors", "ways")), element_id="class-legend"),
                ],
                className="sc-map class-map",
                role="img",
                **aria(label="your sensor on the district map · 지도 위의 내 센서"),
            ),
            dcc.Store(id="class-still"),
            dcc.Store(id="class-live"),
            html.Div(id="class-sink", style={"display": "none"}),
            dcc.Interval(id="class-tick", interval=int(config.refresh_s * 1000), n_intervals=0),
        ]
    )


def _table(frame: pd.DataFrame, table_id: str) -> html.Table | html.P:
    if frame.empty:
        return html.P("nothing in the last day / 최근 하루 동안 없음", id=table_id)
    head = html.Tr([html.Th(c) for c in frame.columns])
    body = [html.Tr([html.Td(str(v)) for v in row]) for row in frame.itertuples(index=False)]
    return html.Table([html.Thead(head), html.Tbody(body)], id=table_id, className="sc-table")


@callback(
    Output("class-who", "children"),
    Output("class-accepted", "children"),
    Output("class-rejected", "children"),
    Output("class-howto", "children"),
    Output("class-banner", "children"),
    Output("class-live", "data"),
    Input("class-tick", "n_intervals"),
    Input("class-id", "value"),
    Input("class-student", "value"),
)
def _refresh(_: int, class_id: str | None, student: str | None) -> tuple[Any, ...]:
    user = auth.current_user()
    if user is None:
        ask = dcc.Link("수업 계정으로 로그인하세요 · sign in with your class account", href="/login?next=/class")
        return html.P(ask, id="class-signin"), "", "", "", "", {"layers": []}
    if user.role == "student":
        class_id, student = user.class_id, user.member  # a student sees themselves, whatever the form says
    if class_id and student and not user.may_see_class(class_id, student):
        return html.P(f"{user.name} may not see {class_id} / {student}", id="class-forbidden"), "", "", "", "", {}
    if not class_id or not student:
        return (
            html.P("enter your class and student name / 수업과 학생 이름을 입력하세요"),
            "",
            "",
            "",
            "",
            dash.no_update,
        )
    config: DashboardConfig = current_app.config["SMARTCITY"]
    try:
        member = queries.class_member(config.dsn, class_id, student)
        accepted = queries.class_accepted(config.dsn, class_id, student)
        rejected = queries.class_rejected(config.dsn, class_id, student)
        devices = queries.devices_latest(config.dsn, config.district)
    except DataUnavailable as exc:
        return dash.no_update, dash.no_update, dash.no_update, dash.no_update, f"⚠ {exc}", dash.no_update
    if member is None:
        who = html.P(f"{student} is not in class {class_id}", id="class-unknown")
    else:
        state = "revoked" if member["revoked"] else f"expires {member['expires_at']:%Y-%m-%d %H:%M} UTC"
        drive = f" · drives simulated sensor {member['sim_device_id']}" if member["sim_device_id"] else ""
        who = html.P(f"{class_id} / {student} ({member['role']}, {state}){drive}", id="class-member")
    user_id = f"{class_id}.{student}"
    howto = html.Pre(
        f"mosquitto_pub -V mqttv5 -q 1 -i {user_id} -u {user_id} -P <password> "
        f'-t {class_topic(class_id, student, "my-sensor")} -m \'{{"metrics": {{"temperature_c": 21.5}}}}\'\n'
        f"mosquitto_sub -V mqttv5 -i {user_id}:watch -u {user_id} -P <password> "
        f"-t '{class_filter(class_id, student)}' -v"
    )
    # the student's simulated sensor stands out: the other sensors are left off
    mine = member["sim_device_id"] if member else None
    shown = devices[devices["device_id"] == mine] if mine else devices.iloc[0:0]
    look = scenes.sky_now(config)
    live: dict[str, Any] = {"layers": [mapspec.sensor_layer(shown, glow=sky.sensor_glow(look))]}
    if look is not None:
        live["sky"] = look
    accepted_table = _table(accepted, "class-accepted-table")
    return who, accepted_table, _table(rejected, "class-rejected-table"), howto, "", live


scenes.register_still_loader("class-still", "class-tick")


clientside_callback(
    "function(still, live) { return window.dash_clientside.smartcity.renderMap(still, live, 'class-map'); }",
    Output("class-sink", "children"),
    Input("class-still", "data"),
    Input("class-live", "data"),
)
