"""Analytics held to data it did not make: calibrated intervals, the backtest harness, heavy
tails, lone wild reports and habits (known answers, no servers)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analytics.backtest import backtest, origins_of
from analytics.detect import detect, point_spikes, tail_scale
from analytics.errors import SeriesError
from analytics.forecast import forecast, seasonal_naive
from tests.fixtures.cli import run_cli as _run

DATA = Path(__file__).parent / "data" / "series"


def _known_noise(seed: int, days: int = 29) -> tuple[pd.Series, float]:
    """An hourly series: a daily shape, a weekly one, a wandering level and Gaussian noise of a
    known standard deviation (each seed its own shape, level and noise)."""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2026-09-01", periods=days * 24, freq="1h", tz="UTC")
    hours = np.arange(len(index))
    noise_sd = float(rng.uniform(1.0, 8.0))
    daily = rng.uniform(5, 40) * np.sin(2 * np.pi * (hours % 24 - rng.uniform(0, 24)) / 24)
    weekly = rng.uniform(0, 10) * (index.day_of_week.to_numpy() >= 5)
    level = 100 + np.cumsum(rng.normal(0, 0.2, len(index)))
    return pd.Series(level + daily - weekly + rng.normal(0, noise_sd, len(index)), index=index), noise_sd


def test_interval_coverage_over_many_simulated_series_with_known_noise_lands_in_its_band() -> None:
    in80, in95 = [], []
    for seed in range(36):
        series, _ = _known_noise(seed)
        fc = forecast(series.iloc[:-24], horizon_steps=24, season_steps=24)
        actual = series.iloc[-24:].to_numpy()
        in80.append(np.mean((actual >= fc["lo80"].to_numpy()) & (actual <= fc["hi80"].to_numpy())))
        in95.append(np.mean((actual >= fc["lo95"].to_numpy()) & (actual <= fc["hi95"].to_numpy())))
    assert 0.75 <= float(np.mean(in80)) <= 0.87, np.mean(in80)
    assert 0.90 <= float(np.mean(in95)) <= 0.98, np.mean(in95)


def test_intervals_are_as_wide_as_the_noise_says() -> None:
    """95% half-widths near 1.96 noise sd (the forecast error is at least the noise; a good
    model adds little): not the in-sample residuals' too-kind width, not a blanket."""
    ratios = []
    for seed in range(12):
        series, noise_sd = _known_noise(seed)
        fc = forecast(series.iloc[:-24], horizon_steps=24, season_steps=24)
        ratios.append(float(((fc["hi95"] - fc["lo95"]) / 2).mean()) / noise_sd)
    assert 1.6 <= float(np.median(ratios)) <= 3.2, ratios


def test_backtest_never_lets_the_forecaster_see_past_its_origin() -> None:
    series, _ = _known_noise(1, days=60)
    seen: list[tuple[pd.Timestamp, int]] = []

    def naive(history: pd.Series, horizon: int, season: int) -> pd.DataFrame:
        seen.append((history.index[-1], len(history)))
        path = seasonal_naive(history, horizon_steps=horizon, season_steps=season)
        return pd.DataFrame({"yhat": path, "lo80": path, "hi80": path, "lo95": path, "hi95": path, "model": "naive"})

    result = backtest(series, origins=20, history_steps=28 * 24, forecaster=naive)
    assert len(result.origins) == 20 and len(seen) == 20
    for (last_seen, length), origin in zip(seen, result.origins["origin"], strict=True):
        assert last_seen < origin and length == 28 * 24
    assert result.mae_ratio == pytest.approx(1.0)  # seasonal naive against itself
    assert result.origins["origin"].is_monotonic_increasing
    assert (result.origins["origin"].diff().dropna() >= pd.Timedelta(hours=24)).all()


