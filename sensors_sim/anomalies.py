"""Labelled anomalies: planned from a seed, applied to generated values, kept as ground truth.

Kinds: ``spike`` (one report far off), ``level_shift`` (a step for hours), ``drift``
(a growing offset), ``stuck`` (the same value repeated), ``dropout`` (no reports),
``noise_burst`` (much noisier reports). Each planned anomaly has its device, metric,
kind, first and last affected report time: analytics is scored against exactly that.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from contract.kinds import VARIABLE_METRICS_BY_KIND
from contract.vocabulary import FAULT_BOUNDS
from sensors_sim.signals import Block, generate, hash_id, normal

KINDS = ("spike", "level_shift", "drift", "stuck", "dropout", "noise_burst")
# Metrics that can go wrong, and where a fault stays: the contract's.
AFFECTED = VARIABLE_METRICS_BY_KIND
LIMITS = FAULT_BOUNDS
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
        rng = np.random.default_rng([seed, 303, hash_id(str(device_id)), int(start_s)])
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


def with_reference(fleet: pd.DataFrame, truth: pd.DataFrame, *, seed: int, interval_s: float) -> pd.DataFrame:
    """``truth`` with the two numbers that make applying it independent of chunking.

    ``scale``: the spread of the clean series over the day the plan starts (its
    standard deviation, at least 5% of its mean), so an anomaly is as large whether a
    report is generated alone (live) or with a month of others (backfill).
    ``base_value``: for stuck anomalies, the clean value at the first stuck report.
    """
    truth = truth.copy()
    if truth.empty:
        return truth.assign(scale=pd.Series(dtype=float), base_value=pd.Series(dtype=float))
    devices = fleet[fleet["device_id"].isin(set(truth["device_id"]))].drop_duplicates("device_id")
    day0_s = np.floor(float(truth["started_at"].min()) / 86400) * 86400
    blocks = generate(devices, day0_s + np.arange(24) * 3600.0, seed=seed, interval_s=interval_s)
    spread: dict[tuple[str, str], float] = {}
    for block in blocks:
        for metric, values in block.values.items():
            std = values.std(axis=1)
            floor = 0.05 * np.abs(values.mean(axis=1))
            for i, device_id in enumerate(block.device_ids):
                spread[(device_id, metric)] = max(float(std[i]), float(floor[i]), 1e-3)
    truth["scale"] = [spread.get((d, m), 1.0) for d, m in zip(truth["device_id"], truth["metric"], strict=True)]
    base = np.full(len(truth), np.nan)
    by_id = devices.set_index("device_id", drop=False)
    rows = zip(truth["device_id"], truth["metric"], truth["kind"], truth["started_at"], strict=True)
    for n, (device_id, metric, kind, started_at) in enumerate(rows):
        if kind != "stuck" or device_id not in by_id.index:
            continue
        one = by_id.loc[[device_id]]
        generated = generate(one, np.array([float(started_at)]), seed=seed, interval_s=interval_s)[0].values
        if metric in generated:
            base[n] = float(generated[str(metric)][0, 0])
    truth["base_value"] = base
    return truth


def apply(blocks: list[Block], times_s: np.ndarray, truth: pd.DataFrame, *, seed: int, interval_s: float) -> None:
    """Change ``blocks`` in place as ``truth`` says; dropouts become NaN (nothing is sent).

    ``truth`` should carry ``scale`` and ``base_value`` (see ``with_reference``); without
    them they are estimated from ``blocks`` themselves, which depends on the chunk.
    Every change is a function of the report's own time, so applying a day at once or
    one report at a time gives the same values.
    """
    if truth.empty or len(times_s) == 0:
        return
    live = truth[(truth["ended_at"] >= float(times_s[0])) & (truth["started_at"] <= float(times_s[-1]))]
    if live.empty:
        return
    where = {d: (b, i) for b in blocks for i, d in enumerate(b.device_ids)}
    has_reference = {"scale", "base_value"} <= set(live.columns)
    for record in live.to_dict("records"):
        found = where.get(str(record["device_id"]))
        if found is None:
            continue
        block, i = found
        series = block.values.get(str(record["metric"]))
        if series is None:
            continue
        started, ended = float(record["started_at"]), float(record["ended_at"])
        idx = np.flatnonzero((times_s >= started) & (times_s <= ended))
        if not len(idx):
            continue
        values = series[i]
        if has_reference:
            scale = float(record["scale"])
        else:
            scale = max(float(np.nanstd(values)), 0.05 * abs(float(np.nanmean(values))), 1e-3)
        magnitude = float(record["magnitude"])
        kind = str(record["kind"])
        if kind == "spike":
            values[idx] = values[idx] + magnitude * scale * 1.5
        elif kind == "level_shift":
            values[idx] = values[idx] + magnitude * scale
        elif kind == "drift":
            progress = (times_s[idx] - started) / max(ended - started, 1.0)
            values[idx] = values[idx] + magnitude * scale * (0.1 + 0.9 * progress)
        elif kind == "stuck":
            base = float(record["base_value"]) if has_reference else float("nan")
            values[idx] = values[idx[0]] if np.isnan(base) else base
        elif kind == "dropout":
            values[idx] = np.nan
        elif kind == "noise_burst":
            steps = np.floor(times_s[idx] / max(interval_s, 1e-3)).astype(np.int64)
            burst = normal(np.array([hash_id(str(record["device_id"]))], dtype=np.uint64), steps, 900, seed)[0]
            values[idx] = values[idx] + abs(magnitude) * scale * burst
        low, high = LIMITS.get(str(record["metric"]), (0.0, np.inf))
        np.clip(values, low, high, out=values, where=~np.isnan(values))
