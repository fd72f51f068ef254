"""Detectors and forecasts on synthetic series with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.detect import episodes, spikes, stuck
from analytics.errors import SeriesError
from analytics.forecast import forecast


def _seasonal(days: int = 4, seed: int = 0) -> pd.Series:
    index = pd.date_range("2026-11-01", periods=days * 24, freq="h", tz="UTC")
    rng = np.random.default_rng(seed)
    hours = np.arange(len(index))
    return pd.Series(50 + 10 * np.sin(2 * np.pi * hours / 24) + rng.normal(0, 1, len(index)), index=index)


def test_spike_is_found_and_clean_data_is_quiet() -> None:
    clean = _seasonal()
    assert episodes(spikes(clean), clean, kind="spike") == []
    spiky = clean.copy()
    spiky.iloc[60] += 40
    found = episodes(spikes(spiky), spiky, kind="spike")
    assert len(found) == 1
    assert found[0].start == spiky.index[60]
    assert "spike" in found[0].explanation


def test_stuck_value_is_found() -> None:
    series = _seasonal()
    series.iloc[30:45] = 51.234
    found = episodes(stuck(series), series, kind="stuck")
    assert [(e.start, e.end) for e in found] == [(series.index[30], series.index[44])]
    assert episodes(stuck(_seasonal()), _seasonal(), kind="stuck") == []


def test_forecast_has_ordered_intervals_and_follows_the_season() -> None:
    series = _seasonal(days=6)
    fc = forecast(series, horizon_steps=24, season_steps=24)
    assert len(fc) == 24
    assert (fc["lo95"] <= fc["lo80"]).all() and (fc["lo80"] <= fc["yhat"]).all()
    assert (fc["yhat"] <= fc["hi80"]).all() and (fc["hi80"] <= fc["hi95"]).all()
    truth = 50 + 10 * np.sin(2 * np.pi * np.arange(len(series), len(series) + 24) / 24)
    assert np.abs(fc["yhat"].to_numpy() - truth).mean() < 2.0
    assert fc["model"].iloc[0].startswith("holt_winters")


def test_too_short_series_is_refused_with_the_reason() -> None:
    with pytest.raises(SeriesError, match="at least 6"):
        forecast(_seasonal().head(3), horizon_steps=3)
