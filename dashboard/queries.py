"""Every SQL statement the dashboard runs, and the small functions that run them.

Each function takes a DSN and returns plain Python data or a DataFrame; a database
that cannot be reached raises :class:`DataUnavailable` so pages can show the banner.
"""

from __future__ import annotations

import atexit
import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import psycopg
from psycopg_pool import ConnectionPool

from analytics import episodes
from analytics.passes import FLEET
from contract.topics import class_topic
from dashboard.errors import DataUnavailable
from storage import completeness as completeness_scoring
from storage import history

DISTRICT = """
SELECT district, name, name_en, center_lon_deg, center_lat_deg, attribution
FROM districts WHERE district = %s
"""

BUILDINGS = """
SELECT building_id, name, use, height_m, floors, synthetic,
       ST_AsGeoJSON(geom_wgs84, 5)::json -> 'coordinates' -> 0 AS ring
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

# Devices known but not placed (auto-registered from a source, or imported without a place):
# staff place them with ``smartcity devices import``.
UNPLACED = """
SELECT device_id, kind, source, registered_at, count(*) OVER ()
FROM devices WHERE district = %s AND lon_deg IS NULL AND source <> 'class'
ORDER BY registered_at DESC, device_id LIMIT %s
"""

KPIS = """
SELECT count(*) FILTER (WHERE time > now() - interval '1 minute') AS readings_last_minute,
       max(time) AS newest
FROM readings WHERE time > now() - interval '1 hour'
"""

OPEN_ANOMALIES = "SELECT count(*) FROM anomalies WHERE NOT acknowledged AND detected_at > now() - interval '1 day'"


# The app factory opens one pool per DSN for its process (open_pool); callers outside an
# app (tests, scripts) get a connection of their own.
_POOLS: dict[str, ConnectionPool[psycopg.Connection[tuple[Any, ...]]]] = {}


def open_pool(dsn: str, *, max_size: int = 8) -> None:
    """Serve this process's queries on ``dsn`` from a connection pool (checked on each use,
    so a database that was restarted is found again). Idempotent."""
    if dsn in _POOLS:
        return
    pool: ConnectionPool[psycopg.Connection[tuple[Any, ...]]] = ConnectionPool(
        dsn, min_size=1, max_size=max_size, timeout=3.0, open=False,
        kwargs={"connect_timeout": 3}, check=ConnectionPool.check_connection,
    )  # fmt: skip
    pool.open(wait=False)
    _POOLS[dsn] = pool
    # closed before the interpreter's teardown, so its threads stop cleanly (at teardown
    # they cannot be joined and each costs a 5 s wait)
    atexit.register(pool.close)


def close_pools() -> None:
    """Close every pool this process opened (an app shut down inside a longer process)."""
    while _POOLS:
        _, pool = _POOLS.popitem()
        pool.close()


@contextlib.contextmanager
def connection(dsn: str) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
    """A connection from the process's pool for ``dsn``, or a new one; committed on success.

    Raises:
        DataUnavailable: the database cannot be reached.
    """
    try:
        pool = _POOLS.get(dsn)
        if pool is None:
            with psycopg.connect(dsn, connect_timeout=3) as conn:
                yield conn
        else:
            with pool.connection() as conn:
                yield conn
    except psycopg.Error as exc:
        raise DataUnavailable(f"database unavailable: {exc}") from exc


def _fetch(dsn: str, query: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[tuple[Any, ...]]:
    with connection(dsn) as conn:
        return conn.execute(query, params).fetchall()


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

# The payload's bytes as stored (decoded here, not by the database: a student's binary
# garbage must not break their own page); the namespace by prefix, not LIKE ('_' is a wildcard).
CLASS_REJECTED = """
SELECT received_at, topic, reason, detail, substring(payload FROM 1 FOR 400)
FROM dead_letters WHERE starts_with(topic, %s) AND received_at > now() - interval '1 day'
ORDER BY received_at DESC LIMIT %s
"""

CLASS_ACCOUNT = """
SELECT m.class_id, m.member, m.role, m.password_hash, m.expires_at, m.revoked_at IS NOT NULL
FROM class_members m WHERE m.username = %s
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
    rows = _fetch(dsn, CLASS_REJECTED, (class_topic(class_id, member, ""), limit))
    rows = [(*row[:4], bytes(row[4]).decode("utf-8", "replace")[:200]) for row in rows]
    return pd.DataFrame(rows, columns=["received_at", "topic", "reason", "detail", "payload"])


def class_account(dsn: str, username: str) -> dict[str, Any] | None:
    """A class account's role, hash and state, for signing in; None when there is none."""
    rows = _fetch(dsn, CLASS_ACCOUNT, (username,))
    if not rows:
        return None
    keys = ("class_id", "member", "role", "password_hash", "expires_at", "revoked")
    return dict(zip(keys, rows[0], strict=True))


# -- the twin's other layers, the time slider, the building panel, the anomaly feed ----
WAYS = """
SELECT way_id, kind, name, width_m, ST_AsGeoJSON(geom_wgs84, 5)::json -> 'coordinates' AS path
FROM ways WHERE district = %s
"""

