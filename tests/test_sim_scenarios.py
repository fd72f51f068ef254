"""Scenarios, chunk-independent anomalies and the flaky-fleet switches: pure, no servers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from contract.kinds import METRICS_BY_KIND
from sensors_sim import anomalies
from sensors_sim.backfill import progress_line
from sensors_sim.errors import ScenarioError
from sensors_sim.publisher import chance
from sensors_sim.reports import sample
from sensors_sim.scenarios import NAMES, Active, parse_request
from sensors_sim.signals import generate

FLEET = pd.DataFrame(
    {
        "device_id": [f"{k}-{i}" for k in METRICS_BY_KIND for i in range(4)],
        "kind": [k for k in METRICS_BY_KIND for _ in range(4)],
        "lon_deg": [126.80 + 0.01 * i for _ in METRICS_BY_KIND for i in range(4)],
        "lat_deg": [37.64 + 0.01 * i for _ in METRICS_BY_KIND for i in range(4)],
    }
)
# 2026-11-25 03:00 KST, a Wednesday in November: no dust, little traffic
NIGHT = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)


def _values(kind: str, metric: str, scenarios: list[Active], when: datetime = NIGHT) -> np.ndarray:
    times = np.arange(when.timestamp(), when.timestamp() + 3600, 300)
    for block in generate(FLEET, times, seed=42, interval_s=300, scenarios=scenarios):
        if block.kind == kind:
            return block.values[metric]
    raise AssertionError(kind)


def _window(name: str, when: datetime = NIGHT, hours: float = 1.0) -> list[Active]:
    return [Active(name, when.timestamp(), when.timestamp() + hours * 3600)]


def test_rush_hour_at_three_in_the_morning_fills_the_streets() -> None:
    quiet = _values("traffic", "vehicle_count", [])
    rush = _values("traffic", "vehicle_count", _window("rush_hour"))
    assert rush.mean() > 3 * quiet.mean()
    assert (_values("traffic", "speed_kmh", _window("rush_hour")) < _values("traffic", "speed_kmh", [])).all()
    assert _values("noise", "noise_dba", _window("rush_hour")).mean() > _values("noise", "noise_dba", []).mean() + 10


def test_yellow_dust_scenario_raises_pm_at_every_station() -> None:
    clean = _values("air", "pm10_ugm3", [])
    dusty = _values("air", "pm10_ugm3", _window("yellow_dust"))
    assert (dusty.mean(axis=1) > 2 * clean.mean(axis=1)).all()


def test_heat_wave_raises_temperature_and_energy_use() -> None:
    day = NIGHT + timedelta(hours=11)  # 14:00 KST
    assert (
        _values("air", "temperature_c", _window("heat_wave", day), day) > _values("air", "temperature_c", [], day) + 8
    ).all()
    assert (
        _values("energy", "power_kw", _window("heat_wave", day), day).mean()
        > _values("energy", "power_kw", [], day).mean()
    )


def test_flood_raises_every_stream_and_keeps_raising_it() -> None:
    dry = _values("water", "water_level_m", [])
    flood = _values("water", "water_level_m", _window("flood"))
    assert (flood[:, -1] > dry[:, -1] + 0.5).all()
    assert (flood[:, -1] > flood[:, 0]).all(), "the level rises while the rain goes on"


def test_scenario_outside_its_window_changes_nothing() -> None:
    later = [Active("flood", NIGHT.timestamp() + 86400, NIGHT.timestamp() + 90000)]
    for block, same in zip(
        generate(FLEET, np.array([NIGHT.timestamp()]), seed=1, interval_s=300),
        generate(FLEET, np.array([NIGHT.timestamp()]), seed=1, interval_s=300, scenarios=later),
        strict=True,
    ):
        for metric, values in block.values.items():
            assert np.array_equal(values, same.values[metric]), metric


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        (b"flood", "not JSON"),
        (b'{"scenario": "tsunami"}', "unknown scenario 'tsunami'"),
        (b'{"scenario": "flood", "duration_s": -5}', "duration_s"),
        (b'{"scenario": "flood", "duration_s": true}', "duration_s"),
        (b'["flood"]', "must be an object"),
    ],
)
def test_bad_scenario_requests_are_refused_by_name(payload: bytes, problem: str) -> None:
    with pytest.raises(ScenarioError, match=problem):
        parse_request(payload, 0.0)


def test_scenario_request_opens_a_window_from_now() -> None:
    assert parse_request(b'{"scenario": "heat_wave", "duration_s": 600}', 1000.0) == Active("heat_wave", 1000, 1600)
    assert parse_request(b'{"scenario": "none"}', 1000.0) is None
    assert set(NAMES) == {"rush_hour", "yellow_dust", "heat_wave", "flood"}


def test_anomalies_apply_the_same_a_day_at_once_or_a_report_at_a_time() -> None:
    start = datetime(2026, 11, 2, tzinfo=UTC).timestamp()
    times = np.arange(start, start + 86400, 300)
    truth = anomalies.plan(FLEET, start, start + 86400, interval_s=300, per_device_day=3.0, seed=7)
    truth = anomalies.with_reference(FLEET, truth, seed=7, interval_s=300)
    assert set(truth["kind"]) == set(anomalies.KINDS)
    bulk = generate(FLEET, times, seed=7, interval_s=300)
    anomalies.apply(bulk, times, truth, seed=7, interval_s=300)
    bulk_by_device = {d: (b, i) for b in bulk for i, d in enumerate(b.device_ids)}
    for row in truth.itertuples():
        for j in (np.flatnonzero(times >= row.started_at)[0], np.flatnonzero(times <= row.ended_at)[-1]):
            when = datetime.fromtimestamp(times[j], UTC)
            step = {d: m for d, _, m in sample(FLEET, when, seed=7, interval_s=300, truth=truth)}
            block, i = bulk_by_device[row.device_id]
            expected = block.values[row.metric][i, j]
            if np.isnan(expected):
                assert row.metric not in step[row.device_id], "a dropped-out metric is not reported"
            else:
                assert step[row.device_id][row.metric] == pytest.approx(expected, rel=1e-9), row


def test_same_seed_same_labels_and_same_dirty_readings() -> None:
    start = datetime(2026, 11, 2, tzinfo=UTC).timestamp()
    times = np.arange(start, start + 2 * 86400, 300)

    def run(seed: int) -> tuple[pd.DataFrame, list[np.ndarray]]:
        truth = anomalies.plan(FLEET, start, start + 2 * 86400, interval_s=300, per_device_day=1.0, seed=seed)
        truth = anomalies.with_reference(FLEET, truth, seed=seed, interval_s=300)
        blocks = generate(FLEET, times, seed=seed, interval_s=300)
        anomalies.apply(blocks, times, truth, seed=seed, interval_s=300)
        return truth, [v for b in blocks for v in b.values.values()]

    (truth_a, values_a), (truth_b, values_b) = run(3), run(3)
    pd.testing.assert_frame_equal(truth_a, truth_b)
    assert all(np.array_equal(a, b, equal_nan=True) for a, b in zip(values_a, values_b, strict=True))
    truth_c, _ = run(4)
    assert not truth_a[anomalies.TRUTH_COLUMNS].equals(truth_c[anomalies.TRUTH_COLUMNS])


def test_chance_is_deterministic_and_uniform_enough() -> None:
    draws = np.array([chance(f"d-{d}", s, 2) for d in range(40) for s in range(250)])
    assert np.array_equal(draws, [chance(f"d-{d}", s, 2) for d in range(40) for s in range(250)])
    assert ((draws >= 0) & (draws < 1)).all()
    for share in (0.05, 0.3):
        assert abs((draws < share).mean() - share) < 0.02
    other_purpose = np.array([chance(f"d-{d}", s, 3) for d in range(40) for s in range(250)])
    assert abs(np.corrcoef(draws, other_purpose)[0, 1]) < 0.05


def test_progress_bar_shows_share_rows_rate_and_eta() -> None:
    line = progress_line(15, 30, 1_500_000, 10.0, width=10)
    assert line.startswith("[#####.....]")
    assert "15/30 days" in line and "1,500,000 rows" in line and "150,000 rows/s" in line and "ETA 0m10s" in line
    assert progress_line(30, 30, 10, 1.0, width=4).startswith("[####]")
