"""The simulated city: shapes a person would recognise, determinism, and the shared vocabulary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from ingest.decode import decode
from ingest.vocabulary import METRICS
from sensors_sim.errors import FleetError
from sensors_sim.publisher import payload_for, topic_for
from sensors_sim.signals import METRICS_BY_KIND, sample

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
