"""Scores against known answers: detection against labelled windows, forecasts against actuals.

Pure functions over DataFrames. Episodes and truth windows share the columns
``device_id, metric, kind, started_at, ended_at``. An episode *matches* a window of the
same series when they overlap (the window widened by ``tolerance``); a window is
*found* when some episode matches it; an episode matching no window is a false alarm.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

WINDOW_COLUMNS = ["device_id", "metric", "kind", "started_at", "ended_at"]


@dataclass(frozen=True)
class DetectionScore:
    precision: float
    recall: float
    f1: float
    episodes: int
    windows: int
    median_delay_s: float | None
    by_kind: dict[str, dict[str, float]] = field(default_factory=dict)
    kind_accuracy: float | None = None


def _f1(precision: float, recall: float) -> float:
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def match(episodes: pd.DataFrame, truth: pd.DataFrame, *, tolerance: pd.Timedelta) -> pd.DataFrame:
    """Pairs (episode row, truth row) that overlap on the same series, with the delay."""
    if episodes.empty or truth.empty:
        return pd.DataFrame(columns=["episode", "window", "delay_s", "same_kind"])
    e = episodes.reset_index(drop=True).rename_axis("episode").reset_index()
    w = truth.reset_index(drop=True).rename_axis("window").reset_index()
    pairs = e.merge(w, on=["device_id", "metric"], suffixes=("_e", "_w"))
    overlap = (pairs["started_at_e"] <= pairs["ended_at_w"] + tolerance) & (
        pairs["ended_at_e"] >= pairs["started_at_w"] - tolerance
    )
    pairs = pairs[overlap]
    delay = (pairs["started_at_e"] - pairs["started_at_w"]).dt.total_seconds().clip(lower=0.0)
    return pd.DataFrame(
        {
            "episode": pairs["episode"].to_numpy(),
            "window": pairs["window"].to_numpy(),
            "delay_s": delay.to_numpy(),
            "same_kind": (pairs["kind_e"] == pairs["kind_w"]).to_numpy(),
        }
    )


def detection(episodes: pd.DataFrame, truth: pd.DataFrame, *, tolerance: pd.Timedelta) -> DetectionScore:
    """Precision, recall and F1 overall and per kind, and the median delay to the first match.

    Per kind, recall counts the windows of that kind that were found (whatever kind the
    episode was given) and precision the episodes given that kind that match a window.
    """
    pairs = match(episodes, truth, tolerance=tolerance)
    tp_episodes = set(pairs["episode"])
    found = set(pairs["window"])
    precision = len(tp_episodes) / len(episodes) if len(episodes) else 1.0
    recall = len(found) / len(truth) if len(truth) else 1.0
    delays = pairs.groupby("window")["delay_s"].min() if not pairs.empty else pd.Series(dtype=float)
    by_kind: dict[str, dict[str, float]] = {}
    kinds = sorted(set(truth.get("kind", pd.Series(dtype=str))) | set(episodes.get("kind", pd.Series(dtype=str))))
    for kind in kinds:
        windows = np.flatnonzero(truth["kind"].to_numpy() == kind) if len(truth) else np.array([], dtype=int)
        given = np.flatnonzero(episodes["kind"].to_numpy() == kind) if len(episodes) else np.array([], dtype=int)
        k_recall = float(np.isin(windows, list(found)).mean()) if len(windows) else float("nan")
        k_precision = float(np.isin(given, list(tp_episodes)).mean()) if len(given) else float("nan")
        by_kind[kind] = {
            "windows": float(len(windows)),
            "episodes": float(len(given)),
            "recall": k_recall,
            "precision": k_precision,
            "f1": _f1(k_precision, k_recall) if not (np.isnan(k_precision) or np.isnan(k_recall)) else float("nan"),
        }
    first = pairs.sort_values("delay_s").drop_duplicates("window") if not pairs.empty else pairs
    return DetectionScore(
        precision=precision,
        recall=recall,
        f1=_f1(precision, recall),
        episodes=len(episodes),
        windows=len(truth),
        median_delay_s=float(delays.median()) if len(delays) else None,
        by_kind=by_kind,
        kind_accuracy=float(first["same_kind"].mean()) if len(first) else None,
    )


def mase(actual: np.ndarray, predicted: np.ndarray, naive: np.ndarray) -> float:
    """Mean absolute error of ``predicted`` over that of the seasonal-naive ``naive`` (NaN if naive is exact)."""
    denominator = float(np.mean(np.abs(actual - naive)))
    if denominator <= 1e-12:
        return float("nan")
    return float(np.mean(np.abs(actual - predicted))) / denominator


def coverage(actual: np.ndarray, low: np.ndarray, high: np.ndarray) -> float:
    """Share of ``actual`` inside [low, high]."""
    return float(np.mean((actual >= low) & (actual <= high))) if len(actual) else float("nan")


def windows_from_labels(labels: dict[str, list[list[str]]]) -> dict[str, list[tuple[pd.Timestamp, pd.Timestamp]]]:
    """NAB-style ``{file: [[start, end], ...]}`` as timestamps, keyed by the file's base name."""
    out = {}
    for name, pairs in labels.items():
        out[name.rsplit("/", 1)[-1]] = [(pd.Timestamp(a), pd.Timestamp(b)) for a, b in pairs]
    return out


def window_recall(starts: list[pd.Timestamp], windows: list[tuple[pd.Timestamp, pd.Timestamp]]) -> tuple[int, int]:
    """NAB-style: (windows with an episode starting inside, episodes starting outside every window)."""
    found = sum(any(a <= s <= b for s in starts) for a, b in windows)
    false_alarms = sum(not any(a <= s <= b for a, b in windows) for s in starts)
    return found, false_alarms