AREAS = """
SELECT area_id, name, name_en,
       ST_AsGeoJSON(ST_SimplifyPreserveTopology(geom_wgs84, 0.00002), 5)::json -> 'coordinates' AS polygons,
       ST_X(ST_PointOnSurface(geom_wgs84)) AS label_lon_deg, ST_Y(ST_PointOnSurface(geom_wgs84)) AS label_lat_deg
FROM areas WHERE district = %s ORDER BY area_id
"""

PARCELS = """
SELECT pnu, address, land_category, ST_AsGeoJSON(geom_wgs84, 5)::json -> 'coordinates' -> 0 -> 0 AS ring
FROM parcels WHERE district = %s
"""

BUILDINGS_IN_ANOMALY = """
SELECT DISTINCT s.building_id
FROM anomalies a JOIN device_sites s ON s.device_id = a.device_id
WHERE s.district = %s AND s.building_id IS NOT NULL AND NOT a.acknowledged
  AND a.ended_at > now() - interval '1 day'
"""

# The sensors' primary values an hour at a time (the time slider): time buckets, so a
# month of a thousand devices is never read row by row.
HOURLY = """
SELECT r.device_id, r.metric, time_bucket('1 hour', r.time) AS hour, avg(r.value)
FROM readings r JOIN devices d ON d.device_id = r.device_id
WHERE d.district = %s AND r.time >= %s AND r.time < %s
GROUP BY 1, 2, 3
"""

BUILDING = """
SELECT building_id, name, use, height_m, floors, year_built, address, pnu, synthetic
FROM buildings WHERE district = %s AND building_id = %s
"""

BUILDING_SENSORS = """
SELECT s.device_id, s.kind, round(ST_Distance(s.geom, b.geom)::numeric, 1)::float8 AS distance_m
FROM buildings b JOIN device_sites s ON s.district = b.district AND ST_DWithin(s.geom, b.geom, %s)
WHERE b.district = %s AND b.building_id = %s
ORDER BY distance_m, s.device_id
"""

SERIES = """
SELECT device_id, metric, time_bucket(%s::interval, time) AS t, avg(value) AS value
FROM readings WHERE device_id = ANY(%s) AND time > now() - %s::interval
GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
"""

FORECAST = """
SELECT DISTINCT ON (device_id, metric, time) device_id, metric, time, yhat, lo80, hi80, lo95, hi95, model
FROM forecasts WHERE device_id = ANY(%s) AND time > now() - interval '1 hour'
ORDER BY device_id, metric, time, made_at DESC
"""

DEVICE_ANOMALIES = """
SELECT id, device_id, metric, started_at, ended_at, kind, severity, explanation, acknowledged
FROM anomalies WHERE device_id = ANY(%s) AND ended_at > now() - interval '2 days'
ORDER BY started_at
"""

ANOMALY_FEED = """
SELECT a.id, a.device_id, a.metric, a.started_at, a.ended_at, a.kind, a.severity, a.explanation
FROM anomalies a LEFT JOIN devices d ON d.device_id = a.device_id
WHERE (d.district = %s OR a.device_id = %s) AND NOT a.acknowledged AND a.detected_at > now() - interval '1 day'
ORDER BY a.detected_at DESC LIMIT %s
"""


# The district's own forecast (analytics forecasts districts as series ``district:<id>``),
# its newest run: a primary-key range of a few hundred rows.
NEXT_24H = """
SELECT DISTINCT ON (metric, time) metric, time, yhat, hi95
FROM forecasts
WHERE device_id = 'district:' || %(district)s AND metric = ANY(%(metrics)s)
  AND time BETWEEN now() AND now() + interval '24 hours'
ORDER BY metric, time, made_at DESC
"""

# For a metric the district has no series of: the mean of its sensors' newest forecasts
# (runs of the last two hours only: the service keeps six hours of them).
NEXT_24H_SENSORS = """
WITH latest AS (
    SELECT DISTINCT ON (f.device_id, f.metric, f.time) f.metric, f.time, f.yhat, f.hi95
    FROM forecasts f JOIN devices d ON d.device_id = f.device_id
    WHERE d.district = %(district)s AND f.metric = ANY(%(metrics)s) AND f.made_at > now() - interval '2 hours'
      AND f.time BETWEEN now() AND now() + interval '24 hours'
    ORDER BY f.device_id, f.metric, f.time, f.made_at DESC
)
SELECT metric, time, avg(yhat), max(hi95) FROM latest GROUP BY 1, 2 ORDER BY 1, 2
"""


def ways(dsn: str, district_id: str) -> pd.DataFrame:
    return pd.DataFrame(_fetch(dsn, WAYS, (district_id,)), columns=["way_id", "kind", "name", "width_m", "path"])


def areas(dsn: str, district_id: str) -> pd.DataFrame:
    """The district's dongs (or other named areas): polygons in WGS 84 and a point to name them at."""
    columns = ["area_id", "name", "name_en", "polygons", "label_lon_deg", "label_lat_deg"]
    return pd.DataFrame(_fetch(dsn, AREAS, (district_id,)), columns=columns)


