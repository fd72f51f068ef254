"""Decoder rules: each rejection reason with its sentence, and the formats' edge cases."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.decode import Limits, decode
from ingest.models import Decoded

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
TOPIC = "city/goyang/air/aq-0001"


def _reject(payload: str | bytes, topic: str = TOPIC, limits: Limits | None = None) -> tuple[str, str]:
    data = payload.encode() if isinstance(payload, str) else payload
    decoded = decode(topic, data, NOW, limits or Limits())
    assert decoded.rejection is not None, decoded
    assert decoded.readings == ()
    return decoded.rejection.reason, decoded.rejection.sentence


@pytest.mark.parametrize(
    ("payload", "reason", "words"),
    [
        ("not json", "not_decodable", "not JSON"),
        (b"\xff\xfe", "not_decodable", "not JSON"),
        ("42", "not_decodable", "JSON int"),
        ('{"metrics": {"pm25": 1}}', "unknown_metric", "did you mean 'pm25_ugm3'"),
        ('{"metrics": {"temperature_c": {"value": 1, "unit": "furlong"}}}', "unit_not_convertible", "furlong"),
        ('{"metrics": {"noise_dba": 400}}', "value_out_of_range", "0..150"),
        ('{"metrics": {"noise_dba": "loud"}}', "not_decodable", "not a number"),
        ('{"metrics": {"noise_dba": 1e999}}', "not_decodable", "not JSON"),
        ('{"time": "yesterday", "metrics": {"noise_dba": 40}}', "bad_timestamp", "ISO 8601"),
        ('{"time": "2027-01-01T00:00:00Z", "metrics": {"noise_dba": 40}}', "timestamp_in_future", "ahead of now"),
        ('{"time": "2020-01-01T00:00:00Z", "metrics": {"noise_dba": 40}}', "timestamp_too_old", "older than"),
        ("{}", "no_readings", "no readings"),
        ("[]", "no_readings", "empty"),
    ],
)
def test_rejection_reason_and_sentence(payload: str, reason: str, words: str) -> None:
    got_reason, sentence = _reject(payload)
    assert got_reason == reason
    assert words in sentence


def test_payload_over_the_limit_is_rejected_before_parsing() -> None:
    reason, sentence = _reject(b"{" + b" " * 100 + b"}", limits=Limits(max_payload_bytes=50))
    assert reason == "payload_too_large"
    assert "102 bytes" in sentence and "50" in sentence


def test_bad_topic_names_the_layout() -> None:
    reason, sentence = _reject('{"metrics": {"noise_dba": 40}}', topic="devices/x")
    assert reason == "bad_topic"
    assert "city/<district>/<kind>/<device_id>" in sentence


def test_one_bad_value_rejects_the_whole_message_and_lists_all_problems() -> None:
    reason, sentence = _reject('{"metrics": {"noise_dba": 400, "pm25_ugm3": -3, "pm10_ugm3": 20}}')
    assert reason == "value_out_of_range"
    assert "and 1 more" in sentence and "pm25_ugm3" in sentence


def test_canonical_forms() -> None:
    flat = decode(TOPIC, b'{"ts": 1795510800, "pm25_ugm3": 9}', NOW)
    assert [(r.metric, r.value, r.time) for r in flat.readings] == [
        ("pm25_ugm3", 9.0, datetime.fromtimestamp(1795510800, UTC))
    ]
    many = {
        "readings": [
            {"time": (NOW - timedelta(minutes=i)).isoformat(), "metrics": {"noise_dba": 40 + i}} for i in range(3)
        ]
    }
    decoded = decode(TOPIC, json.dumps(many).encode(), NOW)
    assert [r.value for r in decoded.readings] == [40.0, 41.0, 42.0]
    kelvin = decode(TOPIC, b'{"metrics": {"temperature_c": {"value": 293.15, "unit": "K"}}}', NOW)
    assert kelvin.readings[0].value == pytest.approx(20.0)
    assert kelvin.readings[0].time == NOW  # no time given: arrival time


def test_bare_number_and_switch_words_on_metric_topics() -> None:
    assert decode("city/goyang/light/sl-1/light_on", b"ON", NOW).readings[0].value == 1.0
    assert decode("city/goyang/noise/n-1/noise_dba", b" 55.5\n", NOW).readings[0].value == 55.5
    reason, _ = _reject(b"fifty", topic="city/goyang/noise/n-1/noise_dba")
    assert reason == "not_decodable"


def test_service_topics_yield_nothing() -> None:
    decoded = decode("city/goyang/air/aq-0001/errors", b"{}", NOW)
    assert decoded == Decoded(topic=None)


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=30,
)
metric_names = st.sampled_from(
    [
        "pm25_ugm3",
        "noise_dba",
        "temperature_c",
        "time",
        "ts",
        "metrics",
        "readings",
        "v",
        "n",
        "bn",
        "bt",
        "t",
        "u",
        "type",
        "id",
        "value",
        "unit",
    ]
)


def _check(decoded: Decoded) -> None:
    assert (decoded.rejection is None) or decoded.readings == ()
    if decoded.rejection is not None:
        assert decoded.rejection.reason and decoded.rejection.sentence


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(payload: bytes) -> None:
    _check(decode(TOPIC, payload, NOW))
    _check(decode("city/goyang/air/aq-0001/pm25_ugm3", payload, NOW))


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        json_values,
        st.dictionaries(metric_names, json_values, max_size=6),
        st.lists(st.dictionaries(metric_names, json_values, max_size=6), max_size=4),
    )
)
def test_arbitrary_json_never_raises(document: object) -> None:
    _check(decode(TOPIC, json.dumps(document).encode(), NOW))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_arbitrary_topics_never_raise(topic: str) -> None:
    _check(decode(topic, b'{"metrics": {"noise_dba": 40}}', NOW))


canonical_docs = st.fixed_dictionaries(
    {"metrics": st.dictionaries(
        st.sampled_from(["pm25_ugm3", "noise_dba", "temperature_c", "humidity_pct", "bogus"]),
        st.one_of(st.integers(-300, 3000), st.floats(-300, 3000, allow_nan=False), st.text(max_size=3)),
        max_size=4,
    )},
    optional={"time": st.one_of(
        st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 1, 1)).map(lambda d: d.isoformat()),
        st.just("garbage"),
    )},
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(canonical_docs)
def test_fast_path_agrees_with_the_general_path(document: dict[str, object]) -> None:
    from ingest import decode as module
    from ingest.topics import parse_topic

    payload = json.dumps(document).encode()
    device = parse_topic(TOPIC)
    assert device is not None
    fast = module._fast_canonical(device, payload, NOW, Limits())
    try:
        measures, _ = module._measures(device, payload, NOW)
        slow = module._validate(device, measures, NOW, Limits())
    except module.PayloadError:
        slow = None
    if fast is not None:
        assert slow is not None and fast == slow
    full = decode(TOPIC, payload, NOW)
    assert (full.rejection is None) == (slow is not None)
    if slow is not None:
        assert list(full.readings) == slow


# -- silent losses that are now refusals or land right -------------------------------
def test_a_senml_pack_naming_two_devices_is_refused_naming_both() -> None:
    """RFC 8428's "collection of resources": stored as one device, one reading was dropped."""
    pack = [
        {"bn": "urn:dev:ow:10e2073a01080063:", "bt": NOW.timestamp(), "n": "temp", "u": "Cel", "v": 23.1},
        {"bn": "urn:dev:ow:10e2073a0108006b:", "n": "temp", "u": "Cel", "v": 24.0},
    ]
    reason, sentence = _reject(json.dumps(pack))
    assert reason == "several_devices"
    assert "urn:dev:ow:10e2073a01080063" in sentence and "urn:dev:ow:10e2073a0108006b" in sentence