def test_origins_skip_gappy_history_and_refuse_when_too_few() -> None:
    series, _ = _known_noise(2, days=40)
    holed = series.copy()
    holed.iloc[24 * 30 : 24 * 31] = np.nan  # a day missing: no origin may forecast into it
    picks = origins_of(holed, count=10, history_steps=28 * 24, horizon_steps=24)
    assert all(not holed.iloc[p : p + 24].isna().any() for p in picks)
    with pytest.raises(SeriesError, match="usable forecast origins"):
        origins_of(series.iloc[: 29 * 24], count=20, history_steps=28 * 24, horizon_steps=24)


def test_real_air_quality_backtest_beats_seasonal_naive_with_honest_intervals() -> None:
    from analytics.realdata import read_uci

    frame = read_uci(DATA / "uci_air_quality" / "AirQualityUCI.csv")
    result = backtest(frame["C6H6_GT"], origins=8)
    assert result.mae_ratio < 0.9
    assert result.mae_ratio < result.hw_mae_ratio  # and beats a plain Holt-Winters on the same days
    assert 0.85 <= result.pi95_coverage <= 1.0


def _smooth_gauge(days: int = 10) -> pd.Series:
    """A river gauge at 5 minutes: smooth, with a flood in the middle that sets its range."""
    index = pd.date_range("2026-07-01", periods=days * 288, freq="5min", tz="UTC")
    t = np.arange(len(index))
    level = 0.8 + 0.02 * np.sin(2 * np.pi * t / 288) + 2.5 * np.exp(-(((t - 5 * 288) / 200.0) ** 2))
    return pd.Series(np.round(level + np.random.default_rng(0).normal(0, 0.003, len(index)), 3), index=index)


def test_a_lone_wild_report_is_a_spike_even_beside_a_flood() -> None:
    gauge = _smooth_gauge()
    assert not point_spikes(gauge, steps_per_day=288, threshold=12.0, usual_peak_z=4.0).any()
    assert not [e for e in detect(gauge, steps_per_day=288) if e.start >= gauge.index[7 * 288]]
    wild = gauge.copy()
    wild.iloc[8 * 288 + 100] += 0.4  # tiny beside the 2.5 m flood, huge beside its neighbours
    found = [e for e in detect(wild, steps_per_day=288) if e.start >= wild.index[7 * 288]]
    assert [(e.kind, e.start) for e in found] == [("spike", wild.index[8 * 288 + 100])]


def test_a_series_that_spikes_every_night_alarms_only_for_a_bigger_spike() -> None:
    index = pd.date_range("2026-03-01", periods=21 * 288, freq="5min", tz="UTC")
    rng = np.random.default_rng(3)
    cpu = pd.Series(20 + rng.normal(0, 1, len(index)), index=index)
    for day in range(21):  # a backup at a different minute each night: heavy tails, not a time habit
        cpu.iloc[day * 288 + int(rng.integers(0, 280))] = 70 + rng.normal(0, 3)
    scale = tail_scale(pd.Series(np.abs(cpu.to_numpy() - 20)), steps_per_day=288, usual_peak_z=4.0)
    assert scale[:288].max() == 1.0 and scale[3 * 288 :].min() > 5.0
    later = [e for e in detect(cpu, steps_per_day=288, timezone="Asia/Seoul") if e.start >= index[4 * 288]]
    assert later == [], later
    bigger = cpu.copy()
    bigger.iloc[15 * 288 + 150] = 400  # far beyond the nightly 70
    found = [e for e in detect(bigger, steps_per_day=288, timezone="Asia/Seoul") if e.start >= index[4 * 288]]
    assert [e.start for e in found] == [index[15 * 288 + 150]]


def test_a_change_at_the_same_time_every_day_is_a_habit_alarmed_only_at_first() -> None:
    index = pd.date_range("2026-03-01", periods=15 * 288, freq="5min", tz="UTC")
    rng = np.random.default_rng(4)
    pump = pd.Series(50 + rng.normal(0, 1, len(index)), index=index)
    for day in range(8, 15):  # from day 8, a pump starts at 18:00 for two hours
        pump.iloc[day * 288 + 216 : day * 288 + 240] += 30
    found = [e for e in detect(pump, steps_per_day=288) if e.kind != "dropout"]
    starts = sorted({e.start.normalize() for e in found})
    assert 1 <= len(starts) <= 3, found  # its first evenings, then a habit
    assert starts[0] == index[8 * 288].normalize()


