"""Candidate forecast models, each fitted once and then re-run cheaply on longer data.

Every model is a pure function of a regular series (values and their timestamps):
``fit`` estimates parameters on the data it is given; ``Fitted.extend`` re-runs the
same parameters on a longer series (new data, no re-estimation), which is what a
rolling-origin backtest needs to stay cheap; ``Fitted.forecast`` gives the mean path.

Seasons are counted in steps of the series (24 = a day of hourly buckets). Weekly
terms are used only when the series holds at least two weeks.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd
from statsmodels.tools.sm_exceptions import ConvergenceWarning
from statsmodels.tsa.holtwinters import ExponentialSmoothing
from statsmodels.tsa.seasonal import MSTL
from statsmodels.tsa.statespace.sarimax import SARIMAX


class Fitted(Protocol):
    name: str

    def forecast(self, steps: int) -> np.ndarray: ...

    def extend(self, y: np.ndarray, index: pd.DatetimeIndex) -> Fitted: ...


Fit = Callable[[np.ndarray, pd.DatetimeIndex, int], Fitted]


@contextmanager
def _quiet() -> Iterator[None]:
    """Fits on short or flat series warn a lot; the backtest, not the warning, judges them."""
    with warnings.catch_warnings():
        for category in (ConvergenceWarning, RuntimeWarning, UserWarning, FutureWarning):
            warnings.simplefilter("ignore", category)
        yield


_HW_BOUNDS = {"smoothing_level": (0.0, 0.5)}


# -- Holt-Winters: additive daily or weekly season -------------------------------------------------
@dataclass
class HoltWinters:
    season: int
    params: dict[str, float]
    result: object | None = None
    name: str = "holt_winters"

    def forecast(self, steps: int) -> np.ndarray:
        return np.asarray(self.result.forecast(steps), dtype=float)  # type: ignore[attr-defined]

    def extend(self, y: np.ndarray, index: pd.DatetimeIndex) -> HoltWinters:
        model = ExponentialSmoothing(
            y, seasonal="add", seasonal_periods=self.season, initialization_method="heuristic", bounds=_HW_BOUNDS
        )
        with _quiet():
            result = model.fit(optimized=False, **self.params)
        return HoltWinters(self.season, self.params, result=result)


def holt_winters(y: np.ndarray, index: pd.DatetimeIndex, season: int) -> HoltWinters:
    # A weekly season when two weeks are there: weekends and weekdays differ, and a daily
    # season alone pushes the level's smoothing towards 1 (a random walk) to make up for it.
    season = 7 * season if len(y) >= 14 * season else season
    model = ExponentialSmoothing(
        y, seasonal="add", seasonal_periods=season, initialization_method="heuristic", bounds=_HW_BOUNDS
    )
    with _quiet():
        result = model.fit()
    params = {
        "smoothing_level": float(result.params["smoothing_level"]),
        "smoothing_seasonal": float(result.params["smoothing_seasonal"]),
    }
    return HoltWinters(season, params, result=result)


# STL's smoothers evaluated at every 5th point and interpolated between: 5x faster, and
# the seasonal shapes of hourly city data do not change within five hours.
_STL_FAST = {"seasonal_jump": 5, "trend_jump": 5, "low_pass_jump": 5}


# -- MSTL: daily and weekly seasons, level by simple exponential smoothing ---------------
@dataclass
class Mstl:
    periods: tuple[int, ...]
    profiles: list[np.ndarray]  # one seasonal profile per period, phase 0 at step 0
    alpha: float
    level: float
    n: int
    name: str = "mstl"

    def forecast(self, steps: int) -> np.ndarray:
        return self.level + _seasonal_path(self.periods, self.profiles, self.n, steps)

    def extend(self, y: np.ndarray, index: pd.DatetimeIndex) -> Mstl:
        adjusted = y - _seasonal_path(self.periods, self.profiles, 0, len(y))
        return Mstl(self.periods, self.profiles, self.alpha, _ses(adjusted, self.alpha)[0], len(y))


def _seasonal_path(periods: tuple[int, ...], profiles: list[np.ndarray], start: int, steps: int) -> np.ndarray:
    """The sum of the seasonal profiles over steps ``start`` .. ``start + steps - 1``."""
    out = np.zeros(steps)
    for period, profile in zip(periods, profiles, strict=True):
        out += profile[(start + np.arange(steps)) % period]
    return out


def _by_phase(last_period: np.ndarray, n: int) -> np.ndarray:
    """The values of a series' last period (of ``n`` points) re-ordered so element i is step i (mod period)."""
    period = len(last_period)
    profile = np.empty(period)
    profile[np.arange(n - period, n) % period] = last_period
    return profile