def test_two_values_for_one_metric_and_time_are_refused_naming_both_fields() -> None:
    stamp = NOW.timestamp()
    pack = [{"bt": stamp, "n": "temperature", "v": 20.0}, {"n": "temp", "v": 21.0}]
    reason, sentence = _reject(json.dumps(pack))
    assert reason == "duplicate_reading" and "[0]" in sentence and "[1]" in sentence
    body = {"readings": [{"time": NOW.isoformat(), "metrics": {"pm25_ugm3": 1}},
                         {"time": NOW.isoformat(), "metrics": {"pm25_ugm3": 2}}]}  # fmt: skip
    reason, sentence = _reject(json.dumps(body))
    assert reason == "duplicate_reading" and "readings[0].metrics.pm25_ugm3" in sentence


def test_ngsi_ld_observed_at_on_a_property_stamps_the_reading() -> None:
    observed = NOW - timedelta(minutes=7)
    entity = {
        "id": "urn:ngsi-ld:AirQualityObserved:1", "type": "AirQualityObserved",
        "pm25": {"type": "Property", "value": 12.0, "unitCode": "GQ", "observedAt": observed.isoformat()},
        "temperature": {"type": "Property", "value": 3.5, "observedAt": (observed - timedelta(minutes=1)).isoformat()},
    }  # fmt: skip
    decoded = decode(TOPIC, json.dumps(entity).encode(), NOW)
    assert decoded.rejection is None, decoded
    times = {r.metric: r.time for r in decoded.readings}
    assert times == {"pm25_ugm3": observed, "temperature_c": observed - timedelta(minutes=1)}


