"""Golden tests: real payloads from other ecosystems (tests/data/payloads, see its README)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.decode import Limits, decode

DATA = Path(__file__).parent / "data" / "payloads"
# The examples date from 2010-2016: decode them as of their own time.
THEN = datetime(2016, 12, 8, tzinfo=UTC)
WIDE = Limits(max_age_s=20 * 365 * 86400.0)
TOPIC = "city/goyang/air/aq-0001"

# file -> (reason or None, {metric: first value} spot checks, reading count)
EXPECTED: dict[str, tuple[str | None, dict[str, float], int]] = {
    "fiware/AirQualityObserved_example.json": (
        None, {"temperature_c": 12.2, "humidity_pct": 54.0, "co_ppm": 0.4365, "so2_ppb": 4.198}, 4),
    "fiware/AirQualityObserved_example-normalized.json": (
        None, {"co_ppm": 436.45, "no2_ppb": 36.67, "humidity_pct": 54.0}, 5),
    "fiware/AirQualityObserved_example-normalized.jsonld": (None, {"co_ppm": 436.45, "temperature_c": 12.2}, 5),
    "fiware/TrafficFlowObserved_example.json": (
        None, {"vehicle_count": 197.0, "speed_kmh": 52.6, "occupancy_pct": 76.0}, 3),
    "fiware/TrafficFlowObserved_example-normalized.json": (None, {"vehicle_count": 197.0}, 3),
    "fiware/TrafficFlowObserved_example-normalized.jsonld": (None, {"speed_kmh": 52.6}, 3),
    "fiware/EnvironmentObserved_example.json": ("no_readings", {}, 0),
    "fiware/EnvironmentObserved_example-normalized.json": ("no_readings", {}, 0),
    "senml/rfc8428_5.1.1_single_datapoint.json": (None, {"temperature_c": 23.1}, 1),
    "senml/rfc8428_5.1.2_multiple_datapoints_a.json": (None, {"voltage_v": 120.1, "current_a": 1.2}, 2),
    "senml/rfc8428_5.1.2_multiple_datapoints_b_timeseries.json": (None, {"voltage_v": 120.1, "current_a": 1.2}, 7),
    "senml/rfc8428_5.1.3_multiple_measurements.json": (None, {"humidity_pct": 20.0, "battery_pct": 98.0}, 5),
    "senml/rfc8428_5.1.4_resolved.json": (None, {"humidity_pct": 20.0, "battery_pct": 98.0}, 5),
}  # fmt: skip


def test_every_saved_payload_has_an_expectation() -> None:
    files = {str(p.relative_to(DATA)) for p in DATA.rglob("*.json*")}
    assert files == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_golden_payload(name: str) -> None:
    reason, spot, count = EXPECTED[name]
    decoded = decode(TOPIC, (DATA / name).read_bytes(), THEN, WIDE)
    if reason is not None:
        assert decoded.rejection is not None and decoded.rejection.reason == reason
        assert decoded.readings == ()
        return
    assert decoded.rejection is None, decoded.rejection
    assert len(decoded.readings) == count
    assert {r.device_id for r in decoded.readings} == {"aq-0001"}  # the topic names the device, not the payload
    for metric, value in spot.items():
        first = next(r for r in decoded.readings if r.metric == metric)
        assert first.value == pytest.approx(value, rel=1e-3)


def test_senml_relative_times_resolve_against_base_time() -> None:
    decoded = decode(
        TOPIC, (DATA / "senml/rfc8428_5.1.2_multiple_datapoints_b_timeseries.json").read_bytes(), THEN, WIDE
    )
    currents = [r for r in decoded.readings if r.metric == "current_a"]
    assert [r.value for r in currents] == [1.2, 1.3, 1.4, 1.5, 1.6, 1.7]
    assert currents[0].time == datetime.fromtimestamp(1.276020076001e09 - 5, UTC)
    assert currents[-1].time == datetime.fromtimestamp(1.276020076001e09, UTC)


def test_fiware_interval_observation_is_stamped_at_its_end() -> None:
    decoded = decode(TOPIC, (DATA / "fiware/TrafficFlowObserved_example.json").read_bytes(), THEN, WIDE)
    assert {r.time for r in decoded.readings} == {datetime(2016, 12, 7, 11, 15, tzinfo=UTC)}


def test_old_examples_are_rejected_as_too_old_under_default_limits() -> None:
    decoded = decode(
        TOPIC, (DATA / "senml/rfc8428_5.1.4_resolved.json").read_bytes(), datetime(2026, 11, 24, tzinfo=UTC)
    )
    assert decoded.rejection is not None
    assert decoded.rejection.reason == "timestamp_too_old"