def _ses(x: np.ndarray, alpha: float) -> tuple[float, float]:
    """Simple exponential smoothing of ``x``: its last level and the one-step squared error.

    A short loop; x is a few hundred points.
    """
    level, sse = float(x[0]), 0.0
    for value in x[1:]:
        err = float(value) - level
        sse += err * err
        level += alpha * err
    return level, sse


def _ses_alpha(x: np.ndarray) -> float:
    """The smoothing constant with the least one-step squared error, on a small grid."""
    return min((0.05, 0.1, 0.2, 0.35, 0.5, 0.7, 0.9), key=lambda alpha: _ses(x, alpha)[1])


def mstl(y: np.ndarray, index: pd.DatetimeIndex, season: int) -> Mstl:
    week = 7 * season
    periods: tuple[int, ...] = (season, week) if len(y) >= 2 * week else (season,)
    with _quiet():
        result = MSTL(y, periods=periods if len(periods) > 1 else periods[0], iterate=1, stl_kwargs=_STL_FAST).fit()
    seasonal = np.asarray(result.seasonal).reshape(len(y), -1)
    # each season's latest full period
    profiles = [_by_phase(seasonal[-period:, k], len(y)) for k, period in enumerate(periods)]
    adjusted = y - _seasonal_path(periods, profiles, 0, len(y))
    alpha = _ses_alpha(adjusted[-4 * season :])
    return Mstl(periods, profiles, alpha, _ses(adjusted, alpha)[0], len(y))


# -- SARIMAX: AR(1) errors around the mean week of the recent past -----------------------
def week_profile(y: np.ndarray, season: int, *, weeks: int = 3) -> np.ndarray:
    """Mean of each step of the week over the last ``weeks`` weeks (fewer when not there).

    Element i belongs to step i of the series (mod one week); with less than a week of
    data the daily season is used instead.
    """
    period = 7 * season if len(y) >= 7 * season else season
    full = min(weeks, len(y) // period)
    tail = y[len(y) - full * period :].reshape(full, period)
    return _by_phase(tail.mean(axis=0), len(y))


def _ols_start(y: np.ndarray, exog: np.ndarray, *, constant: bool) -> list[float]:
    """Least-squares regression and the lag-1 autocorrelation of its residuals: a start
    close to the maximum likelihood, so the optimiser needs a few steps, not fifty."""
    design = np.column_stack([np.ones(len(y)), exog]) if constant else exog
    beta = np.linalg.lstsq(design, y, rcond=None)[0]
    resid = y - design @ beta
    phi = float(np.clip(np.corrcoef(resid[:-1], resid[1:])[0, 1], -0.95, 0.95)) if np.std(resid) > 0 else 0.0
    variance = max(float(np.var(resid[1:] - phi * resid[:-1])), 1e-9)
    return [*map(float, beta), phi, variance]


def _trend(profile: np.ndarray) -> str:
    """A constant term, unless the profile is flat (then it is the constant)."""
    return "n" if np.ptp(profile) < 1e-12 else "c"


@dataclass
class Sarimax:
    profile: np.ndarray
    params: np.ndarray
    y: np.ndarray
    name: str = "sarimax"

    def _exog(self, start: int, steps: int) -> np.ndarray:
        return self.profile[(start + np.arange(steps)) % len(self.profile)][:, None]

    def forecast(self, steps: int) -> np.ndarray:
        model = SARIMAX(self.y, exog=self._exog(0, len(self.y)), order=(1, 0, 0), trend=_trend(self.profile))
        with _quiet():
            result = model.filter(self.params)
            return np.asarray(result.forecast(steps, exog=self._exog(len(self.y), steps)), dtype=float)

    def extend(self, y: np.ndarray, index: pd.DatetimeIndex) -> Sarimax:
        return Sarimax(self.profile, self.params, y)


def sarimax(y: np.ndarray, index: pd.DatetimeIndex, season: int) -> Sarimax:
    profile = week_profile(y, season)
    fitted = Sarimax(profile, np.zeros(0), y)
    exog = fitted._exog(0, len(y))
    model = SARIMAX(y, exog=exog, order=(1, 0, 0), trend=_trend(profile))
    with _quiet():
        result = model.fit(start_params=_ols_start(y, exog, constant=_trend(profile) == "c"), disp=False, maxiter=20)
    return Sarimax(profile, np.asarray(result.params), y)


# Seasonal naive is the yardstick (MASE), not a candidate: chosen on two noisy backtest
# days it would win by luck where a fitted model is better on the days that follow.
CANDIDATES: dict[str, Fit] = {
    "holt_winters": holt_winters,
    "mstl": mstl,
    "sarimax": sarimax,
}