def test_an_orion_notification_of_one_entity_lands_and_of_two_is_refused() -> None:
    one = {"subscriptionId": "urn:ngsi-ld:Subscription:1", "data": [
        {"id": "urn:ngsi-ld:AirQualityObserved:1", "type": "AirQualityObserved",
         "pm25": {"type": "Property", "value": 12.0, "observedAt": NOW.isoformat()}}]}  # fmt: skip
    decoded = decode(TOPIC, json.dumps(one).encode(), NOW)
    assert decoded.rejection is None and [(r.metric, r.value, r.time) for r in decoded.readings] == [
        ("pm25_ugm3", 12.0, NOW)
    ]
    two = {"subscriptionId": "s", "data": [dict(one["data"][0]), {**one["data"][0], "id": "urn:other"}]}
    reason, sentence = _reject(json.dumps(two))
    assert reason == "several_devices" and "urn:other" in sentence


# -- errors that teach: a foreign format is named, with what to configure ------------
TTN_UPLINK = {
    "end_device_ids": {"device_id": "eui-70b3d57ed0000001", "application_ids": {"application_id": "city-air"},
                       "dev_eui": "70B3D57ED0000001"},
    "received_at": "2026-11-24T08:59:58.123456789Z",
    "uplink_message": {"f_port": 1, "frm_payload": "AQID", "decoded_payload": {"temperature": 21.5, "humidity": 40},
                       "rx_metadata": [{"gateway_ids": {"gateway_id": "gw-1"}, "rssi": -97, "snr": 7.5}]},
}  # fmt: skip
CHIRPSTACK_UP = {
    "deduplicationId": "3ac7e3c4-4401-4b8d-9386-a5c902f9202d", "time": "2026-11-24T08:59:58.000000+00:00",
    "deviceInfo": {"tenantName": "Goyang", "applicationName": "air", "deviceName": "aq-7",
                   "devEui": "0101010101010101"},
    "fCnt": 10, "fPort": 1, "data": "AQID", "object": {"temperature": 21.5},
}  # fmt: skip
TASMOTA_SENSOR = {"Time": "2026-11-24T17:59:58", "BME280": {"Temperature": 21.5, "Humidity": 40.1,
                  "Pressure": 1012.3}, "PressureUnit": "hPa", "TempUnit": "C"}  # fmt: skip


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (json.dumps(TTN_UPLINK).encode(), "The Things Stack v3 uplink"),
        (json.dumps(CHIRPSTACK_UP).encode(), "ChirpStack v4"),
        (json.dumps(TASMOTA_SENSOR).encode(), "Tasmota telemetry"),
        (json.dumps({"entity_id": "sensor.kitchen_temperature", "state": "21.5"}).encode(), "Home Assistant"),
        (b"\xa1\x67metrics\xa1\x69pm25_ugm3\xfa\x41\x48\x00\x00", "CBOR map"),  # our JSON, sent as CBOR
    ],
    ids=["ttn-v3", "chirpstack-v4", "tasmota", "home-assistant", "cbor"],
)
def test_a_foreign_format_is_named_in_the_refusal(payload: bytes, words: str) -> None:
    reason, sentence = _reject(payload)
    assert words in sentence, (reason, sentence)


def test_our_own_refusals_carry_no_foreign_hint() -> None:
    _, sentence = _reject('{"metrics": {"pm25": 1}}')
    assert "looks like" not in sentence


def test_senml_cbor_decodes_as_its_json_form_does() -> None:
    """RFC 8428 section 6: integer labels (bn -2, bt -3, n 0, u 1, v 2, t 6)."""
    import cbor2

    stamp = NOW.timestamp()
    as_json = [{"bn": "urn:dev:ow:10e2073a01080063:", "bt": stamp, "u": "Cel", "n": "temp", "v": 23.1},
               {"n": "temp", "t": -60, "v": 22.9}]  # fmt: skip
    as_cbor = cbor2.dumps([{-2: "urn:dev:ow:10e2073a01080063:", -3: stamp, 1: "Cel", 0: "temp", 2: 23.1},
                           {0: "temp", 6: -60, 2: 22.9}])  # fmt: skip
    from_json = decode(TOPIC, json.dumps(as_json).encode(), NOW)
    from_cbor = decode(TOPIC, as_cbor, NOW)
    assert from_cbor.rejection is None and from_cbor.readings == from_json.readings and len(from_cbor.readings) == 2
    reason, sentence = _reject(cbor2.dumps([{99: 1}]))
    assert reason == "not_decodable" and "unknown label 99" in sentence
    reason, _ = _reject(cbor2.dumps([{0: "temp", 2: 10**400}]))
    assert reason in {"value_not_finite", "not_decodable"}
