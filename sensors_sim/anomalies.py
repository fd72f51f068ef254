"""Labelled anomalies: planned from a seed, applied to generated values, kept as ground truth.

Kinds: ``spike`` (one report far off), ``level_shift`` (a step for hours), ``drift``
(a growing offset), ``stuck`` (the same value repeated), ``dropout`` (no reports),
``noise_burst`` (much noisier reports). Each planned anomaly has its device, metric,
kind, first and last affected report time: analytics is scored against exactly that.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sensors_sim.signals import Block, hash_id

KINDS = ("spike", "level_shift", "drift", "stuck", "dropout", "noise_burst")
# Metrics that can go wrong (cumulative counters, capacities and switches are left alone).
AFFECTED = {
    "air": ("pm25_ugm3", "pm10_ugm3", "no2_ppb"),
    "noise": ("noise_dba",),
    "traffic": ("vehicle_count", "speed_kmh"),
    "parking": ("parking_occupied",),
    "energy": ("power_kw",),
    "water": ("water_level_m",),
    "light": ("light_power_w",),
    "footfall": ("footfall_count",),
}
_DURATION_H = {
    "spike": (0.0, 0.0),
    "level_shift": (2.0, 6.0),
    "drift": (6.0, 24.0),
    "stuck": (1.0, 4.0),
    "dropout": (0.5, 3.0),
    "noise_burst": (0.5, 2.0),
}
TRUTH_COLUMNS = ["device_id", "metric", "kind", "started_at", "ended_at", "magnitude"]


def plan(
    fleet: pd.DataFrame, start_s: float, end_s: float, *, interval_s: float, per_device_day: float, seed: int
) -> pd.DataFrame:
    """Anomalies for [start_s, end_s): about ``per_device_day`` per device and day.

    Windows are aligned to report times and never overlap on the same series.
    Returns TRUTH_COLUMNS with times as epoch seconds.
    """
    rows = []
    days = max(0.0, (end_s - start_s) / 86400)
    for device_id, kind in zip(fleet["device_id"], fleet["kind"], strict=True):
        metrics = AFFECTED.get(str(kind), ())
        if not metrics:
            continue
        rng = np.random.default_rng([seed, 303, hash_id(str(device_id))])
        count = int(rng.poisson(per_device_day * days))
        taken: list[tuple[float, float, str]] = []
        for _ in range(count):
            metric = str(metrics[int(rng.integers(len(metrics)))])
            anomaly = KINDS[int(rng.integers(len(KINDS)))]
            lo, hi = _DURATION_H[anomaly]
            duration_s = float(rng.uniform(lo, hi)) * 3600
            first = start_s + float(rng.uniform(0, max(0.0, end_s - start_s - duration_s - interval_s)))
            first = np.ceil(first / interval_s) * interval_s
            last = first + np.floor(duration_s / interval_s) * interval_s
            if last >= end_s or any(m == metric and not (last < a or first > b) for a, b, m in taken):
                continue
            taken.append((first, last, metric))
            magnitude = float(rng.uniform(4.0, 8.0)) * (1 if rng.random() < 0.8 else -1)
            rows.append((str(device_id), metric, anomaly, float(first), float(last), round(magnitude, 2)))
    frame = pd.DataFrame(rows, columns=TRUTH_COLUMNS)
    return frame.sort_values(["started_at", "device_id"], ignore_index=True)


@dataclass(frozen=True)
class _Planned:
    device_id: str
    metric: str
    kind: str
    started_at: float
    ended_at: float
    magnitude: float


def apply(blocks: list[Block], times_s: np.ndarray, truth: pd.DataFrame, *, seed: int) -> None:
    """Change ``blocks`` in place as ``truth`` says; dropouts become NaN (nothing is sent)."""
    if truth.empty:
        return
    where = {(d, b.kind): (b, i) for b in blocks for i, d in enumerate(b.device_ids)}
    kind_of = {d: k for (d, k) in where}
    for record in truth.to_dict("records"):
        row = _Planned(
            str(record["device_id"]), str(record["metric"]), str(record["kind"]),
            float(record["started_at"]), float(record["ended_at"]), float(record["magnitude"]),
        )  # fmt: skip
        kind = kind_of.get(row.device_id)
        if kind is None:
            continue
        block, i = where[(row.device_id, kind)]
        series = block.values.get(row.metric)
        if series is None:
            continue
        mask = (times_s >= row.started_at) & (times_s <= row.ended_at)
        if not mask.any():
            continue
        values = series[i]
        scale = max(float(np.nanstd(values)), 0.05 * abs(float(np.nanmean(values))), 1e-3)
        idx = np.flatnonzero(mask)
        if row.kind == "spike":
            values[idx] = values[idx] + row.magnitude * scale * 1.5
        elif row.kind == "level_shift":
            values[idx] = values[idx] + row.magnitude * scale
        elif row.kind == "drift":
            values[idx] = values[idx] + row.magnitude * scale * np.linspace(0.1, 1.0, len(idx))
        elif row.kind == "stuck":
            values[idx] = values[idx[0]]
        elif row.kind == "dropout":
            values[idx] = np.nan
        elif row.kind == "noise_burst":
            rng = np.random.default_rng([seed, 404, hash_id(row.device_id), int(row.started_at)])
            values[idx] = values[idx] + abs(row.magnitude) * scale * rng.standard_normal(len(idx))
        if row.metric not in ("speed_kmh", "temperature_c"):
            np.maximum(values, 0.0, out=values, where=~np.isnan(values))
