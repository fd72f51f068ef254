"""Every SQL statement the dashboard runs, and the small functions that run them.

Each function takes a DSN and returns plain Python data or a DataFrame; a database
that cannot be reached raises :class:`DataUnavailable` so pages can show the banner.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import psycopg

from dashboard.errors import DataUnavailable

DISTRICT = """
SELECT district, name, name_en, center_lon_deg, center_lat_deg, attribution
FROM districts WHERE district = %s
"""

BUILDINGS = """
SELECT building_id, name, use, height_m, floors, synthetic,
       ST_AsGeoJSON(ST_Transform(geom, 4326), 6)::json -> 'coordinates' -> 0 AS ring
FROM buildings WHERE district = %s
"""

BOUNDARY = """
SELECT ST_AsGeoJSON(ST_Transform(boundary, 4326), 5)::json -> 'coordinates' AS polygons
FROM districts WHERE district = %s
"""

DEVICES_LATEST = """
SELECT d.device_id, d.kind, d.lon_deg, d.lat_deg, d.building_id, l.metric, l.value, l.time
FROM devices d
LEFT JOIN latest_readings l ON l.device_id = d.device_id
WHERE d.district = %s AND d.lon_deg IS NOT NULL
"""

KPIS = """
SELECT count(*) FILTER (WHERE time > now() - interval '1 minute') AS readings_last_minute,
       max(time) AS newest
FROM readings WHERE time > now() - interval '1 hour'
"""

OPEN_ANOMALIES = "SELECT count(*) FROM anomalies WHERE NOT acknowledged AND detected_at > now() - interval '1 day'"


def _fetch(dsn: str, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    try:
        with psycopg.connect(dsn, connect_timeout=3) as conn:
            return conn.execute(query, params).fetchall()
    except psycopg.Error as exc:
        raise DataUnavailable(f"database unavailable: {exc}") from exc


def district(dsn: str, district_id: str) -> dict[str, Any] | None:
    rows = _fetch(dsn, DISTRICT, (district_id,))
    if not rows:
        return None
    keys = ("district", "name", "name_en", "center_lon_deg", "center_lat_deg", "attribution")
    return dict(zip(keys, rows[0], strict=True))


def buildings(dsn: str, district_id: str) -> pd.DataFrame:
    rows = _fetch(dsn, BUILDINGS, (district_id,))
    return pd.DataFrame(rows, columns=["building_id", "name", "use", "height_m", "floors", "synthetic", "ring"])


def boundary(dsn: str, district_id: str) -> list[Any]:
    rows = _fetch(dsn, BOUNDARY, (district_id,))
    return list(rows[0][0]) if rows and rows[0][0] else []


def devices_latest(dsn: str, district_id: str) -> pd.DataFrame:
    rows = _fetch(dsn, DEVICES_LATEST, (district_id,))
    return pd.DataFrame(
        rows, columns=["device_id", "kind", "lon_deg", "lat_deg", "building_id", "metric", "value", "time"]
    )


def kpis(dsn: str) -> dict[str, Any]:
    rows = _fetch(dsn, KPIS)
    anomalies = _fetch(dsn, OPEN_ANOMALIES)
    return {
        "readings_last_minute": int(rows[0][0] or 0),
        "newest": rows[0][1],
        "open_anomalies": int(anomalies[0][0] or 0),
    }


CLASS_MEMBER = """
SELECT m.class_id, m.member, m.role, m.sim_device_id, m.expires_at, m.revoked_at IS NOT NULL
FROM class_members m WHERE m.class_id = %s AND m.member = %s
"""

CLASS_ACCEPTED = """
SELECT r.time, r.device_id, r.metric, r.value
FROM devices d JOIN readings r ON r.device_id = d.device_id AND r.time > now() - interval '1 day'
WHERE d.district = %s AND d.owner = %s
ORDER BY r.time DESC LIMIT %s
"""

CLASS_REJECTED = """
SELECT received_at, topic, reason, detail, left(convert_from(payload, 'UTF8'), 200)
FROM dead_letters WHERE topic LIKE %s AND received_at > now() - interval '1 day'
ORDER BY received_at DESC LIMIT %s
"""


def class_member(dsn: str, class_id: str, member: str) -> dict[str, Any] | None:
    rows = _fetch(dsn, CLASS_MEMBER, (class_id, member))
    if not rows:
        return None
    keys = ("class_id", "member", "role", "sim_device_id", "expires_at", "revoked")
    return dict(zip(keys, rows[0], strict=True))


def class_accepted(dsn: str, class_id: str, member: str, limit: int = 20) -> pd.DataFrame:
    rows = _fetch(dsn, CLASS_ACCEPTED, (class_id, member, limit))
    return pd.DataFrame(rows, columns=["time", "device_id", "metric", "value"])


def class_rejected(dsn: str, class_id: str, member: str, limit: int = 20) -> pd.DataFrame:
    pattern = f"class/{class_id.replace('%', '')}/{member.replace('%', '')}/%"
    rows = _fetch(dsn, CLASS_REJECTED, (pattern, limit))
    return pd.DataFrame(rows, columns=["received_at", "topic", "reason", "detail", "payload"])
