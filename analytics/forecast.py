"""Forecasts with prediction intervals, the model chosen per series by rolling-origin backtest.

Pure functions over regular pandas Series. The candidates are in ``analytics.models``:
Holt-Winters (weekly season with a steady level; daily season with a free level), MSTL
(daily and weekly) and SARIMAX (AR errors around the mean recent week), plus their mean;
seasonal naive is the yardstick, not a candidate. Each is fitted once at the first
backtest origin and re-run with the same parameters at the next origins and at the end
of the data, so a series costs about one fit per candidate.

The intervals are calibrated, not assumed normal: split-conformal quantiles of the
chosen model's backtest errors (growing with the lead), averaged with the long-run
quantiles of seasonal naive's errors over the whole history scaled by the model's skill
(``bench/analytics.py`` checks coverage on real series and on the simulator).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from statsmodels.tools.sm_exceptions import ConvergenceWarning
from statsmodels.tsa.holtwinters import ExponentialSmoothing

from analytics.errors import SeriesError
from analytics.models import CANDIDATES, Fit, Fitted
from analytics.outliers import seasonal_outliers

# Standard normal quantiles for two-sided 80% and 95% intervals.
Z80 = 1.2815515655446004
Z95 = 1.959963984540054
MIN_POINTS = 6
COLUMNS = ["yhat", "lo80", "hi80", "lo95", "hi95", "model", "backtest_mae"]


COMBINED = "combined"


@dataclass
class Combined:
    """The mean forecast of several fitted models."""

    members: list[Fitted]
    name: str = COMBINED

    def forecast(self, steps: int) -> np.ndarray:
        return np.asarray(np.mean([m.forecast(steps) for m in self.members], axis=0), dtype=float)

    def extend(self, y: np.ndarray, index: pd.DatetimeIndex) -> Combined:
        return Combined([m.extend(y, index) for m in self.members])


@dataclass(frozen=True)
class Choice:
    """The outcome of a backtest: the winner, its error and every candidate's."""

    model: str
    backtest_mae: float
    half80: np.ndarray  # the 80% interval's half-width at each step ahead
    half95: np.ndarray
    mae_by_model: dict[str, float]


# Four backtest days: with two, the choice among close candidates was a coin toss on real
# series (median MAE ratio to seasonal naive 0.849 with two, 0.798 with four; seven no better).
ORIGINS = 4
# Days whose sustained changes are kept when the history is cleaned (see ``clean``): real
# series' median MAE ratio 0.834 keeping only a change still going on, 0.798 keeping the
# last three days' long changes.
RECENT_SEASONS = 3


def backtest_steps(*, horizon_steps: int, season_steps: int, origins: int = ORIGINS) -> int:
    """How many points a series needs for the backtest: two seasons to fit, then the origins."""
    return 2 * season_steps + origins * horizon_steps


def select(
    y: np.ndarray,
    index: pd.DatetimeIndex,
    *,
    horizon_steps: int,
    season_steps: int,
    origins: int = ORIGINS,
    candidates: dict[str, Fit] | None = None,
    observed: np.ndarray | None = None,
) -> tuple[Fitted, Choice]:
    """Choose a model by rolling-origin backtest and return it extended to the end of ``y``.

    The last ``origins * horizon_steps`` points are forecast from ``origins`` origins,
    ``horizon_steps`` apart; the candidate with the least mean absolute error wins.
    ``observed``: the series as reported when ``y`` is its cleaned copy (see ``clean``):
    the models are judged on the cleaned values, the interval width on the reported ones.

    Raises:
        SeriesError: fewer points than ``backtest_steps`` needs.
    """
    candidates = candidates or CANDIDATES
    need = backtest_steps(horizon_steps=horizon_steps, season_steps=season_steps, origins=origins)
    if len(y) < need:
        raise SeriesError(f"series has {len(y)} points; choosing a model needs at least {need}")
    first = len(y) - origins * horizon_steps
    fitted: dict[str, Fitted] = {}
    paths: dict[str, list[np.ndarray]] = {}
    for name, fit in candidates.items():
        try:
            model = fit(y[:first], index[:first], season_steps)
            rows = []
            for k in range(origins):
                origin = first + k * horizon_steps
                at = model if k == 0 else model.extend(y[:origin], index[:origin])
                rows.append(at.forecast(horizon_steps))
        except (ValueError, np.linalg.LinAlgError):
            continue  # a candidate that cannot fit this series simply does not compete
        if all(np.all(np.isfinite(r)) for r in rows):
            fitted[name], paths[name] = model, rows
    if not paths:
        raise SeriesError("no candidate model could be fitted to this series")
    members = list(paths)
    if len(members) >= 2:
        # the mean of the fitted models: combining forecasts is a well-known way to beat each
        paths[COMBINED] = [np.mean([paths[m][k] for m in members], axis=0) for k in range(origins)]

    def errors_of(values: np.ndarray, rows: list[np.ndarray]) -> np.ndarray:
        """``values`` over the held-out horizons less the forecasts made for them."""
        held_out = [values[first + k * horizon_steps : first + (k + 1) * horizon_steps] for k in range(origins)]
        return np.concatenate([a - p for a, p in zip(held_out, rows, strict=True)])

    mae = {name: float(np.mean(np.abs(errors_of(y, rows)))) for name, rows in paths.items()}
    winner = min(mae, key=lambda name: mae[name])
    # the intervals are for what the sensor will report, outliers and all
    err = errors_of(y if observed is None else observed, paths[winner]).reshape(origins, horizon_steps)
    if winner == COMBINED:
        final: Fitted = Combined([fitted[m].extend(y, index) for m in members])
    else:
        final = fitted[winner].extend(y, index)
    values = y if observed is None else observed
    short80, short95 = interval_halves(err)
    long80, long95 = _long_run_halves(values, err, first=first, season_steps=season_steps, shape=short95)
    # the mean of the two: the backtest days alone are too few to know a series' bad days
    # (real coverage 0.76 / 0.91), the long run alone too slow to see a calm spell
    half80, half95 = (short80 + long80) / 2, (short95 + long95) / 2
    return final, Choice(winner, mae[winner], half80, half95, mae)


