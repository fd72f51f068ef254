"""Score the detectors and the forecasts on a labelled history: the figures of ``analytics score``.

``evaluate`` is pure (series and truth in, figures out); ``evaluate_run`` reads a
simulator run's ground truth and its readings from the database and calls it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from analytics import score
from analytics.detect import Thresholds
from analytics.forecast import forecast, seasonal_naive
from analytics.passes import SeriesKey, detect_all


@dataclass(frozen=True)
class Figures:
    f1_overall: float
    precision: float
    recall: float
    episodes: int
    windows: int
    median_delay_s: float | None
    kind_accuracy: float | None
    by_kind: dict[str, dict[str, float]]
    mase_vs_seasonal_naive: float
    pi80_coverage: float
    pi95_coverage: float
    forecast_series: int
    models: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def holdout(series: pd.Series, *, horizon_steps: int, season_steps: int) -> dict[str, Any] | None:
    """Forecast the last ``horizon_steps`` from the rest; MASE against seasonal naive and coverage."""
    history, actual = series.iloc[:-horizon_steps], series.iloc[-horizon_steps:].to_numpy(dtype=float)
    if np.isnan(actual).any() or history.notna().sum() < 2 * season_steps:
        return None
    fc = forecast(history, horizon_steps=horizon_steps, season_steps=season_steps)
    naive = seasonal_naive(
        history.interpolate(limit_direction="both"), horizon_steps=horizon_steps, season_steps=season_steps
    )
    return {
        "model": str(fc["model"].iloc[0]),
        "mase": score.mase(actual, fc["yhat"].to_numpy(), naive),
        "in80": score.coverage(actual, fc["lo80"].to_numpy(), fc["hi80"].to_numpy()),
        "in95": score.coverage(actual, fc["lo95"].to_numpy(), fc["hi95"].to_numpy()),
    }


def evaluate(
    detail: dict[SeriesKey, pd.DataFrame],
    hourly: dict[SeriesKey, pd.Series],
    truth: pd.DataFrame,
    *,
    steps_per_day: int,
    horizon_steps: int = 24,
    thresholds: Thresholds | None = None,
    timezone: str | None = None,
) -> Figures:
    """Detection scores on ``detail`` (regular frames with a ``value`` column) against ``truth``
    windows, and forecast scores on the last day of each ``hourly`` series.

    Series whose last day holds a labelled anomaly are left out of the forecast scores
    (a forecast is of normal behaviour); so are series the seasonal naive forecast gets
    exactly right (constants, switches), where MASE is undefined.
    """
    found = detect_all(detail, steps_per_day=steps_per_day, thresholds=thresholds, timezone=timezone)
    episodes = pd.DataFrame([(d, m, e.kind, e.start, e.end) for d, m, e in found], columns=score.WINDOW_COLUMNS)
    step = pd.Timedelta(days=1) / steps_per_day
    det = score.detection(episodes, truth, tolerance=2 * step)
    rows = []
    for (device_id, metric), series in hourly.items():
        tail_start = series.index[-horizon_steps] if len(series) > horizon_steps else series.index[0]
        labelled = truth[
            (truth["device_id"] == device_id) & (truth["metric"] == metric) & (truth["ended_at"] >= tail_start)
        ]
        if not labelled.empty:
            continue
        result = holdout(series, horizon_steps=horizon_steps, season_steps=24)
        if result is not None and np.isfinite(result["mase"]):
            rows.append(result)
    fc = pd.DataFrame(rows, columns=["model", "mase", "in80", "in95"])
    return Figures(
        f1_overall=round(det.f1, 3),
        precision=round(det.precision, 3),
        recall=round(det.recall, 3),
        episodes=det.episodes,
        windows=det.windows,
        median_delay_s=det.median_delay_s,
        kind_accuracy=None if det.kind_accuracy is None else round(det.kind_accuracy, 3),
        by_kind={k: {n: round(v, 3) for n, v in d.items()} for k, d in det.by_kind.items()},
        mase_vs_seasonal_naive=round(float(fc["mase"].median()), 3) if len(fc) else float("nan"),
        pi80_coverage=round(float(fc["in80"].mean()), 3) if len(fc) else float("nan"),
        pi95_coverage=round(float(fc["in95"].mean()), 3) if len(fc) else float("nan"),
        forecast_series=len(fc),
        models={str(k): int(v) for k, v in fc["model"].value_counts().items()},
    )
