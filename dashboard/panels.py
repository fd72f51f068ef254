"""The building panel and the anomaly feed: pure functions of DataFrames to Dash components."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
from dash import dcc, html

from dashboard.colors import PRIMARY_METRIC

_DARK = {"paper_bgcolor": "#111a2a", "plot_bgcolor": "#111a2a", "font": {"color": "#e8eef8", "size": 12}}


def series_figure(
    device_id: str, metric: str, series: pd.DataFrame, forecast: pd.DataFrame, anomalies: pd.DataFrame
) -> go.Figure:
    """Last 24 h of a sensor's metric, the forecast with its 80% and 95% bands, anomaly windows."""
    fig = go.Figure()
    if not forecast.empty:
        f = forecast.sort_values("time")
        for level, alpha in (("95", 0.18), ("80", 0.30)):  # each band: its upper edge, then filled down
            fig.add_trace(
                go.Scatter(x=f["time"], y=f[f"hi{level}"], line={"width": 0}, showlegend=False, hoverinfo="skip")
            )
            fig.add_trace(
                go.Scatter(
                    x=f["time"],
                    y=f[f"lo{level}"],
                    fill="tonexty",
                    line={"width": 0},
                    fillcolor=f"rgba(110,160,255,{alpha})",
                    name=f"{level}%",
                )
            )
        fig.add_trace(go.Scatter(x=f["time"], y=f["yhat"], line={"dash": "dash", "color": "#8fb4ff"}, name="forecast"))
    s = series.sort_values("t")
    fig.add_trace(go.Scatter(x=s["t"], y=s["value"], line={"color": "#f2f5fa"}, name=metric))
    for started, ended, kind in zip(anomalies["started_at"], anomalies["ended_at"], anomalies["kind"], strict=True):
        fig.add_vrect(
            x0=started,
            x1=max(pd.Timestamp(ended), pd.Timestamp(started) + pd.Timedelta(minutes=5)),
            fillcolor="rgba(235,70,60,0.35)",
            line_width=0,
            annotation_text=str(kind),
            annotation_position="top left",
        )
    fig.update_layout(
        title={"text": f"{device_id} · {metric}", "font": {"size": 14}},
        height=220,
        margin={"l": 40, "r": 10, "t": 34, "b": 28},
        legend={"orientation": "h", "y": -0.25},
        **_DARK,
    )
    return fig


def long_view_figure(title: str, daily: pd.DataFrame, *, height: int = 200) -> go.Figure:
    """Daily values over months: the min-max band filled as the forecast bands are, the mean as a line."""
    fig = go.Figure()
    if not daily.empty:
        d = daily.sort_values("day")
        fig.add_trace(go.Scatter(x=d["day"], y=d["max"], line={"width": 0}, showlegend=False, hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=d["day"], y=d["min"], fill="tonexty", line={"width": 0},
                                 fillcolor="rgba(110,160,255,0.25)", name="daily min–max"))  # fmt: skip
        fig.add_trace(go.Scatter(x=d["day"], y=d["mean"], line={"color": "#f2f5fa"}, name="daily mean"))
    fig.update_layout(
        title={"text": title if not daily.empty else f"{title} · no history yet", "font": {"size": 13}},
        height=height, margin={"l": 40, "r": 10, "t": 30, "b": 24}, legend={"orientation": "h", "y": -0.3}, **_DARK,
    )  # fmt: skip
    return fig


def completeness_items(scored: pd.DataFrame, overall: float | None, hours: float, worst: int = 5) -> list[Any]:
    """The headline share of expected readings received, and the devices that miss most."""
    headline = (
        f"{overall:.1f}% of expected readings in the last {hours:g} h · 수신율" if overall is not None
        else f"completeness: no cadence learnt yet (last {hours:g} h)"
    )  # fmt: skip
    short = scored.dropna(subset=["completeness_pct"])
    short = short[short["completeness_pct"] < 100].head(worst)
    rows = []
    for r in short.to_dict("records"):
        refused = f", {r['dead_lettered']} refused" if r["dead_lettered"] else ""
        line = f"{r['device_id']}: {r['completeness_pct']:.1f}% ({r['received']} of {r['expected']:g}{refused})"
        rows.append(html.Li(line))
    return [html.H3("data completeness · 데이터 수신율"), html.P(headline, id="ops-completeness-headline"),
            html.Ul(rows, id="ops-completeness-worst")]  # fmt: skip


