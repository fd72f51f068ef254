"""Points far from their own seasonal neighbours: what fitting and baselines should not learn from.

One pure function, shared by the forecasts (which fit on the cleaned series) and the
detectors (whose baselines read earlier days without last week's fault in them).
"""

from __future__ import annotations

import numpy as np


def seasonal_outliers(y: np.ndarray, season_steps: int, *, z: float = 5.0) -> tuple[np.ndarray, np.ndarray]:
    """(outlier mask, reference) of a regular series ``y`` (NaN where missing).

    The reference of each point is the median of itself and the same step one to three
    weeks before and after it (days, with under two weeks of data): the point itself is
    one of the votes, so with two neighbours, one of them anomalous, the median of three
    is still a normal value. Points more than ``z`` robust deviations from their
    reference, and their neighbours in time, are outliers; points with fewer than two
    seasonal neighbours are never outliers (too few votes).
    """
    n = len(y)
    outlier = np.zeros(n, dtype=bool)
    period = 7 * season_steps if n >= 14 * season_steps else season_steps
    lags = [k * period for k in (-3, -2, -1, 1, 2, 3) if abs(k) * period < n]
    if not lags:
        return outlier, np.asarray(y, dtype=float).copy()
    votes = np.full((len(lags) + 1, n), np.nan)
    votes[-1] = y
    for row, lag in zip(votes, lags, strict=False):
        if lag > 0:
            row[lag:] = y[:-lag]  # the value one lag earlier
        else:
            row[:lag] = y[-lag:]  # the value one lag later
    counted = np.isfinite(votes).sum(axis=0)
    with np.errstate(all="ignore"):
        reference = np.nanmedian(np.where(counted == 0, 0.0, votes), axis=0)
    reference[counted < 3] = np.nan
    residual = y - reference
    finite = residual[np.isfinite(residual)]
    if finite.size == 0:
        return outlier, reference
    spread = 1.4826 * float(np.median(np.abs(finite - np.median(finite))))
    if spread <= 0:
        return outlier, reference
    with np.errstate(invalid="ignore"):
        outlier = widened(np.abs(residual) > z * spread)
    outlier &= np.isfinite(reference)
    return outlier, reference


def widened(mask: np.ndarray) -> np.ndarray:
    """``mask`` with each True point's neighbours in time True too (a fault's edges are
    rarely clean: the points either side of it go with it)."""
    out = np.asarray(mask, dtype=bool).copy()
    out[1:] |= mask[:-1]
    out[:-1] |= mask[1:]
    return out