def test_tremors_after_a_disturbance_are_one_episode_and_a_later_one_is_news() -> None:
    index = pd.date_range("2026-03-01", periods=10 * 288, freq="5min", tz="UTC")
    rng = np.random.default_rng(5)
    series = pd.Series(50 + rng.normal(0, 1, len(index)), index=index)
    at = 8 * 288
    series.iloc[at] += 60  # the shock
    series.iloc[at + 9] += 25  # weaker tremors within the hour
    series.iloc[at + 18] += 20
    found = [e for e in detect(series, steps_per_day=288) if e.start >= index[7 * 288]]
    assert len(found) == 1 and found[0].start == index[at] and found[0].end >= index[at + 18]
    # a weaker disturbance hours later is its own alarm (NAB's second windows are often that)
    series.iloc[at + 36] += 25
    found = [e for e in detect(series, steps_per_day=288) if e.start >= index[7 * 288]]
    assert [e.start for e in found] == [index[at], index[at + 36]]


def test_evaluate_backtests_any_csv_and_names_what_it_cannot_do(tmp_path: Path) -> None:
    series, _ = _known_noise(7, days=34)
    local = series.index.tz_convert("Asia/Seoul").tz_localize(None)
    path = tmp_path / "sensor.csv"
    pd.DataFrame({"time": local.strftime("%Y-%m-%d %H:%M"), "value": series.to_numpy()}).to_csv(path, index=False)
    code, out, err = _run("analytics", "evaluate", "--csv", str(path), "--origins", "5", "--format", "json")
    assert code == 0
    import json

    rows = json.loads(out)
    assert len(rows) == 5 and {"origin", "mae", "mae_hw", "mae_naive", "in80", "in95"} <= set(rows[0])
    assert "5 origins" in err and "MAE ratio to seasonal naive" in err and "Holt-Winters" in err
    code, _, err = _run("analytics", "evaluate", "--csv", str(path), "--origins", "500")
    assert code == 2 and "usable forecast origins" in err
    code, _, err = _run("analytics", "evaluate", "--csv", str(path), "--history-days", "0")
    assert code == 2 and "--history-days" in err


def test_the_closed_form_sarimax_forecast_equals_statsmodels_filter() -> None:
    from analytics.models import sarimax

    for seed in range(4):
        series, _ = _known_noise(seed, days=21)
        fitted = sarimax(series.to_numpy(), pd.DatetimeIndex(series.index), 24)
        assert np.allclose(fitted.forecast(24), fitted.statsmodels_forecast(24), rtol=1e-6, atol=1e-6)
        longer = fitted.extend(np.concatenate([series.to_numpy(), series.to_numpy()[-24:] + 5]), series.index)
        assert np.allclose(longer.forecast(30), longer.statsmodels_forecast(30), rtol=1e-6, atol=1e-6)
    flat = np.full(24 * 15, 7.0) + np.random.default_rng(1).normal(0, 1e-3, 24 * 15)
    flat_fit = sarimax(flat, pd.date_range("2026-01-01", periods=len(flat), freq="1h", tz="UTC"), 24)
    assert np.allclose(flat_fit.forecast(5), flat_fit.statsmodels_forecast(5), rtol=1e-6, atol=1e-6)


def test_holt_winters_re_run_equals_statsmodels_with_the_same_constants() -> None:
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    from analytics.models import additive_holt_winters

    for seed, season in ((0, 24), (1, 168)):
        series, _ = _known_noise(seed, days=28)
        y = series.to_numpy()
        reference = ExponentialSmoothing(y, seasonal="add", seasonal_periods=season, initialization_method="heuristic")
        expected = reference.fit(optimized=False, smoothing_level=0.3, smoothing_seasonal=0.1).forecast(season + 30)
        assert np.allclose(additive_holt_winters(y, season, 0.3, 0.1, season + 30), expected, rtol=1e-9, atol=1e-9)
