"""Forecasts with prediction intervals: pure functions over regular pandas Series."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from statsmodels.tools.sm_exceptions import ConvergenceWarning
from statsmodels.tsa.holtwinters import ExponentialSmoothing

from analytics.errors import SeriesError

# Standard normal quantiles for two-sided 80% and 95% intervals.
Z80 = 1.2815515655446004
Z95 = 1.959963984540054
MIN_POINTS = 6


def forecast(series: pd.Series, *, horizon_steps: int, season_steps: int | None = None) -> pd.DataFrame:
    """Forecast ``horizon_steps`` ahead of a regular series.

    With two full seasons of history, additive Holt-Winters with that season; otherwise
    Holt's damped trend; intervals from the in-sample one-step residuals, widening with
    the square root of the lead time.

    Args:
        series: values on a regular DatetimeIndex (gaps filled by the caller).
        horizon_steps: how many steps of the index's frequency to forecast.
        season_steps: season length in steps (e.g. 24 for hourly data), if any.

    Returns:
        DataFrame indexed by future time with yhat, lo80, hi80, lo95, hi95 and model.

    Raises:
        SeriesError: fewer than 6 points, or no regular frequency.
    """
    values = series.dropna()
    if len(values) < MIN_POINTS:
        raise SeriesError(f"series has {len(values)} points; forecasting needs at least {MIN_POINTS}")
    step = _regular_step(series.index)
    y = series.interpolate(limit_direction="both").astype(float)
    seasonal = season_steps is not None and len(y) >= 2 * season_steps
    flat = float(np.nanstd(y.to_numpy())) < 1e-9
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        if flat:
            model_name = "constant"
            fitted = pd.Series(y.iloc[-1], index=y.index)
            path = np.full(horizon_steps, float(y.iloc[-1]))
        else:
            if seasonal:
                model = ExponentialSmoothing(y.to_numpy(), trend=None, seasonal="add", seasonal_periods=season_steps)
                model_name = f"holt_winters_add_{season_steps}"
            else:
                model = ExponentialSmoothing(y.to_numpy(), trend="add", damped_trend=True)
                model_name = "holt_damped"
            result = model.fit()
            fitted = pd.Series(result.fittedvalues, index=y.index)
            path = np.asarray(result.forecast(horizon_steps), dtype=float)
    residuals = (y - fitted).to_numpy()
    sigma = float(np.nanstd(residuals)) or 1e-6
    lead = np.sqrt(np.arange(1, horizon_steps + 1))
    index = pd.DatetimeIndex([y.index[-1] + step * (i + 1) for i in range(horizon_steps)])
    return pd.DataFrame(
        {
            "yhat": path,
            "lo80": path - Z80 * sigma * lead,
            "hi80": path + Z80 * sigma * lead,
            "lo95": path - Z95 * sigma * lead,
            "hi95": path + Z95 * sigma * lead,
            "model": model_name,
        },
        index=index,
    )


def _regular_step(index: pd.Index) -> pd.Timedelta:
    """The constant step of a DatetimeIndex. Raises SeriesError when there is none."""
    if not isinstance(index, pd.DatetimeIndex) or len(index) < 3:
        raise SeriesError("series needs a DatetimeIndex of at least 3 points")
    steps = index[1:] - index[:-1]
    if steps.min() != steps.max() or steps.min() <= pd.Timedelta(0):
        raise SeriesError("series index is not regular; resample it to a fixed step first")
    return pd.Timedelta(steps.min())
