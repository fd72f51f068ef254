"""Rolling-origin backtests: how a forecaster does on a series, beside two simple baselines.

Pure functions over a regular series. From each origin the forecaster sees only the
``history_steps`` before it (no peeking) and forecasts ``horizon_steps``; the same
origins are scored for seasonal naive (the last season repeated) and for a plain
additive Holt-Winters fitted on the same history, so the three are compared on the
same days in the same run.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from statsmodels.tools.sm_exceptions import ConvergenceWarning
from statsmodels.tsa.holtwinters import ExponentialSmoothing

from analytics.errors import SeriesError
from analytics.forecast import forecast, seasonal_naive

Forecaster = Callable[[pd.Series, int, int], pd.DataFrame]
ORIGIN_COLUMNS = ["origin", "model", "mae", "mae_hw", "mae_naive", "in80", "in95", "width95"]


@dataclass(frozen=True)
class Backtest:
    """One series' backtest: a row per origin (``ORIGIN_COLUMNS``)."""

    name: str
    origins: pd.DataFrame

    @property
    def mae_ratio(self) -> float:
        """The forecaster's mean absolute error over seasonal naive's, over all origins."""
        return _ratio(self.origins["mae"], self.origins["mae_naive"])

    @property
    def hw_mae_ratio(self) -> float:
        return _ratio(self.origins["mae_hw"], self.origins["mae_naive"])

    @property
    def pi80_coverage(self) -> float:
        return float(self.origins["in80"].mean())

    @property
    def pi95_coverage(self) -> float:
        return float(self.origins["in95"].mean())


def _ratio(numerator: pd.Series, denominator: pd.Series) -> float:
    below = float(denominator.sum())
    return float(numerator.sum()) / below if below > 1e-12 else float("nan")


def ours(history: pd.Series, horizon_steps: int, season_steps: int) -> pd.DataFrame:
    """The platform's own forecast (``analytics.forecast.forecast``)."""
    return forecast(history, horizon_steps=horizon_steps, season_steps=season_steps)


def plain_holt_winters(history: np.ndarray, horizon_steps: int, season_steps: int) -> np.ndarray:
    """The baseline: additive Holt-Winters (additive season, no trend) fitted on ``history``."""
    with warnings.catch_warnings():
        for category in (ConvergenceWarning, RuntimeWarning, UserWarning, FutureWarning):
            warnings.simplefilter("ignore", category)
        fitted = ExponentialSmoothing(history, seasonal="add", seasonal_periods=season_steps).fit()
    return np.asarray(fitted.forecast(horizon_steps), dtype=float)


def origins_of(
    series: pd.Series, *, count: int, history_steps: int, horizon_steps: int, max_missing: float = 0.2
) -> list[int]:
    """``count`` origin positions spread evenly over the series where the ``history_steps``
    before hold at most ``max_missing`` gaps and the ``horizon_steps`` after hold none.

    Raises:
        SeriesError: fewer than ``count`` such origins.
    """
    values = series.to_numpy(dtype=float)
    missing = np.concatenate([[0], np.cumsum(np.isnan(values))])
    valid = [
        origin
        for origin in range(history_steps, len(values) - horizon_steps + 1)
        if missing[origin] - missing[origin - history_steps] <= max_missing * history_steps
        and missing[origin + horizon_steps] == missing[origin]
    ]
    if len(valid) < count:
        raise SeriesError(
            f"{len(valid)} usable forecast origins in {len(values)} steps (each needs {history_steps} steps of "
            f"history at most {max_missing:.0%} missing, then {horizon_steps} complete steps); the backtest "
            f"needs {count}: ask for fewer origins or a shorter history"
        )
    # spread over the whole span, each at least one horizon from the next
    picks = np.linspace(0, len(valid) - 1, count).round().astype(int)
    return [valid[i] for i in picks]


def backtest(
    series: pd.Series,
    *,
    name: str = "",
    origins: int = 20,
    horizon_steps: int = 24,
    history_steps: int = 28 * 24,
    season_steps: int = 24,
    forecaster: Forecaster = ours,
) -> Backtest:
    """Rolling-origin backtest of ``forecaster`` on a regular ``series``.

    Raises:
        SeriesError: too few usable origins.
    """
    rows = []
    for origin in origins_of(series, count=origins, history_steps=history_steps, horizon_steps=horizon_steps):
        history = series.iloc[origin - history_steps : origin]
        actual = series.iloc[origin : origin + horizon_steps].to_numpy(dtype=float)
        filled = history.interpolate(limit_direction="both")
        fc = forecaster(history, horizon_steps, season_steps)
        naive = seasonal_naive(filled, horizon_steps=horizon_steps, season_steps=season_steps)
        hw = plain_holt_winters(filled.to_numpy(dtype=float), horizon_steps, season_steps)
        rows.append(
            (
                series.index[origin],
                str(fc["model"].iloc[0]),
                float(np.mean(np.abs(actual - fc["yhat"].to_numpy()))),
                float(np.mean(np.abs(actual - hw))),
                float(np.mean(np.abs(actual - naive))),
                float(np.mean((actual >= fc["lo80"].to_numpy()) & (actual <= fc["hi80"].to_numpy()))),
                float(np.mean((actual >= fc["lo95"].to_numpy()) & (actual <= fc["hi95"].to_numpy()))),
                float(np.mean(fc["hi95"].to_numpy() - fc["lo95"].to_numpy())),
            )
        )
    return Backtest(name, pd.DataFrame(rows, columns=ORIGIN_COLUMNS))


def summary(results: list[Backtest]) -> pd.DataFrame:
    """A row per series: its ratios to seasonal naive and its interval coverage."""
    return pd.DataFrame(
        [
            {
                "series": r.name,
                "origins": len(r.origins),
                "mae_ratio": round(r.mae_ratio, 3),
                "hw_mae_ratio": round(r.hw_mae_ratio, 3),
                "pi80_coverage": round(r.pi80_coverage, 3),
                "pi95_coverage": round(r.pi95_coverage, 3),
                "model": r.origins["model"].mode().iloc[0] if len(r.origins) else "",
            }
            for r in results
        ]
    )