def parcels(dsn: str, district_id: str) -> pd.DataFrame:
    return pd.DataFrame(_fetch(dsn, PARCELS, (district_id,)), columns=["pnu", "address", "land_category", "ring"])


def buildings_in_anomaly(dsn: str, district_id: str) -> set[str]:
    return {str(r[0]) for r in _fetch(dsn, BUILDINGS_IN_ANOMALY, (district_id,))}


def hourly(dsn: str, district_id: str, start: Any, end: Any) -> pd.DataFrame:
    rows = _fetch(dsn, HOURLY, (district_id, start, end))
    return pd.DataFrame(rows, columns=["device_id", "metric", "hour", "value"])


def building(dsn: str, district_id: str, building_id: str) -> dict[str, Any] | None:
    rows = _fetch(dsn, BUILDING, (district_id, building_id))
    keys = ("building_id", "name", "use", "height_m", "floors", "year_built", "address", "pnu", "synthetic")
    return dict(zip(keys, rows[0], strict=True)) if rows else None


def building_sensors(dsn: str, district_id: str, building_id: str, radius_m: float = 40.0) -> pd.DataFrame:
    rows = _fetch(dsn, BUILDING_SENSORS, (radius_m, district_id, building_id))
    return pd.DataFrame(rows, columns=["device_id", "kind", "distance_m"])


def series(dsn: str, device_ids: list[str], *, bucket: str = "15 minutes", span: str = "24 hours") -> pd.DataFrame:
    rows = _fetch(dsn, SERIES, (bucket, device_ids, span))
    return pd.DataFrame(rows, columns=["device_id", "metric", "t", "value"])


def forecasts(dsn: str, device_ids: list[str]) -> pd.DataFrame:
    rows = _fetch(dsn, FORECAST, (device_ids,))
    return pd.DataFrame(rows, columns=["device_id", "metric", "time", "yhat", "lo80", "hi80", "lo95", "hi95", "model"])


def device_anomalies(dsn: str, device_ids: list[str]) -> pd.DataFrame:
    rows = _fetch(dsn, DEVICE_ANOMALIES, (device_ids,))
    columns = ["id", "device_id", "metric", "started_at", "ended_at", "kind", "severity", "explanation", "acknowledged"]
    return pd.DataFrame(rows, columns=columns)


def anomaly_feed(dsn: str, district_id: str, limit: int = 12) -> pd.DataFrame:
    rows = _fetch(dsn, ANOMALY_FEED, (district_id, FLEET, limit))  # the fleet's silences too
    columns = ["id", "device_id", "metric", "started_at", "ended_at", "kind", "severity", "explanation"]
    return pd.DataFrame(rows, columns=columns)


def unplaced_devices(dsn: str, district_id: str, limit: int = 8) -> tuple[pd.DataFrame, int]:
    """The newest devices without a place, and how many there are in all."""
    rows = _fetch(dsn, UNPLACED, (district_id, limit))
    total = int(rows[0][4]) if rows else 0
    return pd.DataFrame([r[:4] for r in rows], columns=["device_id", "kind", "source", "registered_at"]), total


def acknowledge(dsn: str, anomaly_id: int) -> None:
    """Through analytics, which owns the anomalies table."""
    with connection(dsn) as conn:
        episodes.acknowledge(conn, anomaly_id)


def next_24h(dsn: str, district_id: str, metrics: list[str]) -> pd.DataFrame:
    """The next 24 hours of forecasts of ``metrics``: the district's own series, or the
    mean of its sensors' for a metric it has none of. Columns metric, hour, yhat, hi95."""
    rows = _fetch(dsn, NEXT_24H, {"district": district_id, "metrics": metrics})
    missing = sorted(set(metrics) - {r[0] for r in rows})
    if missing:
        rows += _fetch(dsn, NEXT_24H_SENSORS, {"district": district_id, "metrics": missing})
    return pd.DataFrame(rows, columns=["metric", "hour", "yhat", "hi95"])


# -- long views and completeness (the storage lifecycle's rollups) ----------------------------
def long_views(dsn: str, pairs: list[tuple[str, str]], days: int = 365) -> dict[tuple[str, str], pd.DataFrame]:
    """Each (device, metric)'s daily values (mean, min, max) over the last ``days`` city days."""
    last = datetime.now(UTC).date()
    first = last - timedelta(days=days)
    with connection(dsn) as conn:
        return {(d, m): history.daily(conn, d, m, first, last) for d, m in pairs}


def district_long_view(dsn: str, district_id: str, metric: str, days: int = 365) -> pd.DataFrame:
    last = datetime.now(UTC).date()
    with connection(dsn) as conn:
        return history.district_daily(conn, district_id, metric, last - timedelta(days=days), last)


def completeness(dsn: str, district_id: str | None, hours: float = 24.0) -> tuple[pd.DataFrame, float | None]:
    """Every device's expected against received readings over the last ``hours``, worst first, and the overall %."""
    end = datetime.now(UTC)
    with connection(dsn) as conn:
        scored = completeness_scoring.report(conn, end - timedelta(hours=hours), end, district_id)
    return scored, completeness_scoring.overall_pct(scored)
