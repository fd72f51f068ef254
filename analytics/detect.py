"""Anomaly detectors and the merge of raw flags into episodes: pure functions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

# MAD to standard deviation for normal data.
MAD_SCALE = 1.4826


@dataclass(frozen=True)
class Episode:
    start: pd.Timestamp
    end: pd.Timestamp
    kind: str
    severity: float
    explanation: str


def spikes(series: pd.Series, *, window: int = 24, threshold: float = 6.0) -> pd.Series:
    """Points far from the local level of the three points before them.

    The residual against that level is scaled by the robust spread (MAD) of the
    residuals in the ``window`` points before, so smooth daily cycles do not count;
    only the past is used, so the detector works online.

    Returns a boolean Series: True where the robust z-score exceeds ``threshold``.
    """
    level = series.shift(1).rolling(3, min_periods=2).median()
    residual = series - level
    past = residual.shift(1)
    min_periods = max(6, window // 3)
    center = past.rolling(window, min_periods=min_periods).median()
    spread = (past - center).abs().rolling(window, min_periods=min_periods).median() * MAD_SCALE
    floor = max(float(series.abs().median()) * 0.005, 1e-6)
    z = (residual - center) / spread.clip(lower=floor)
    return z.abs() > threshold


def stuck(series: pd.Series, *, min_run: int = 12) -> pd.Series:
    """True on runs of at least ``min_run`` identical consecutive values of a varying series."""
    if series.nunique() <= 1:
        return pd.Series(False, index=series.index)
    run_id = (series != series.shift()).cumsum()
    run_len = series.groupby(run_id).transform("size")
    return run_len >= min_run


def episodes(flags: pd.Series, series: pd.Series, *, kind: str, max_gap: int = 1) -> list[Episode]:
    """Merge flagged points (True) separated by at most ``max_gap`` clear points into episodes."""
    idx = np.flatnonzero(flags.to_numpy(dtype=bool))
    if idx.size == 0:
        return []
    out: list[Episode] = []
    start = prev = int(idx[0])
    for i in [int(v) for v in idx[1:]] + [None]:
        if i is not None and i - prev <= max_gap + 1:
            prev = i
            continue
        chunk = series.iloc[start : prev + 1]
        baseline = float(series.median())
        peak = float(chunk.iloc[np.argmax(np.abs(chunk.to_numpy() - baseline))])
        severity = abs(peak - baseline) / (float(series.std()) or 1.0)
        if kind == "stuck":
            words = f"value stuck at {peak:g} for {prev - start + 1} reports"
        else:
            words = f"{kind}: {peak:g} against a typical {baseline:g}"
        out.append(Episode(series.index[start], series.index[prev], kind, round(severity, 2), words))
        if i is not None:
            start = prev = i
    return out
