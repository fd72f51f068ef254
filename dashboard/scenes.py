"""What the wall and the exhibit show: the city map and its stories, from query helpers.

The stories are pure functions of small DataFrames; ``base`` and ``live`` do the reading.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dash
import numpy as np
import pandas as pd
from dash import Input, Output, State, callback
from flask import current_app

from dashboard import mapspec, queries, sky
from dashboard.app import DashboardConfig
from dashboard.errors import DataUnavailable

STALE_AFTER_S = 120.0


STILL_TTL_S = 300.0


def base(config: DashboardConfig, cache: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The still part of the map: view, boundary, streets and streams, buildings by use.

    None while the district is not loaded. Kept in ``cache`` (the app's own dict) for
    ``STILL_TTL_S``: every wall and page shares one copy instead of reading twenty thousand
    buildings at each refresh.

    Raises:
        DataUnavailable: the database cannot be reached.
    """
    key = f"still:{config.district}"
    if cache is not None and key in cache and time.monotonic() - cache[key][0] < STILL_TTL_S:
        cached: dict[str, Any] = cache[key][1]
        return cached
    district = queries.district(config.dsn, config.district)
    if district is None:
        return None
    records = mapspec.building_records(queries.buildings(config.dsn, config.district))
    boundary = queries.boundary(config.dsn, config.district)
    ways = queries.ways(config.dsn, config.district)
    areas = queries.areas(config.dsn, config.district)
    view = mapspec.view_state(district["center_lon_deg"], district["center_lat_deg"], zoom=14.6, pitch=60.0)
    found = {
        "view": view,
        "layers": [
            mapspec.boundary_layer(boundary),
            mapspec.ways_layer(ways),
            mapspec.building_layer(records),
            *mapspec.area_layers(areas),
        ],
        "records": records,
        "attribution": district["attribution"],
        "name": district["name"],
        "name_en": district["name_en"],
    }
    if cache is not None:
        cache[key] = (time.monotonic(), found)
    return found


def still(found: dict[str, Any]) -> dict[str, Any]:
    """What the browser needs of ``base``: the view and the layers (not the records)."""
    return {"view": found["view"], "layers": found["layers"]}


def load_still(app_config: Any) -> dict[str, Any] | None:
    """The still layers for a page, from the app's cache (None while no district is loaded).

    Raises:
        DataUnavailable: the database cannot be reached.
    """
    found = base(app_config["SMARTCITY"], cache_of(app_config))
    return still(found) if found else None


def register_still_loader(store_id: str, tick_id: str) -> None:
    """A callback filling ``store_id`` with the still layers once (retried each tick until loaded)."""

    @callback(Output(store_id, "data"), Input(tick_id, "n_intervals"), State(store_id, "modified_timestamp"))
    def _load_still(_: int, loaded: int | None) -> Any:
        if loaded and loaded > 0:
            return dash.no_update
        try:
            return load_still(current_app.config) or dash.no_update
        except DataUnavailable:
            return dash.no_update


def cache_of(app_config: Any) -> dict[str, Any]:
    cache: dict[str, Any] = app_config.setdefault("SMARTCITY_CACHE", {})
    return cache


@dataclass(frozen=True)
class Live:
    devices: pd.DataFrame
    kpi: dict[str, Any]
    feed: pd.DataFrame
    outlook: pd.DataFrame  # the next 24 hours: metric, hour, yhat, hi95 (the district's own forecast)
    timezone: str = "Asia/Seoul"


def live(config: DashboardConfig) -> Live:
    """What changes: sensors, KPIs, open anomalies, the next 24 hours of forecasts.

    Raises:
        DataUnavailable: the database cannot be reached.
    """
    return Live(
        devices=queries.devices_latest(config.dsn, config.district),
        kpi=queries.kpis(config.dsn),
        feed=queries.anomaly_feed(config.dsn, config.district, limit=5),
        outlook=queries.next_24h(config.dsn, config.district, ["pm25_ugm3", "power_kw"]),
        timezone=config.timezone,
    )


