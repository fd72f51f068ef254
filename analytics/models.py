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
from scipy.signal import lfilter
from statsmodels.tools.sm_exceptions import ConvergenceWarning
from statsmodels.tsa.exponential_smoothing.ets import _initialization_heuristic
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
    result: object | None = None  # statsmodels' fit, at the first origin
    bounds: dict[str, tuple[float, float]] | None = None
    name: str = "holt_winters"
    y: np.ndarray | None = None  # the longer series an ``extend`` re-runs the parameters on

    def forecast(self, steps: int) -> np.ndarray:
        if self.y is not None:
            return additive_holt_winters(
                self.y, self.season, self.params["smoothing_level"], self.params["smoothing_seasonal"], steps
            )
        return np.asarray(self.result.forecast(steps), dtype=float)  # type: ignore[attr-defined]

    def extend(self, y: np.ndarray, index: pd.DatetimeIndex) -> HoltWinters:
        return HoltWinters(self.season, self.params, bounds=self.bounds, name=self.name, y=y)


def additive_holt_winters(y: np.ndarray, season: int, alpha: float, gamma: float, steps: int) -> np.ndarray:
    """The forecast of additive Holt-Winters (no trend) with fixed smoothing constants, started
    from statsmodels' heuristic initial values: the recursion statsmodels'
    ``ExponentialSmoothing.fit(optimized=False)`` runs, its forecast included (which reads the
    season before the last one's final update), in a plain loop a tenth of its cost (the
    test holds the two equal)."""
    level, _, initial = _initialization_heuristic(y, False, "add", season)
    seasons = [float(v) for v in initial]
    current = float(level)
    for i, value in enumerate(y.tolist()):
        previous = seasons[i]
        seasons.append(gamma * (value - current) + (1.0 - gamma) * previous)
        current = alpha * (value - previous) + (1.0 - alpha) * current
    n = len(y)

    def at(k: int) -> float:
        return seasons[k] if k < n + season - 1 else seasons[n - 1 + (k - (n + season - 1)) % season]

    return np.array([current + at(n + j) for j in range(steps)])


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
    return HoltWinters(season, params, result=result, bounds=_HW_BOUNDS)


def holt_winters_daily(y: np.ndarray, index: pd.DatetimeIndex, season: int) -> HoltWinters:
    """Additive Holt-Winters with the daily season only and a free level: the candidate for
    series whose level wanders (a river's stage, a smog episode) more than their week repeats."""
    model = ExponentialSmoothing(y, seasonal="add", seasonal_periods=season, initialization_method="heuristic")
    with _quiet():
        result = model.fit()
    params = {
        "smoothing_level": float(result.params["smoothing_level"]),
        "smoothing_seasonal": float(result.params["smoothing_seasonal"]),
    }
    return HoltWinters(season, params, result=result, bounds=None, name="holt_winters_daily")


# STL's smoothers evaluated at every 5th point and interpolated between: 5x faster, and
# the seasonal shapes of hourly city data do not change within five hours.
_STL_FAST = {"seasonal_jump": 5, "trend_jump": 5, "low_pass_jump": 5}


# -- MSTL: daily and weekly seasons, level by simple exponential smoothing ---------------
# Seasonal smoothers spanning 51 cycles: the city's daily and weekly shapes hold steady over
# a month, and MSTL's default (7 and 11 cycles) let each day's noise into the shape
# (day-ahead MASE 3.6 against 1.15 on simulated traffic counts).
_SEASON_WINDOW = 51


@dataclass
class Mstl:
    periods: tuple[int, ...]
    profiles: list[np.ndarray]  # one seasonal profile per period, phase 0 at step 0
    alpha: float
    deseasoned: np.ndarray  # the fitted data less its seasonal components (trend + remainder)
    level: float
    n: int
    name: str = "mstl"

    def forecast(self, steps: int) -> np.ndarray:
        return self.level + _seasonal_path(self.periods, self.profiles, self.n, steps)

    def extend(self, y: np.ndarray, index: pd.DatetimeIndex) -> Mstl:
        # the fitted part keeps its own seasonal estimates; newer points lose the profiles
        fitted = len(self.deseasoned)
        newer = y[fitted:] - _seasonal_path(self.periods, self.profiles, fitted, len(y) - fitted)
        deseasoned = np.concatenate([self.deseasoned[: len(y)], newer])
        level = _ses(deseasoned, self.alpha)
        return Mstl(self.periods, self.profiles, self.alpha, self.deseasoned, level, len(y))


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


def _ses_levels(x: np.ndarray, alpha: float) -> np.ndarray:
    """The levels of simple exponential smoothing of ``x`` (level_t = a x_t + (1 - a) level_t-1)."""
    levels, _ = lfilter([alpha], [1.0, alpha - 1.0], x[1:], zi=[(1.0 - alpha) * float(x[0])])
    return np.concatenate([[float(x[0])], levels])


def _ses(x: np.ndarray, alpha: float) -> float:
    """The last level of simple exponential smoothing of ``x``."""
    return float(_ses_levels(x, alpha)[-1])


