"""Detectors, forecasts and scores on synthetic series with known answers (no servers)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analytics import score
from analytics.aggregate import aggregate, memberships
from analytics.csvfile import read_series
from analytics.detect import _median_of_votes, common_scores, detect, episodes, stuck
from analytics.errors import CsvError, SeriesError
from analytics.forecast import clean, forecast, select
from analytics.models import CANDIDATES, _ar1_regression, mstl, sarimax
from analytics.parallel import Runner, chunks
from analytics.passes import detect_all

PER_DAY = 288  # 5-minute steps
DATA = Path(__file__).parent / "data" / "series"


def _city_like(days: int = 15, seed: int = 0) -> pd.Series:
    """A daily cycle with quieter weekends and noise: what a traffic counter looks like."""
    index = pd.date_range("2026-10-01", periods=days * PER_DAY, freq="5min", tz="UTC")
    rng = np.random.default_rng(seed)
    hours = (index.hour + index.minute / 60).to_numpy()
    weekend = index.day_of_week.to_numpy() >= 5
    level = 100 + 40 * np.sin(2 * np.pi * (hours - 8) / 24) * np.where(weekend, 0.5, 1.0)
    return pd.Series(level + rng.normal(0, 3, len(index)), index=index)


def _inject(kind: str, series: pd.Series, at: int, steps: int) -> pd.Series:
    s = series.copy()
    if kind == "spike":
        s.iloc[at] += 150
    elif kind == "level_shift":
        s.iloc[at : at + steps] += 120
    elif kind == "drift":
        s.iloc[at : at + steps] += np.linspace(10, 150, steps)
    elif kind == "stuck":
        s.iloc[at : at + steps] = 123.456
    elif kind == "dropout":
        s.iloc[at : at + steps] = np.nan
    elif kind == "noise_burst":
        s.iloc[at : at + steps] += np.random.default_rng(5).normal(0, 80, steps)
    return s


def test_clean_seasonal_data_gives_no_episodes() -> None:
    assert detect(_city_like(), steps_per_day=PER_DAY) == []


@pytest.mark.parametrize(
    ("kind", "steps"),
    [("spike", 1), ("level_shift", 36), ("drift", 120), ("stuck", 24), ("dropout", 18), ("noise_burst", 18)],
)
def test_each_detector_finds_its_own_kind(kind: str, steps: int) -> None:
    clean = _city_like()
    at = 12 * PER_DAY + 100
    found = detect(_inject(kind, clean, at, steps), steps_per_day=PER_DAY)
    start, end = clean.index[at], clean.index[at + steps - 1]
    overlapping = [e for e in found if e.start <= end and e.end >= start]
    # a long drift is found, but half a day of level-following can make it look like a shift
    named = {"drift", "level_shift"} if kind == "drift" else {kind}
    assert len(overlapping) == 1 and overlapping[0].kind in named, found
    assert len(found) == 1, "nothing else in the series was flagged"
    assert overlapping[0].explanation


def test_a_change_every_sensor_sees_is_weather_not_a_fault() -> None:
    at, steps = 12 * PER_DAY, 48
    group = {f"d{i}": _inject("level_shift", _city_like(seed=i), at, steps) for i in range(5)}
    common = common_scores(group, steps_per_day=PER_DAY)
    assert common is not None
    for series in group.values():
        assert detect(series, steps_per_day=PER_DAY, common_z=common) == []
    # without the city-wide score each one is flagged
    assert all(detect(s, steps_per_day=PER_DAY) for s in group.values())


def test_the_city_wide_score_needs_several_sensors_at_that_time() -> None:
    at = 12 * PER_DAY + 40
    group = {f"d{i}": _city_like(seed=i).iloc[: at + 1].copy() for i in range(4)}
    for key in ("d1", "d2", "d3"):  # the others have not reported in the newest bucket yet
        group[key].iloc[at] = np.nan
    group["d0"].iloc[at] += 300
    common = common_scores(group, steps_per_day=PER_DAY)
    assert common is not None and common.iloc[at] == 0.0
    found = detect(group["d0"], steps_per_day=PER_DAY, common_z=common)
    assert [(e.kind, e.start) for e in found] == [("spike", group["d0"].index[at])]


def test_a_sensor_one_bucket_ahead_of_the_others_keeps_the_city_wide_score() -> None:
    at = 12 * PER_DAY + 40
    series = {}
    for i in range(4):
        values = _inject("level_shift", _city_like(seed=i), 6 * PER_DAY, 48)  # city-wide: weather
        series[(f"d{i}", "pm25_ugm3")] = values.iloc[: at + (1 if i == 0 else 0)].to_frame("value")
    series[("d0", "pm25_ugm3")].iloc[at, 0] += 300  # the newest report, only d0 has it yet
    found = [(d, e.kind, e.start) for d, m, e in detect_all(series, steps_per_day=PER_DAY)]
    assert found == [("d0", "spike", _city_like().index[at])]


def test_one_wild_report_inside_a_bucket_of_many_is_a_spike() -> None:
    mean = _city_like()
    rng = np.random.default_rng(1)
    low, high = mean - rng.uniform(2, 4, len(mean)), mean + rng.uniform(2, 4, len(mean))
    at = 12 * PER_DAY + 7
    high.iloc[at] = mean.iloc[at] + 600  # averaged over 60 reports it moves the mean by 10
    mean.iloc[at] += 10
    found = detect(mean, steps_per_day=PER_DAY, extremes=(low, high))
    assert [(e.kind, e.start) for e in found] == [("spike", mean.index[at])]


def test_stuck_at_a_normal_value_of_the_night_is_not_flagged() -> None:
    index = pd.date_range("2026-10-01", periods=10 * PER_DAY, freq="5min", tz="UTC")
    night = np.asarray(index.hour < 6)
    counts = np.random.default_rng(2).poisson(20, len(index)).astype(float)
    footfall = pd.Series(np.where(night, 0.0, counts), index=index)
    assert stuck(footfall, min_steps=6).any()
    assert [e for e in detect(footfall, steps_per_day=PER_DAY) if e.kind == "stuck"] == []


def test_single_detector_episodes_keep_their_times() -> None:
    series = _city_like(days=2)
    flags = pd.Series(False, index=series.index)
    flags.iloc[[10, 11, 30]] = True
    found = episodes(flags, series, kind="spike")
    assert [(e.start, e.end) for e in found] == [
        (series.index[10], series.index[11]),
        (series.index[30], series.index[30]),
    ]


def _hourly(days: int, seed: int = 0) -> pd.Series:
    hourly = _city_like(days=days, seed=seed).resample("1h").mean()
    return hourly


def test_model_is_chosen_by_backtest_and_beats_seasonal_naive() -> None:
    series = _hourly(29)
    history, actual = series.iloc[:-24], series.iloc[-24:].to_numpy()
    _model, choice = select(history.to_numpy(), pd.DatetimeIndex(history.index), horizon_steps=24, season_steps=24)
    assert choice.model in {*CANDIDATES, "combined"}
    assert set(choice.mae_by_model) >= set(CANDIDATES)
    assert choice.backtest_mae == min(choice.mae_by_model.values())
    fc = forecast(history, horizon_steps=24, season_steps=24)
    assert (fc["lo95"] <= fc["lo80"]).all() and (fc["lo80"] <= fc["yhat"]).all()
    assert (fc["yhat"] <= fc["hi80"]).all() and (fc["hi80"] <= fc["hi95"]).all()
    naive = history.to_numpy()[-24:]
    assert score.mase(actual, fc["yhat"].to_numpy(), naive) < 0.9
    assert fc["backtest_mae"].iloc[0] == pytest.approx(choice.backtest_mae)


def test_history_is_cleaned_of_anomalies_before_fitting_and_left_alone_when_normal() -> None:
    series = _hourly(28).to_numpy()
    assert np.array_equal(clean(series, 24), series)  # nothing unusual: not a point moved
    dirty = series.copy()
    dirty[400:412] += 300  # twelve hours of a fault, three weeks of normal days around it
    dirty[600] = -500
    cleaned = clean(dirty, 24)
    assert np.abs(cleaned - series).max() < 15  # back to the neighbouring weeks' values
    # the same week's fault does not come back as next week's forecast
    week_later = pd.Series(dirty, index=_hourly(28).index).iloc[: 400 + 168 - 5]
    fc = forecast(week_later, horizon_steps=24, season_steps=24)
    assert fc["yhat"].max() < series.max() + 30


def test_mstl_and_sarimax_forecast_a_steady_weekly_city_closely() -> None:
    series = _hourly(29)
    history, actual = series.iloc[:-24], series.iloc[-24:].to_numpy()
    naive = history.to_numpy()[-24:]
    for fit in (mstl, sarimax):
        model = fit(history.to_numpy(), pd.DatetimeIndex(history.index), 24)
        assert score.mase(actual, model.forecast(24), naive) < 0.9, fit.__name__


def test_regression_with_ar1_errors_recovers_known_parameters() -> None:
    rng = np.random.default_rng(3)
    n = 2000
    x = np.sin(np.arange(n) * 2 * np.pi / 24)
    errors = np.zeros(n)
    for t in range(1, n):
        errors[t] = 0.7 * errors[t - 1] + rng.normal(0, 1.0)
    y = 50 + 10 * x + errors
    constant, beta, phi, variance = _ar1_regression(y, x[:, None], constant=True)
    assert phi == pytest.approx(0.7, abs=0.05)
    assert beta == pytest.approx(10, abs=0.5)
    assert constant / (1 - phi) == pytest.approx(50, abs=1.0)  # SARIMAX's constant is mean x (1 - phi)
    assert variance == pytest.approx(1.0, abs=0.1)


def test_districts_and_buildings_add_counts_and_average_concentrations() -> None:
    hours = pd.date_range("2026-11-01", periods=3, freq="1h", tz="UTC")
    rows = pd.DataFrame(
        [
            *[("t1", "vehicle_count", h, 100.0) for h in hours],
            *[("t2", "vehicle_count", h, 300.0) for h in hours[:2]],  # t2 misses the last hour
            *[("a1", "pm25_ugm3", h, 10.0) for h in hours],
            *[("a2", "pm25_ugm3", h, 30.0) for h in hours],
            *[("a3", "pm25_ugm3", h, 50.0) for h in hours],
        ],
        columns=["device_id", "metric", "bucket", "value"],
    )
    devices = pd.DataFrame(
        {
            "device_id": ["t1", "t2", "a1", "a2", "a3"],
            "district": ["goyang"] * 5,
            "building_id": [None, None, "B1", "B1", "B2"],
        }
    )
    out = aggregate(rows, memberships(devices)).set_index(["device_id", "metric", "bucket"])["value"]
    assert out[("district:goyang", "vehicle_count", hours[0])] == 400.0  # counts add up
    # a device silent for an hour counts at its peers' mean, not as zero traffic
    assert out[("district:goyang", "vehicle_count", hours[2])] == 200.0
    assert out[("district:goyang", "pm25_ugm3", hours[0])] == 30.0  # concentrations average
    assert out[("building:B1", "pm25_ugm3", hours[1])] == 20.0
    assert ("building:B2", "pm25_ugm3", hours[0]) not in out.index  # one sensor: its own forecast


def test_interval_coverage_is_honest_over_many_days() -> None:
    inside = []
    for seed in range(6):
        series = _hourly(29, seed=seed)
        fc = forecast(series.iloc[:-24], horizon_steps=24, season_steps=24)
        inside.append(score.coverage(series.iloc[-24:].to_numpy(), fc["lo95"].to_numpy(), fc["hi95"].to_numpy()))
    assert 0.85 <= float(np.mean(inside)) <= 1.0


def test_short_series_fall_back_and_too_short_are_refused() -> None:
    short = _hourly(2)
    assert forecast(short, horizon_steps=6, season_steps=24)["model"].iloc[0] in {"holt_winters", "holt_damped"}
    with pytest.raises(SeriesError, match="at least 6"):
        forecast(short.head(3), horizon_steps=3)


def test_scores_match_windows_with_known_answers() -> None:
    t = pd.Timestamp("2026-11-01", tz="UTC")
    hour = pd.Timedelta(hours=1)
    truth = pd.DataFrame(
        [("a", "m", "spike", t, t), ("a", "m", "stuck", t + 5 * hour, t + 7 * hour), ("b", "m", "drift", t, t + hour)],
        columns=score.WINDOW_COLUMNS,
    )
    found = pd.DataFrame(
        [
            ("a", "m", "spike", t, t),  # right
            ("a", "m", "level_shift", t + 6 * hour, t + 8 * hour),  # found, wrong kind, an hour late
            ("a", "m", "spike", t + 20 * hour, t + 20 * hour),  # false alarm
        ],
        columns=score.WINDOW_COLUMNS,
    )
    result = score.detection(found, truth, tolerance=pd.Timedelta(minutes=10))
    assert (result.precision, result.recall) == (pytest.approx(2 / 3), pytest.approx(2 / 3))
    assert result.f1 == pytest.approx(2 / 3)
    assert result.median_delay_s == pytest.approx(1800.0)
    assert result.by_kind["drift"]["recall"] == 0.0
    assert result.by_kind["spike"]["precision"] == 0.5
    assert result.kind_accuracy == 0.5
    assert score.mase(np.array([1.0, 2.0]), np.array([1.0, 2.0]), np.array([2.0, 3.0])) == 0.0


def test_csv_reader_finds_columns_and_names_problems(tmp_path: Path) -> None:
    good = tmp_path / "mine.csv"
    good.write_text("when,reading\n2026-01-01 00:00,1\n2026-01-01 00:10,2\n" + "".join(
        f"2026-01-01 {h:02d}:{m:02d},{h}\n" for h in range(1, 5) for m in (0, 10)
    ))  # fmt: skip
    with pytest.raises(CsvError, match=r"no time column found.*--time-column"):
        read_series(good)
    series = read_series(good, time_column="when")
    assert series.index.freq == pd.Timedelta(minutes=10) and series.notna().sum() == 10
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,value\nyesterday,1\nlater,3\n")
    with pytest.raises(CsvError, match="'timestamp' is not times"):
        read_series(bad)
    with pytest.raises(CsvError, match="no such file"):
        read_series(tmp_path / "missing.csv")


def test_runner_gives_the_same_answer_in_process_in_a_pool_and_on_dask() -> None:
    from distributed import LocalCluster

    items = list(range(23))
    assert [len(c) for c in chunks(items, 4)] == [6, 6, 6, 5]
    expected = _square(items)
    with Runner(workers=2) as pool:
        assert pool.map(_square, items) == expected
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster,
        Runner(dask_address=cluster.scheduler_address) as dask,
    ):
        assert dask.map(_square, items) == expected


def test_detection_over_a_pool_finds_what_one_process_finds() -> None:
    base = _city_like(days=10)
    series = {
        (f"d{i}", metric): _inject("level_shift", base + i, 2000 + 50 * i, 30).to_frame("value")
        for i in range(4)
        for metric in ("noise_dba", "vehicle_count", "pm25_ugm3")
    }
    alone = detect_all(series, steps_per_day=PER_DAY)
    assert {(d, m) for d, m, _ in alone} == set(series)  # each series' own shift
    with Runner(workers=2) as pool:
        pooled = detect_all(series, steps_per_day=PER_DAY, runner=pool)
    assert sorted(pooled, key=repr) == sorted(alone, key=repr)


def test_median_of_votes_matches_numpy_with_missing_votes() -> None:
    rng = np.random.default_rng(4)
    votes = rng.normal(size=(7, 500))
    votes[rng.random(votes.shape) < 0.4] = np.nan
    votes[:, :5] = np.nan  # no vote at all
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        expected = np.nanmedian(votes, axis=0)
    np.testing.assert_allclose(_median_of_votes(votes), expected, equal_nan=True)


def _square(items: list[int]) -> list[int]:
    return [i * i for i in items]


def test_real_traffic_windows_are_found_with_few_false_alarms() -> None:
    from analytics.realdata import nab_traffic

    result = nab_traffic(DATA / "nab_realTraffic")
    assert result.windows == 14
    assert result.window_recall >= 0.7
    assert result.false_alarms_per_week <= 1.0


def test_real_air_quality_forecasts_beat_seasonal_naive() -> None:
    from analytics.realdata import uci_mase

    assert uci_mase(DATA / "uci_air_quality" / "AirQualityUCI.csv") < 1.0


def test_silence_most_devices_share_is_one_fleet_episode_not_one_per_device() -> None:
    from analytics.passes import FLEET, detect_all

    grid = pd.date_range("2026-11-20", periods=2 * 288, freq="5min", tz="UTC")
    rng = np.random.default_rng(16)
    series = {}
    for d in range(10):
        values = 20 + 5 * np.sin(np.arange(len(grid)) * 2 * np.pi / 288) + rng.normal(0, 0.5, len(grid))
        values[400:406] = np.nan  # the platform stopped for half an hour: every device silent
        if d == 3:
            values[500:510] = np.nan  # one device alone, later
        if d == 4:
            values[396:412] = np.nan  # silent before and after the outage: its own problem
        series[(f"air-{d:04d}", "pm25_ugm3")] = pd.DataFrame({"value": values}, index=grid)
    found = detect_all(series, steps_per_day=288)
    drops = [(device, ep) for device, _, ep in found if ep.kind == "dropout"]
    fleet = [ep for device, ep in drops if device == FLEET]
    assert len(fleet) == 1, drops
    assert fleet[0].start == grid[400] and fleet[0].end == grid[405]
    assert "10 of 10 devices" in fleet[0].explanation or "9 of 10 devices" in fleet[0].explanation
    own = {device for device, ep in drops if device != FLEET}
    assert own == {"air-0003", "air-0004"}, "a device silent alone, or longer than the fleet, keeps its episode"


def test_a_few_devices_silent_together_stay_their_own_episodes() -> None:
    from analytics.detect import Episode
    from analytics.passes import FLEET, shared_silences

    grid = pd.date_range("2026-11-20", periods=10, freq="5min", tz="UTC")
    series = {(f"d{i}", "m"): pd.DataFrame({"value": np.ones(10)}, index=grid) for i in range(10)}
    found = [(f"d{i}", "m", Episode(grid[2], grid[4], "dropout", 1.0, "no reports")) for i in range(3)]
    assert shared_silences(found, series) == found
    assert all(device != FLEET for device, _, _ in shared_silences(found, series))


def test_a_sensor_reporting_every_15_minutes_is_judged_by_its_own_rhythm() -> None:
    from analytics.detect import cadence_steps, detect

    grid = pd.date_range("2026-11-20", periods=3 * 288, freq="5min", tz="UTC")
    values = 20 + 5 * np.sin(np.arange(len(grid)) * 2 * np.pi / 288)
    values[np.arange(len(grid)) % 3 != 0] = np.nan  # a report every third bucket, as it was set up
    series = pd.Series(values, index=grid)
    assert cadence_steps(series) == 3
    assert [e for e in detect(series, steps_per_day=288) if e.kind == "dropout"] == [], "its rhythm is no dropout"
    series.iloc[600:624] = np.nan  # then two hours without a report
    drops = [e for e in detect(series, steps_per_day=288) if e.kind == "dropout"]
    assert len(drops) == 1 and "expected every 15 min" in drops[0].explanation
    assert drops[0].start <= grid[603] and drops[0].end >= grid[622]


def _habitually_wild(days: int = 12, seed: int = 3) -> pd.Series:
    """A server's CPU: a low idle with bursts to 60..90% at any hour, every day."""
    index = pd.date_range("2026-10-01", periods=days * PER_DAY, freq="5min", tz="UTC")
    rng = np.random.default_rng(seed)
    values = 10 + rng.normal(0, 1, len(index))
    bursts = rng.choice(len(index), size=days * 6, replace=False)
    values[bursts] = rng.uniform(60, 90, len(bursts))
    return pd.Series(values, index=index)