def _long_run_halves(
    values: np.ndarray, errors: np.ndarray, *, first: int, season_steps: int, shape: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Interval half-widths from the whole history: the quantiles of seasonal naive's errors
    before the backtest, scaled by the chosen model's skill against seasonal naive on the
    backtest days and by the lead ``shape`` (its mean is 1)."""
    horizon_steps = errors.shape[1]
    origins = errors.shape[0]
    before = np.abs(values[season_steps:first] - values[: first - season_steps])
    held = [values[first + k * horizon_steps : first + (k + 1) * horizon_steps] for k in range(origins)]
    naive = [values[first + k * horizon_steps - season_steps : first + (k + 1) * horizon_steps - season_steps]
             for k in range(origins)]  # fmt: skip
    naive_mae = float(np.mean(np.abs(np.concatenate(held) - np.concatenate(naive))))
    skill = float(np.mean(np.abs(errors))) / max(naive_mae, 1e-9)
    lead = shape / max(float(shape.mean()), 1e-12)
    if before.size == 0:
        return np.zeros(horizon_steps), np.zeros(horizon_steps)
    return skill * float(np.quantile(before, 0.80)) * lead, skill * float(np.quantile(before, 0.95)) * lead


def interval_halves(errors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Half-widths of the 80% and 95% intervals at each step ahead, from backtest ``errors``
    (one row per origin, one column per step ahead): split-conformal on scaled errors.

    Each step's errors are scaled by a profile of how the error grows with the lead (the
    running mean absolute error, never shrinking with the lead); the interval is the
    finite-sample conformal quantile of the scaled absolute errors times the profile.
    Few errors give a quantile beyond the largest seen (wider where history is short).
    """
    magnitude = np.abs(errors)
    by_step = magnitude.mean(axis=0)
    profile = np.maximum.accumulate(np.cumsum(by_step) / np.arange(1, len(by_step) + 1))
    profile = np.maximum(profile, max(float(by_step.mean()), 1e-9) * 0.25)
    scaled = np.sort((magnitude / profile).ravel())
    n = len(scaled)

    def conformal(level: float) -> float:
        rank = int(np.ceil((n + 1) * level))
        if rank <= n:
            return float(scaled[rank - 1])
        return float(scaled[-1]) * (1.0 + (rank - n) / n)  # beyond what was seen: widened

    return conformal(0.80) * profile, conformal(0.95) * profile


def forecast(series: pd.Series, *, horizon_steps: int, season_steps: int | None = None) -> pd.DataFrame:
    """Forecast ``horizon_steps`` ahead of a regular series, with 80% and 95% intervals.

    With enough history for a backtest (``backtest_steps``) the model is chosen per
    series (see ``select``); with less, Holt-Winters when two seasons are there, else
    Holt's damped trend, with intervals from in-sample residuals.

    Args:
        series: values on a regular DatetimeIndex (gaps are interpolated).
        horizon_steps: how many steps of the index's frequency to forecast.
        season_steps: season length in steps (24 for hourly data), if any.

    Returns:
        DataFrame indexed by future time with COLUMNS.

    Raises:
        SeriesError: fewer than 6 points, or no regular frequency.
    """
    values = series.dropna()
    if len(values) < MIN_POINTS:
        raise SeriesError(f"series has {len(values)} points; forecasting needs at least {MIN_POINTS}")
    step = _regular_step(series.index)
    y = series.interpolate(limit_direction="both").astype(float)
    index = pd.DatetimeIndex(y.index)
    future = pd.DatetimeIndex([index[-1] + step * (i + 1) for i in range(horizon_steps)])
    backtest_mae: float | None = None
    if float(np.nanstd(y.to_numpy())) < 1e-9:
        name, path = "constant", np.full(horizon_steps, float(y.iloc[-1]))
        half80 = half95 = np.full(horizon_steps, 1e-6)
    elif season_steps and len(y) >= backtest_steps(horizon_steps=horizon_steps, season_steps=season_steps):
        normal = clean(y.to_numpy(), season_steps)
        model, choice = select(
            normal, index, horizon_steps=horizon_steps, season_steps=season_steps, observed=y.to_numpy()
        )
        name, path, backtest_mae = choice.model, model.forecast(horizon_steps), choice.backtest_mae
        half80, half95 = choice.half80, choice.half95
    else:
        name, path, sigma = _smooth(y, horizon_steps, season_steps)
        lead = np.sqrt(np.arange(1, horizon_steps + 1)) * max(sigma, 1e-6)
        half80, half95 = Z80 * lead, Z95 * lead
    half80, half95 = np.maximum(half80, 1e-6), np.maximum(half95, 1e-6)
    return pd.DataFrame(
        {
            "yhat": path,
            "lo80": path - half80,
            "hi80": path + half80,
            "lo95": path - half95,
            "hi95": path + half95,
            "model": name,
            "backtest_mae": backtest_mae,
        },
        index=future,
    )


def clean(y: np.ndarray, season_steps: int, *, z: float = 5.0) -> np.ndarray:
    """``y`` with its outliers replaced by a robust seasonal reference, for fitting.

    A forecast is of normal behaviour: a burst of noise, a stuck sensor or a drift in the
    history (the detectors' business) would otherwise be learnt as part of the season and
    repeated a week later. See ``outliers.seasonal_outliers``.
    Within the last ``RECENT_SEASONS`` seasons, a stretch of outliers longer than a
    quarter season, or one that runs to the end of the series, is left as reported: it is
    the regime the forecast starts from (a river in flood is not an outlier to its own
    next hour; a smog episode lasts days). Short faults are cleaned wherever they are.
    """
    outlier, reference = seasonal_outliers(y, season_steps, z=z)
    recent = max(0, len(y) - RECENT_SEASONS * season_steps)
    for first, last in _true_runs(outlier):
        # the latest days' sustained changes (and a change still going on) are the regime
        # the forecast starts from; short faults are cleaned wherever they are
        if last >= recent and (last == len(y) - 1 or last - first + 1 > season_steps // 4):
            outlier[max(first, recent) : last + 1] = False
    return np.where(outlier, reference, y)


def _true_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) index of each run of True in ``mask``."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), (np.flatnonzero(edges == -1) - 1).tolist(), strict=True))


def _smooth(y: pd.Series, horizon_steps: int, season_steps: int | None) -> tuple[str, np.ndarray, float]:
    """Exponential smoothing for series too short to backtest; sigma from in-sample residuals."""
    seasonal = season_steps is not None and len(y) >= 2 * season_steps
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        if seasonal:
            model = ExponentialSmoothing(y.to_numpy(), seasonal="add", seasonal_periods=season_steps)
            name = "holt_winters"
        else:
            model = ExponentialSmoothing(y.to_numpy(), trend="add", damped_trend=True)
            name = "holt_damped"
        result = model.fit()
    residuals = y.to_numpy() - np.asarray(result.fittedvalues)
    return name, np.asarray(result.forecast(horizon_steps), dtype=float), float(np.nanstd(residuals))


def seasonal_naive(series: pd.Series, *, horizon_steps: int, season_steps: int) -> np.ndarray:
    """The baseline: the last season repeated."""
    last = series.to_numpy(dtype=float)[-season_steps:]
    return np.resize(last, horizon_steps)


def _regular_step(index: pd.Index) -> pd.Timedelta:
    """The constant step of a DatetimeIndex. Raises SeriesError when there is none."""
    if not isinstance(index, pd.DatetimeIndex) or len(index) < 3:
        raise SeriesError("series needs a DatetimeIndex of at least 3 points")
    steps = index[1:] - index[:-1]
    if steps.min() != steps.max() or steps.min() <= pd.Timedelta(0):
        raise SeriesError("series index is not regular; resample it to a fixed step first")
    return pd.Timedelta(steps.min())
