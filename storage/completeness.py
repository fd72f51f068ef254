"""Completeness: for every device, the reports it should have sent (its cadence, learnt
from the week before, or declared) against those received, dead-lettered and late.

:func:`score` is pure (DataFrames in and out); :func:`report` reads what it needs.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import psycopg

from storage import queries

COLUMNS = ["device_id", "kind", "district", "cadence_s", "expected", "received", "dead_lettered", "late",
           "completeness_pct"]  # fmt: skip


def score(
    hours: pd.DataFrame, devices: pd.DataFrame, start: datetime, end: datetime, *,
    declared_cadence_s: dict[str, float] | None = None,
) -> pd.DataFrame:  # fmt: skip
    """Per device, worst first.

    Args:
        hours: device_id, bucket, received, late (per device and hour of the window).
        devices: device_id, kind, district, registered_at, usual_per_hour, dead_lettered.
        declared_cadence_s: a device's declared seconds between reports, over the learnt one.

    A device is expected to report from the later of ``start`` and its registration (or
    its first report, if earlier); an
    hour counts at most what the cadence expects (a device reporting twice as often is
    complete, not 200%); a device with no cadence learnt yet and nothing received counts
    as expecting nothing (it is listed, with no percentage).
    """
    declared = declared_cadence_s or {}
    by_device = {name: group for name, group in hours.groupby("device_id")} if len(hours) else {}
    rows = []
    for device in devices.to_dict("records"):
        mine = by_device.get(device["device_id"])
        received = int(mine["received"].sum()) if mine is not None else 0
        late = int(mine["late"].sum()) if mine is not None else 0
        cadence_s = declared.get(device["device_id"])
        if cadence_s is None and device["usual_per_hour"] and not pd.isna(device["usual_per_hour"]):
            cadence_s = 3600.0 / float(device["usual_per_hour"])
        expected = pct = np.nan
        if cadence_s:
            per_hour = 3600.0 / cadence_s
            since = pd.Timestamp(device["registered_at"]).to_pydatetime() if device["registered_at"] else start
            if mine is not None:  # data from before its registration (a backfill, an import) counts it in
                since = min(since, pd.Timestamp(mine["bucket"].min()).to_pydatetime())
            expected = per_hour * max(0.0, (end - max(start, since)) / timedelta(hours=1))
            counted = float(np.minimum(mine["received"], per_hour).sum()) if mine is not None else 0.0
            pct = 100.0 * min(counted, expected) / expected if expected > 0 else np.nan
        rows.append((device["device_id"], device["kind"], device["district"], _round(cadence_s, 1), _round(expected, 1),
                     received, int(device["dead_lettered"]), late, _round(pct, 2)))  # fmt: skip
    out = pd.DataFrame(rows, columns=COLUMNS)
    return out.sort_values(["completeness_pct", "device_id"], na_position="last", kind="stable").reset_index(drop=True)


def _round(value: float | None, digits: int) -> float:
    return np.nan if value is None or pd.isna(value) else round(float(value), digits)


def overall_pct(scored: pd.DataFrame) -> float | None:
    """Expected readings received, over every device with an expectation."""
    known = scored.dropna(subset=["expected", "completeness_pct"])
    if known.empty or known["expected"].sum() == 0:
        return None
    got = (known["completeness_pct"] / 100.0 * known["expected"]).sum()
    return round(100.0 * got / known["expected"].sum(), 2)


_HOURS = ["device_id", "bucket", "received", "late"]
_DEVICES = ["device_id", "kind", "district", "registered_at", "usual_per_hour", "dead_lettered"]


def report(conn: psycopg.Connection[Any], start: datetime, end: datetime, district: str | None = None) -> pd.DataFrame:
    """:func:`score` over the database's rollups, dead letters and device list."""
    params = {"start": start, "end": end, "district": district}
    hours = pd.DataFrame(conn.execute(queries.COMPLETENESS_HOURS, params).fetchall(), columns=_HOURS)
    devices = pd.DataFrame(conn.execute(queries.COMPLETENESS_DEVICES, params).fetchall(), columns=_DEVICES)
    hours = hours[hours["device_id"].isin(devices["device_id"])] if len(hours) else hours
    return score(hours, devices, start, end)
