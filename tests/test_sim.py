"""The simulated city: shapes a person would recognise, determinism, and the shared vocabulary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from contract.kinds import METRICS_BY_KIND
from ingest.decode import decode
from ingest.vocabulary import METRICS
from sensors_sim.errors import FleetError
from sensors_sim.publisher import payload_for, topic_for
from sensors_sim.reports import sample

FLEET = pd.DataFrame(
    {
        "device_id": [f"{k}-{i}" for k in METRICS_BY_KIND for i in range(3)],
        "kind": [k for k in METRICS_BY_KIND for _ in range(3)],
    }
)
KST_MIDNIGHT = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # 2026-11-25 00:00 KST, a Wednesday


def _mean(kind: str, metric: str, local_hour: int, day_offset: int = 0) -> float:
    values = []
    for minute in range(0, 60, 5):
        when = KST_MIDNIGHT + timedelta(days=day_offset, hours=local_hour, minutes=minute)
        for _, k, metrics in sample(FLEET, when, seed=1, interval_s=300):
            if k == kind:
                values.append(metrics[metric])
    return sum(values) / len(values)


def test_rush_hours_beat_the_small_hours() -> None:
    night = _mean("traffic", "vehicle_count", 3)
    assert _mean("traffic", "vehicle_count", 8) > 2 * night
    assert _mean("traffic", "vehicle_count", 18) > 2 * night
    assert _mean("noise", "noise_dba", 8) > _mean("noise", "noise_dba", 3) + 5


def test_weekend_morning_is_quieter_than_weekday_morning() -> None:
    weekday = _mean("traffic", "vehicle_count", 8)
    saturday = _mean("traffic", "vehicle_count", 8, day_offset=3)
    assert saturday < 0.6 * weekday


def test_same_seed_same_readings_other_seed_other_readings() -> None:
    when = KST_MIDNIGHT + timedelta(hours=10)
    assert sample(FLEET, when, seed=5, interval_s=10) == sample(FLEET, when, seed=5, interval_s=10)
    assert sample(FLEET, when, seed=5, interval_s=10) != sample(FLEET, when, seed=6, interval_s=10)


def test_every_simulated_message_is_accepted_by_the_decoder() -> None:
    when = datetime.now(UTC).replace(microsecond=0)
    for device_id, kind, metrics in sample(FLEET, when, seed=3, interval_s=10):
        assert set(metrics) == set(METRICS_BY_KIND[kind])
        assert set(metrics) <= set(METRICS)
        decoded = decode(topic_for("goyang", kind, device_id), payload_for(when, metrics), when)
        assert decoded.rejection is None, (device_id, decoded.rejection)
        assert len(decoded.readings) == len(metrics)


def test_unknown_kind_is_refused_by_name() -> None:
    with pytest.raises(FleetError, match="submarine"):
        sample(pd.DataFrame({"device_id": ["x"], "kind": ["submarine"]}), KST_MIDNIGHT, seed=1, interval_s=10)


# -- weather, holidays, space, anomalies --------------------------------------------
import numpy as np  # noqa: E402

from sensors_sim import anomalies, weather  # noqa: E402
from sensors_sim.calendar import is_day_off  # noqa: E402
from sensors_sim.signals import generate  # noqa: E402


def test_holiday_morning_is_quiet_like_a_sunday() -> None:
    chuseok = datetime(2026, 9, 24, 23, 0, tzinfo=UTC)  # 2026-09-25 08:00 KST, Chuseok, a Friday
    assert is_day_off(chuseok.date() + timedelta(days=1))
    fleet = pd.DataFrame({"device_id": [f"t-{i}" for i in range(20)], "kind": ["traffic"] * 20})
    holiday = np.mean([m["vehicle_count"] for _, _, m in sample(fleet, chuseok, seed=1, interval_s=300)])
    workday = np.mean(
        [m["vehicle_count"] for _, _, m in sample(fleet, chuseok - timedelta(days=2), seed=1, interval_s=300)]
    )
    assert holiday < 0.6 * workday


def _times(start: datetime, days: float, step_s: float = 300) -> np.ndarray:
    return np.arange(start.timestamp(), start.timestamp() + days * 86400, step_s)


def test_rain_raises_the_stream_and_washes_out_particulates() -> None:
    times = _times(datetime(2026, 6, 1, tzinfo=UTC), 30)
    rain = weather.rain_mm_h(times, 42)
    assert rain.max() > 0 and (rain == 0).mean() > 0.5
    fleet = pd.DataFrame({"device_id": ["w-1", "a-1"], "kind": ["water", "air"]})
    blocks = {b.kind: b for b in generate(fleet, times, seed=42, interval_s=300)}
    level = blocks["water"].values["water_level_m"][0]
    wet = weather.rain_last_6h_mm(times, 42) > 5
    assert level[wet].mean() > level[~wet].mean() + 0.2
    pm = blocks["air"].values["pm25_ugm3"][0]
    raining = rain > 3
    assert pm[raining].mean() < pm[rain == 0].mean()


def test_yellow_dust_raises_pm_at_every_station() -> None:
    times = _times(datetime(2026, 3, 1, tzinfo=UTC), 92, 3600)
    dusty = weather.dust(times, 42)
    assert dusty.any() and not dusty.all()
    fleet = pd.DataFrame(
        {"device_id": [f"aq-{i}" for i in range(8)], "kind": ["air"] * 8,
         "lon_deg": np.linspace(126.78, 126.88, 8), "lat_deg": np.linspace(37.62, 37.70, 8)}
    )  # fmt: skip
    pm10 = generate(fleet, times, seed=42, interval_s=3600)[0].values["pm10_ugm3"]
    for station in pm10:
        assert station[dusty].mean() > 2 * station[~dusty].mean()


def test_near_stations_correlate_more_than_far_ones() -> None:
    times = _times(datetime(2026, 11, 1, tzinfo=UTC), 14, 900)
    fleet = pd.DataFrame(
        {"device_id": ["near-a", "near-b", "far"], "kind": ["air"] * 3,
         "lon_deg": [126.830, 126.833, 126.900], "lat_deg": [37.650, 37.652, 37.600]}
    )  # fmt: skip
    pm = generate(fleet, times, seed=3, interval_s=900)[0].values["pm25_ugm3"]
    detrended = pm - pm.mean(axis=0)  # remove the city-wide part shared by all
    near = np.corrcoef(detrended[0], detrended[1])[0, 1]
    far = np.corrcoef(detrended[0], detrended[2])[0, 1]
    assert near > far + 0.3


def test_anomaly_plan_is_deterministic_and_inside_its_range() -> None:
    fleet = pd.DataFrame(
        {
            "device_id": [f"{k}-{i}" for k in ("air", "energy") for i in range(10)],
            "kind": ["air"] * 10 + ["energy"] * 10,
        }
    )
    start = datetime(2026, 11, 1, tzinfo=UTC).timestamp()
    end = start + 7 * 86400
    first = anomalies.plan(fleet, start, end, interval_s=300, per_device_day=0.5, seed=9)
    again = anomalies.plan(fleet, start, end, interval_s=300, per_device_day=0.5, seed=9)
    pd.testing.assert_frame_equal(first, again)
    assert len(first) > 20
    assert set(first["kind"]) == set(anomalies.KINDS)
    assert (first["started_at"] >= start).all() and (first["ended_at"] < end).all()
    assert (first["ended_at"] >= first["started_at"]).all()
    assert ((first["started_at"] % 300) == 0).all()


def test_applied_anomalies_change_exactly_their_windows() -> None:
    fleet = pd.DataFrame({"device_id": [f"air-{i}" for i in range(6)], "kind": ["air"] * 6})
    times = _times(datetime(2026, 11, 1, tzinfo=UTC), 3)
    truth = anomalies.plan(fleet, times[0], times[-1] + 300, interval_s=300, per_device_day=1.0, seed=5)
    clean = generate(fleet, times, seed=5, interval_s=300)[0]
    dirty = generate(fleet, times, seed=5, interval_s=300)
    anomalies.apply(dirty, times, truth, seed=5, interval_s=300)
    for row in truth.itertuples():
        i = clean.device_ids.index(row.device_id)
        inside = (times >= row.started_at) & (times <= row.ended_at)
        before, after = clean.values[row.metric][i], dirty[0].values[row.metric][i]
        if row.kind == "dropout":
            assert np.isnan(after[inside]).all()
        elif row.kind == "stuck":
            assert np.unique(after[inside]).size == 1
        else:
            assert not np.allclose(before[inside], after[inside])
    untouched_metric = dirty[0].values["o3_ppb"]
    assert np.array_equal(untouched_metric, clean.values["o3_ppb"])  # o3 is never planned


def test_bulk_and_step_generation_agree() -> None:
    # a day that crosses local midnight: every kind, every metric, every report the same
    when = datetime(2026, 11, 24, 1, 5, tzinfo=UTC)
    times = _times(when, 1, 3600)
    bulk = {b.kind: b for b in generate(FLEET, times, seed=8, interval_s=300)}
    for j, t in enumerate(times):
        for device_id, kind, metrics in sample(FLEET, datetime.fromtimestamp(t, UTC), seed=8, interval_s=300):
            i = bulk[kind].device_ids.index(device_id)
            assert metrics == {m: bulk[kind].values[m][i, j] for m in metrics}, (device_id, j)


def test_malformed_share_is_deterministic_and_close_to_the_setting() -> None:
    from sensors_sim.publisher import malformed_index

    picks = [malformed_index(f"air-{d}", step, 0.2) for d in range(50) for step in range(200)]
    assert picks == [malformed_index(f"air-{d}", step, 0.2) for d in range(50) for step in range(200)]
    share = sum(p is not None for p in picks) / len(picks)
    assert 0.17 < share < 0.23
    assert {p for p in picks if p is not None} == {0, 1, 2}
    assert all(malformed_index("air-1", s, 0.0) is None for s in range(100))


def test_senml_and_canonical_payloads_decode_to_the_same_readings() -> None:
    when = datetime.now(UTC).replace(microsecond=0)
    values = {"pm25_ugm3": 12.5, "noise_dba": 51.0}
    canon = decode("city/goyang/air/a-1", payload_for(when, values), when)
    senml = decode("city/goyang/air/a-1", payload_for(when, values, "senml"), when)
    assert senml.rejection is None
    assert sorted(senml.readings) == sorted(canon.readings)


def test_anomalies_stay_inside_what_ingest_accepts() -> None:
    affected = {m for metrics in anomalies.AFFECTED.values() for m in metrics}
    assert affected == set(anomalies.LIMITS)
    for metric, (low, high) in anomalies.LIMITS.items():
        assert METRICS[metric].min_value <= low < high <= METRICS[metric].max_value, metric
