"""Golden tests: each ecosystem's published message shapes (our own examples, written from
their documentation) through its adapter, every value, unit, time and ignored field checked."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from ingest.adapters import ADAPTERS, FieldRule, rules_from_config
from ingest.decode import Limits, decode_from_source
from ingest.errors import SourceError
from ingest.models import Decoded
from ingest.sources import Source, load_sources

DATA = Path(__file__).parent / "data" / "ecosystems"
NOW = datetime(2026, 11, 24, 0, 1, tzinfo=UTC)  # 09:01 in Goyang
SEOUL = "Asia/Seoul"


def source(adapter: str, mapping: dict[str, object] | None = None, **extra: object) -> Source:
    from zoneinfo import ZoneInfo

    chosen = ADAPTERS[adapter]
    return Source(
        name="test", adapter=chosen, host="127.0.0.1", port=1883, topics=chosen.topic_filters, district="goyang",
        device_id=str(extra.pop("device_id", chosen.default_device_id)), timezone=ZoneInfo(SEOUL),
        rules=rules_from_config(mapping or {}, "mapping"), **extra,  # type: ignore[arg-type]
    )  # fmt: skip


def values(decoded: Decoded) -> dict[str, float]:
    assert decoded.rejection is None, decoded.rejection
    return {r.metric: r.value for r in decoded.readings}


def test_the_things_stack_uplink_maps_the_decoded_payload_and_lists_the_rest() -> None:
    src = source("ttn-v3", {"pm2_5": "pm25_ugm3", "pm10": "pm10_ugm3", "temperature": {"metric": "temperature_c"},
                            "humidity": "humidity_pct"})  # fmt: skip
    payload = (DATA / "ttn-v3-up.json").read_bytes()
    decoded = decode_from_source(src, "v3/goyang-air@ttn/devices/goyang-air-17/up", payload, NOW)
    assert values(decoded) == {"pm25_ugm3": 17.4, "pm10_ugm3": 31.0, "temperature_c": 4.25, "humidity_pct": 61.0}
    assert {r.device_id for r in decoded.readings} == {"goyang-air-17"}
    # the network server's receive time, not the gateway's and not ours
    assert {r.time for r in decoded.readings} == {datetime(2026, 11, 24, 0, 0, 3, 488000, tzinfo=UTC)}
    assert decoded.ignored == ("decoded_payload.battery: no mapping",)
    assert decoded.topic is not None and decoded.topic.scope == "adapter" and decoded.topic.kind == "air"


def test_a_ttn_uplink_without_a_payload_formatter_is_refused_with_what_to_configure() -> None:
    body = (DATA / "ttn-v3-up.json").read_text().replace('"decoded_payload"', '"not_decoded"')
    decoded = decode_from_source(source("ttn-v3", {"pm2_5": "pm25_ugm3"}), "v3/a@ttn/devices/d/up", body.encode(), NOW)
    assert decoded.rejection is not None and decoded.rejection.reason == "no_readings"
    assert "payload formatter" in decoded.rejection.sentence


def test_ttn_events_other_than_uplinks_carry_no_readings_and_an_unmapped_uplink_names_its_fields() -> None:
    src = source("ttn-v3")
    assert decode_from_source(src, "v3/a@ttn/devices/d/join", b"{}", NOW) == Decoded(topic=None)
    refused = decode_from_source(src, "v3/a@ttn/devices/d/up", (DATA / "ttn-v3-up.json").read_bytes(), NOW)
    assert refused.rejection is not None and refused.rejection.reason == "no_readings"
    for name in ("pm2_5", "pm10", "temperature", "humidity", "battery"):
        assert name in refused.rejection.sentence


def test_the_device_id_rule_and_the_registry_name_the_device() -> None:
    payload = (DATA / "ttn-v3-up.json").read_bytes()
    src = source("ttn-v3", {"pm2_5": "pm25_ugm3"}, device_id="ttn-{dev_eui}")
    topic = "v3/goyang-air@ttn/devices/goyang-air-17/up"
    assert {r.device_id for r in decode_from_source(src, topic, payload, NOW).readings} == {"ttn-70b3d57ed005a3f1"}
    registered = decode_from_source(src, topic, payload, NOW, aliases={"70b3d57ed005a3f1": "air-0042"})
    assert {r.device_id for r in registered.readings} == {"air-0042"}
    missing = decode_from_source(source("ttn-v3", {"pm2_5": "pm25_ugm3"}, device_id="{serial}"), topic, payload, NOW)
    assert missing.rejection is not None and "serial" in missing.rejection.sentence


def test_chirpstack_v4_up_event_uses_the_profile_mapping_and_the_event_time() -> None:
    src = source("chirpstack-v4", {"battery_mv": "-"})
    src.profiles["ultrasonic-level"] = rules_from_config({"level_cm": {"metric": "water_level_m", "unit": "cm"}}, "p")
    decoded = decode_from_source(
        src, "application/17c82e96/device/0101010101010101/event/up", (DATA / "chirpstack-v4-up.json").read_bytes(), NOW
    )
    assert values(decoded) == {"water_level_m": 1.175}
    (reading,) = decoded.readings
    assert reading.device_id == "0101010101010101"
    assert reading.time == datetime(2026, 11, 24, 0, 0, 5, 123456, tzinfo=UTC)  # nanoseconds cut to micro
    assert decoded.ignored == ("object.distance_cm: no mapping",)  # battery_mv dropped on purpose, not listed
    assert decoded.topic is not None and decoded.topic.kind == "water"


def test_chirpstack_v3_rx_with_object_json_text() -> None:
    body = (
        b'{"applicationID":"1","applicationName":"river-gauges","deviceName":"g1","devEUI":"0202020202020202",'
        b'"rxInfo":[{"gatewayID":"0016c001f153a14c","time":"2026-11-24T00:00:01Z","rssi":-50}],'
        b'"fPort":1,"data":"AQ==","objectJSON":"{\\"level_cm\\": 95}"}'
    )
    src = source("chirpstack-v4", {"level_cm": {"metric": "water_level_m", "unit": "cm"}})
    decoded = decode_from_source(src, "application/1/device/0202020202020202/rx", body, NOW)
    assert values(decoded) == {"water_level_m": 0.95}
    assert decoded.readings[0].time == datetime(2026, 11, 24, 0, 0, 1, tzinfo=UTC)
    assert decode_from_source(src, "application/1/device/0202020202020202/event/join", b"{}", NOW).topic is None


def test_tasmota_two_temperature_sensors_are_refused_naming_both_until_one_is_mapped() -> None:
    payload = (DATA / "tasmota-sensor.json").read_bytes()
    refused = decode_from_source(source("tasmota"), "tele/tasmota_8A1B2C/SENSOR", payload, NOW)
    assert refused.rejection is not None and refused.rejection.reason == "duplicate_reading"
    assert "BME280.Temperature" in refused.rejection.sentence and "SCD40.Temperature" in refused.rejection.sentence
    src = source("tasmota", {"SCD40.Temperature": "-", "SCD40.Humidity": "-"})
    decoded = decode_from_source(src, "tele/tasmota_8A1B2C/SENSOR", payload, NOW)
    assert values(decoded) == {"temperature_c": 21.3, "humidity_pct": 40.1, "co2_ppm": 612.0, "pm25_ugm3": 6.0,
                               "pm10_ugm3": 7.0}  # fmt: skip
    # Time is the device's local clock: 09:00 in Seoul is 00:00 UTC
    assert {r.time for r in decoded.readings} == {datetime(2026, 11, 24, 0, 0, tzinfo=UTC)}
    assert {r.device_id for r in decoded.readings} == {"tasmota_8a1b2c"}
    ignored = {i.split(":")[0] for i in decoded.ignored}
    assert ignored == {"BME280.DewPoint", "BME280.Pressure", "SCD40.eCO2", "SCD40.DewPoint", "PMS5003.CF1",
                       "PMS5003.CF2.5", "PMS5003.CF10", "PMS5003.PM1", "PMS5003.PB0.3", "PMS5003.PB0.5",
                       "PMS5003.PB1", "PMS5003.PB2.5", "PMS5003.PB5", "PMS5003.PB10"}  # fmt: skip


def test_tasmota_energy_and_fahrenheit_and_relay_state() -> None:
    body = (DATA / "tasmota-energy.json").read_bytes()
    energy = decode_from_source(source("tasmota"), "tele/plug-3/SENSOR", body, NOW)
    assert values(energy) == {"energy_kwh": 1534.216, "power_kw": 0.237, "voltage_v": 221.0, "current_a": 1.136}
    other_order = decode_from_source(source("tasmota"), "plug-3/tele/SENSOR", body, NOW)  # %topic%/%prefix%/
    assert other_order.readings == energy.readings
    fahrenheit = b'{"Time":"2026-11-24T09:00:00","DS18B20":{"Id":"01144A3F","Temperature":68.0},"TempUnit":"F"}'
    assert values(decode_from_source(source("tasmota"), "tele/t/SENSOR", fahrenheit, NOW)) == {"temperature_c": 20.0}
    on = decode_from_source(source("tasmota"), "stat/light-7/POWER", b"ON", NOW)
    assert values(on) == {"light_on": 1.0} and on.readings[0].time == NOW
    assert decode_from_source(source("tasmota"), "tele/light-7/LWT", b"Online", NOW).topic is None
    bad = decode_from_source(source("tasmota"), "stat/light-7/POWER", b"TOGGLE", NOW)
    assert bad.rejection is not None and "ON or OFF" in bad.rejection.sentence


def test_tasmota_status_answer_with_the_old_dotted_clock() -> None:
    body = b'{"StatusSNS":{"Time":"2026.11.24 09:00:00","AM2301":{"Temperature":3.5,"Humidity":77.0},"TempUnit":"C"}}'
    decoded = decode_from_source(source("tasmota"), "stat/sonoff/STATUS10", body, NOW)
    assert values(decoded) == {"temperature_c": 3.5, "humidity_pct": 77.0}
    assert decoded.readings[0].time == datetime(2026, 11, 24, 0, 0, tzinfo=UTC)


def test_esphome_state_topics() -> None:
    src = source("esphome", {"outdoor_temperature": "temperature_c", "sensor/pm_2_5": "pm25_ugm3",
                             "relay": "light_on", "wifi_signal": "-"})  # fmt: skip
    assert values(decode_from_source(src, "balcony-node/sensor/outdoor_temperature/state", b"3.40", NOW)) == {
        "temperature_c": 3.4
    }
    assert values(decode_from_source(src, "balcony-node/sensor/pm_2_5/state", b"12", NOW)) == {"pm25_ugm3": 12.0}
    relay = decode_from_source(src, "balcony-node/light/relay/state", b'{"state":"OFF","brightness":255}', NOW)
    assert values(relay) == {"light_on": 0.0} and relay.readings[0].device_id == "balcony-node"
    assert decode_from_source(src, "balcony-node/sensor/wifi_signal/state", b"-61", NOW).topic is None
    assert decode_from_source(src, "balcony-node/status", b"online", NOW).topic is None
    nan = decode_from_source(src, "balcony-node/sensor/outdoor_temperature/state", b"nan", NOW)
    assert nan.rejection is not None and nan.rejection.reason == "value_not_finite"
    unmapped = decode_from_source(src, "balcony-node/sensor/uptime/state", b"100", NOW)
    assert unmapped.rejection is not None and "uptime" in unmapped.rejection.sentence


def test_home_assistant_statestream() -> None:
    src = source("ha-statestream", {"sensor.office_co2": "co2_ppm", "office_temperature": "temperature_c"})
    assert values(decode_from_source(src, "homeassistant/sensor/office_co2/state", b"845", NOW)) == {"co2_ppm": 845.0}
    decoded = decode_from_source(src, "homeassistant/sensor/office_temperature/state", b"21.5", NOW)
    assert values(decoded) == {"temperature_c": 21.5} and decoded.readings[0].device_id == "office_temperature"
    for topic, body in (("homeassistant/sensor/office_co2/unit_of_measurement", b'"ppm"'),
                        ("homeassistant/sensor/office_co2/state", b"unavailable")):  # fmt: skip
        assert decode_from_source(src, topic, body, NOW).topic is None


def test_adapter_values_are_validated_like_our_own() -> None:
    src = source("esphome", {"level": {"metric": "water_level_m", "unit": "furlong"}, "pm": "pm25_ugm3"})
    unit = decode_from_source(src, "n/sensor/level/state", b"1", NOW)
    assert unit.rejection is not None and unit.rejection.reason == "unit_not_convertible"
    high = decode_from_source(src, "n/sensor/pm/state", b"99999", NOW)
    assert high.rejection is not None and high.rejection.reason == "value_out_of_range"
    big = decode_from_source(src, "n/sensor/pm/state", b"1" * 100, NOW, Limits(max_payload_bytes=50))
    assert big.rejection is not None and big.rejection.reason == "payload_too_large"


def test_a_sources_file_is_checked_entry_by_entry(tmp_path: Path) -> None:
    good = tmp_path / "sources.toml"
    good.write_text(
        '[[source]]\nname = "ttn"\nadapter = "ttn-v3"\nhost = "127.0.0.1"\npassword_env = "TTN_KEY"\n'
        'device_id = "ttn-{device}"\n[source.mapping]\npm2_5 = {metric = "pm25_ugm3", unit = "ug/m3"}\n'
        '[source.profiles.goyang-air.mapping]\npm10 = "pm10_ugm3"\n'
    )
    (loaded,) = load_sources(good, district="goyang", timezone=SEOUL, environ={"TTN_KEY": "NNSXS.secret"})
    assert loaded.password == "NNSXS.secret" and "secret" not in repr(loaded)
    assert loaded.topics == ("v3/+/devices/+/up",) and loaded.rules["pm2_5"] == FieldRule("pm25_ugm3", "ug/m3")
    assert loaded.profiles["goyang-air"]["pm10"].metric == "pm10_ugm3"
    cases = {
        'adapter = "lorawan"': "unknown adapter 'lorawan'",
        'password_env = "NOPE"': "'NOPE', which is not set",
        'device_id = "fixed"': "names no placeholder",
        "port = 70000": "port must be",
        'kind = "rocket"': "kind 'rocket'",
        'timezone = "Mars/Olympus"': "IANA",
        'colour = "red"': "unknown keys ['colour']",
    }
    for line, words in cases.items():
        bad = tmp_path / "bad.toml"
        key = line.split(" ", 1)[0]
        body = f'[[source]]\nname = "x"\nadapter = "tasmota"\nhost = "h"\n{line}\n'
        if key == "adapter":
            body = f'[[source]]\nname = "x"\nhost = "h"\n{line}\n'
        bad.write_text(body)
        with pytest.raises(SourceError, match=words.replace("(", r"\(").replace("[", r"\[")):
            load_sources(bad, district="goyang", timezone=SEOUL, environ={})
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('[[source]]\nname = "x"\nadapter = "tasmota"\nhost = "h"\n[source.mapping]\nT = "temp"\n')
    with pytest.raises(SourceError, match="metric 'temp' is not in the vocabulary"):
        load_sources(mapping, district="goyang", timezone=SEOUL, environ={})
    broken = tmp_path / "broken.toml"
    broken.write_text("[[source]\n")
    with pytest.raises(SourceError, match="is not TOML"):
        load_sources(broken, district="goyang", timezone=SEOUL, environ={})


_KEYS = ("pm2_5", "pm10", "temperature", "humidity", "battery", "rssi", "level", "co2")
_TARGETS = ("pm25_ugm3", "pm10_ugm3", "temperature_c", "humidity_pct", "-", "co2_ppm", "water_level_m", "noise_dba")


_VALUES = st.one_of(st.floats(allow_nan=True), st.integers(), st.text(max_size=4), st.none())


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    fields=st.dictionaries(st.sampled_from(_KEYS), _VALUES, max_size=8),
    mapped=st.dictionaries(st.sampled_from(_KEYS), st.sampled_from(_TARGETS), max_size=8),
)
def test_an_uplink_stores_every_mapped_field_or_is_refused_saying_why(
    fields: dict[str, object], mapped: dict[str, str]
) -> None:
    """No message stores fewer readings than it carries mapped values without a refusal; every
    other field is listed, or dropped because the mapping says so."""
    body = json.loads((DATA / "ttn-v3-up.json").read_text())
    body["uplink_message"]["decoded_payload"] = fields
    decoded = decode_from_source(
        source("ttn-v3", dict(mapped)), "v3/a@ttn/devices/d/up", json.dumps(body).encode(), NOW
    )
    if decoded.rejection is not None:
        assert decoded.rejection.reason and decoded.rejection.sentence
        assert not decoded.readings
        return
    wanted = {k for k in fields if mapped.get(k, "-") != "-"}
    assert len(decoded.readings) == len(wanted)
    assert len({(r.metric, r.time) for r in decoded.readings}) == len(decoded.readings)
    assert {i.split(":")[0] for i in decoded.ignored} == {f"decoded_payload.{k}" for k in fields if k not in mapped}


_JSON = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=25,
)
_SHAPES = {
    "ttn-v3": ["v3/a@ttn/devices/d/up", "v3/a@ttn/devices/d/join", "v3/x", "v3/a@ttn/devices//up"],
    "chirpstack-v4": ["application/1/device/0101/event/up", "application/1/device/0101/rx", "application/1"],
    "tasmota": ["tele/t/SENSOR", "stat/t/POWER", "stat/t/STATUS10", "t/tele/SENSOR", "tele//SENSOR", "x/y/z/w"],
    "esphome": ["n/sensor/x/state", "n/light/l/state", "n/status", "a/b/c/d/state", "state"],
    "ha-statestream": ["h/sensor/x/state", "h/sensor/x/unit_of_measurement", "h//x/state"],
}


@hypothesis_settings(max_examples=400, deadline=None)
@given(
    adapter=st.sampled_from(sorted(_SHAPES)),
    pick=st.integers(min_value=0, max_value=5),
    body=st.one_of(_JSON.map(lambda d: json.dumps(d).encode()), st.binary(max_size=64)),
    mapping=st.dictionaries(st.text(max_size=12), st.sampled_from(_TARGETS), max_size=4),
)
def test_no_adapter_raises_on_anything_a_foreign_broker_sends(
    adapter: str, pick: int, body: bytes, mapping: dict[str, str]
) -> None:
    shapes = _SHAPES[adapter]
    decoded = decode_from_source(source(adapter, dict(mapping)), shapes[pick % len(shapes)], body, NOW)
    if decoded.rejection is not None:
        assert decoded.rejection.reason and decoded.rejection.sentence and not decoded.readings
    else:
        assert len({(r.device_id, r.metric, r.time) for r in decoded.readings}) == len(decoded.readings)