def building_panel(
    building: dict[str, Any],
    sensors: pd.DataFrame,
    series: pd.DataFrame,
    forecast: pd.DataFrame,
    anomalies: pd.DataFrame,
    *,
    long_views: dict[tuple[str, str], pd.DataFrame] | None = None,
) -> html.Div:
    """Who the building is, which sensors it has, and each sensor's primary metric over time."""
    title = building["name"] or building["building_id"]
    facts = [
        f"{building['use']} · {building['height_m']:g} m"
        + (f" · {building['floors']} floors" if building["floors"] else ""),
        building["address"] or "",
        f"PNU {building['pnu']}" if building["pnu"] else "",
        "synthetic (generated) building" if building["synthetic"] else "",
    ]
    graphs: list[Any] = []
    for device_id, kind in zip(sensors["device_id"], sensors["kind"], strict=True):
        metric = PRIMARY_METRIC.get(str(kind), ("", 1.0))[0]
        mine = series[(series["device_id"] == device_id) & (series["metric"] == metric)]
        fig = series_figure(
            str(device_id),
            metric,
            mine,
            forecast[(forecast["device_id"] == device_id) & (forecast["metric"] == metric)],
            anomalies[(anomalies["device_id"] == device_id) & (anomalies["metric"] == metric)],
        )
        graphs.append(dcc.Graph(figure=fig, config={"displayModeBar": False}, className="sc-graph"))
        if long_views is not None:
            daily = long_views.get((str(device_id), metric), pd.DataFrame(columns=["day", "mean", "min", "max"]))
            long_fig = long_view_figure(f"{device_id} · {metric} · 12 months", daily)
            graphs.append(dcc.Graph(figure=long_fig, config={"displayModeBar": False}, className="sc-graph"))
    sensor_list = html.Ul(
        [
            html.Li(f"{d} ({k}, {m:g} m)")
            for d, k, m in zip(sensors["device_id"], sensors["kind"], sensors["distance_m"], strict=True)
        ],
        id="ops-panel-sensors",
    )
    return html.Div(
        [
            html.Button("×", id="ops-panel-close", className="sc-close", n_clicks=0),
            html.H2(title, id="ops-panel-title"),
            *[html.P(f) for f in facts if f],
            html.H3(f"sensors ({len(sensors)})"),
            sensor_list if len(sensors) else html.P("no sensor at this building", id="ops-panel-sensors"),
            *graphs,
        ]
    )


def feed_items(feed: pd.DataFrame) -> list[html.Div]:
    """The open anomalies, newest first, each with an acknowledge button."""
    if feed.empty:
        return [html.Div("no open anomalies · 이상 없음", className="sc-feed-empty")]
    items = []
    for record in feed.to_dict("records"):
        items.append(
            html.Div(
                [
                    html.Div(
                        f"{record['kind']} · {record['device_id']} · {record['metric']}", className="sc-feed-head"
                    ),
                    html.Div(str(record["explanation"]), className="sc-feed-text"),
                    html.Div(f"{record['started_at']:%H:%M}–{record['ended_at']:%H:%M} UTC", className="sc-feed-time"),
                    html.Button(
                        "ack", id={"type": "ops-ack", "index": int(record["id"])}, n_clicks=0, className="sc-ack"
                    ),
                ],
                className="sc-feed-item",
            )
        )
    return items


def unplaced_items(devices: pd.DataFrame, total: int) -> list[Any]:
    """Devices that report but stand nowhere on the map, for staff to place."""
    if not total:
        return []
    head = html.Div(f"unplaced · 위치 미지정: {total}", className="sc-feed-head")
    rows = [
        html.Div(f"{r['device_id']} · {r['kind']} · {r['source']}", className="sc-feed-text")
        for r in devices.to_dict("records")
    ]
    more = [html.Div(f"… {total - len(devices)} more", className="sc-feed-time")] if total > len(devices) else []
    hint = html.Div("place them: smartcity devices import FILE", className="sc-feed-time")
    return [html.Div([head, *rows, *more, hint], className="sc-feed-item sc-unplaced")]