def live_layers(state: Live, look: dict[str, Any] | None = None) -> dict[str, Any]:
    """The part of the map that changes at every refresh: the sensors, and the sky (``look``,
    from ``sky_now``) the city's clock gives the map."""
    found: dict[str, Any] = {"layers": [mapspec.sensor_layer(state.devices, glow=sky.sensor_glow(look))]}
    if look is not None:
        found["sky"] = look
    return found


def sky_now(config: DashboardConfig, at: datetime | None = None) -> dict[str, Any] | None:
    """The map's sky over the district at ``at`` (now when None); None while no district is
    loaded or the database cannot be reached (the map keeps the sky it has)."""
    try:
        found = base(config, cache_of(current_app.config))
    except DataUnavailable:
        return None
    if found is None:
        return None
    view = found["view"]
    return sky.sky(at or datetime.now(UTC), view["latitude"], view["longitude"])


def staleness(newest: datetime | None, now: datetime | None = None) -> float | None:
    """Seconds since the newest reading (None when there is none)."""
    if newest is None:
        return None
    return ((now or datetime.now(UTC)) - newest).total_seconds()


def _mean(devices: pd.DataFrame, metric: str) -> float | None:
    values = devices.loc[devices["metric"] == metric, "value"].dropna()
    return float(values.mean()) if len(values) else None


def _total(devices: pd.DataFrame, metric: str) -> float | None:
    values = devices.loc[devices["metric"] == metric, "value"].dropna()
    return float(values.sum()) if len(values) else None


def stories(state: Live, lang: str = "ko") -> list[dict[str, str]]:
    """The wall's cycling stories: air now and next 24 h, energy, traffic, anomalies.

    Each is a dict of ``title``, ``value`` (big) and ``note`` in ``lang`` (ko or en).
    """
    ko = lang == "ko"
    pm = _mean(state.devices, "pm25_ugm3")
    pm_outlook = state.outlook[state.outlook["metric"] == "pm25_ugm3"]
    if len(pm_outlook):
        at = int(np.argmax(pm_outlook["yhat"].to_numpy(dtype=float)))
        peak = float(pm_outlook["yhat"].iloc[at])
        hour = pd.Timestamp(pm_outlook["hour"].iloc[at]).tz_convert(state.timezone).hour
        peak_text = (
            f"24시간 최고 예상 {peak:.0f} µg/m³ ({hour}시, {_grade(peak, ko)})"
            if ko
            else f"next 24 h peak forecast {peak:.0f} µg/m³ at {hour:02d}:00 ({_grade(peak, ko)})"
        )
    else:
        peak_text = "예측 준비 중" if ko else "forecast not ready yet"
    power = _total(state.devices, "power_kw")
    traffic = _total(state.devices, "vehicle_count")
    speed = _mean(state.devices, "speed_kmh")
    open_count = int(state.kpi.get("open_anomalies", 0))
    latest = state.feed.iloc[0] if len(state.feed) else None
    return [
        {
            "title": "지금 공기 · 초미세먼지" if ko else "Air now · PM2.5",
            "value": "–" if pm is None else f"{pm:.0f} µg/m³",
            "note": f"{_grade(pm, ko)} · {peak_text}",
        },
        {
            "title": "건물 에너지" if ko else "Building energy",
            "value": "–" if power is None else f"{power / 1000:.2f} MW",
            "note": "계량기 합계 전력" if ko else "total power of the metered buildings",
        },
        {
            "title": "교통" if ko else "Traffic",
            "value": "–" if traffic is None else f"{traffic:,.0f}",
            "note": ("평균 속도 " if ko else "mean speed ") + ("–" if speed is None else f"{speed:.0f} km/h"),
        },
        {
            "title": "이상 징후" if ko else "Anomalies",
            "value": str(open_count),
            "note": (latest.explanation if latest is not None else ("이상 없음" if ko else "all normal")),
        },
    ]


def _grade(pm25: float | None, ko: bool) -> str:
    """The Korean PM2.5 grade (좋음 ≤15, 보통 ≤35, 나쁨 ≤75, 매우 나쁨 above)."""
    if pm25 is None:
        return "–"
    for limit, korean, english in ((15, "좋음", "good"), (35, "보통", "moderate"), (75, "나쁨", "bad")):
        if pm25 <= limit:
            return korean if ko else english
    return "매우 나쁨" if ko else "very bad"