def _ses_alpha(x: np.ndarray, horizon: int) -> float:
    """The smoothing constant (on a small grid) whose level best predicts the next
    ``horizon`` points: a day-ahead forecast wants a steadier level than a one-step one."""
    shifted = np.lib.stride_tricks.sliding_window_view(x[1:], horizon)  # row t: x[t+1 .. t+horizon]

    def error(alpha: float) -> float:
        levels = _ses_levels(x, alpha)[: len(shifted)]
        return float(np.mean((shifted - levels[:, None]) ** 2))

    return min((0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.7, 0.9), key=error)


def mstl(y: np.ndarray, index: pd.DatetimeIndex, season: int) -> Mstl:
    week = 7 * season
    periods: tuple[int, ...] = (season, week) if len(y) >= 2 * week else (season,)
    with _quiet():
        result = MSTL(
            y,
            periods=periods if len(periods) > 1 else periods[0],
            windows=[_SEASON_WINDOW] * len(periods) if len(periods) > 1 else _SEASON_WINDOW,
            iterate=1,
            stl_kwargs=_STL_FAST,
        ).fit()
    seasonal = np.asarray(result.seasonal).reshape(len(y), -1)
    # each season's latest full period, repeated (the seasonal naive forecast of each component)
    profiles = [_by_phase(seasonal[-period:, k], len(y)) for k, period in enumerate(periods)]
    deseasoned = y - seasonal.sum(axis=1)
    alpha = _ses_alpha(deseasoned[-7 * season :], season)
    return Mstl(periods, profiles, alpha, deseasoned, _ses(deseasoned, alpha), len(y))


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


def _ar1_regression(y: np.ndarray, exog: np.ndarray, *, constant: bool, rounds: int = 3) -> list[float]:
    """Regression with AR(1) errors by Cochrane-Orcutt: least squares, the errors' lag-1
    coefficient, then least squares again on the quasi-differenced data, a few rounds.

    Returns SARIMAX's parameter vector: [constant,] coefficients, AR(1), error variance.
    """
    design = np.column_stack([np.ones(len(y)), exog]) if constant else exog
    beta = np.linalg.lstsq(design, y, rcond=None)[0]
    phi = 0.0
    for _ in range(rounds):
        resid = y - design @ beta
        lagged = resid[:-1]
        denominator = float(lagged @ lagged)
        phi = float(np.clip(resid[1:] @ lagged / denominator, -0.98, 0.98)) if denominator > 0 else 0.0
        beta = np.linalg.lstsq(design[1:] - phi * design[:-1], y[1:] - phi * y[:-1], rcond=None)[0]
    resid = y - design @ beta
    variance = max(float(np.var(resid[1:] - phi * resid[:-1])), 1e-9)
    if constant:  # SARIMAX's trend constant sits in the AR(1) equation: mean x (1 - phi)
        beta[0] *= 1.0 - phi
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
        """The model's forecast in closed form: for a fully observed series the Kalman filter of
        a regression with AR(1) errors knows the last error exactly, so the forecast is the
        regression line plus that error decaying by phi each step (what statsmodels'
        ``SARIMAX.filter(params).forecast`` returns, in a hundredth of the time; see
        ``statsmodels_forecast`` and the test that holds the two equal)."""
        constant = _trend(self.profile) == "c"
        *coefficients, phi, _variance = (float(p) for p in self.params)
        mean = coefficients[0] / (1.0 - phi) if constant else 0.0  # SARIMAX's intercept is mean x (1 - phi)
        beta = coefficients[1] if constant else coefficients[0]
        n = len(self.y)
        last_error = float(self.y[-1]) - mean - beta * float(self._exog(n - 1, 1)[0, 0])
        ahead = np.arange(1, steps + 1)
        return np.asarray(mean + beta * self._exog(n, steps)[:, 0] + last_error * phi**ahead, dtype=float)

    def statsmodels_forecast(self, steps: int) -> np.ndarray:
        """The same forecast by statsmodels' SARIMAX state-space filter (the reference)."""
        model = SARIMAX(self.y, exog=self._exog(0, len(self.y)), order=(1, 0, 0), trend=_trend(self.profile))
        with _quiet():
            result = model.filter(self.params)
            return np.asarray(result.forecast(steps, exog=self._exog(len(self.y), steps)), dtype=float)

    def extend(self, y: np.ndarray, index: pd.DatetimeIndex) -> Sarimax:
        return Sarimax(self.profile, self.params, y)


def sarimax(y: np.ndarray, index: pd.DatetimeIndex, season: int) -> Sarimax:
    """Regression on the mean recent week with AR(1) errors, run by statsmodels' SARIMAX.

    The parameters are Cochrane-Orcutt least-squares estimates (``_ar1_regression``) rather than
    maximum likelihood: within a few percent of it on a month of hourly data, and the
    optimiser's 20 iterations were most of the cost of a whole forecast (0.12 s a series).
    """
    profile = week_profile(y, season)
    fitted = Sarimax(profile, np.zeros(0), y)
    params = _ar1_regression(y, fitted._exog(0, len(y)), constant=_trend(profile) == "c")
    return Sarimax(profile, np.asarray(params), y)


# Seasonal naive is the yardstick (MASE), not a candidate: chosen on two noisy backtest
# days it would win by luck where a fitted model is better on the days that follow.
CANDIDATES: dict[str, Fit] = {
    "holt_winters": holt_winters,
    "holt_winters_daily": holt_winters_daily,
    "mstl": mstl,
    "sarimax": sarimax,
}