def test_a_value_beyond_all_history_is_a_record_and_a_habitual_one_is_not() -> None:
    from analytics.detect import records

    series = _habitually_wild()
    at = 10 * PER_DAY + 37
    habitual, record = series.copy(), series.copy()
    habitual.iloc[at] = 85.0  # within the bursts it has always had
    record.iloc[at] = 130.0  # beyond any of them by far
    assert not records(habitual, steps_per_day=PER_DAY, margin=0.15, days=2, settled_days=7)[at]
    assert records(record, steps_per_day=PER_DAY, margin=0.15, days=2, settled_days=7)[at]
    found = [e for e in detect(record, steps_per_day=PER_DAY) if e.start <= record.index[at] <= e.end]
    assert found and "130" in found[0].explanation
    # a young series has not met its own extremes: the same record on its third day needs more
    young = series.copy()
    young.iloc[2 * PER_DAY + 37] = 1.2 * float(series.iloc[: 2 * PER_DAY].max())
    assert not records(young, steps_per_day=PER_DAY, margin=0.15, days=2, settled_days=7)[2 * PER_DAY + 37]
    assert records(young, steps_per_day=PER_DAY, margin=0.15, days=2, settled_days=0)[2 * PER_DAY + 37]


@pytest.mark.parametrize("at", [1, 2, 3])
def test_a_spike_in_a_series_first_minutes_is_reported_not_a_crash(at: int) -> None:
    series = _city_like(days=3)
    series.iloc[at] += 400
    found = detect(series, steps_per_day=PER_DAY)
    assert [e.kind for e in found] == ["spike"]
    assert found[0].start == series.index[at]
    assert "too little history" in found[0].explanation
