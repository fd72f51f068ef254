"""What a payload that smartcity refuses looks like, so the refusal can say what to do.

Pure, and consulted only on the refusal path: a message we decode never pays for it.
The shapes are those the ecosystems document: The Things Stack v3 uplinks
(``end_device_ids``, ``uplink_message``), ChirpStack v4 events (``deviceInfo``,
``object``), Tasmota telemetry (``Time`` beside sensor objects such as ``BME280``,
``ENERGY``), ESPHome and Home Assistant state payloads, and CBOR sent where JSON was
expected.
"""

from __future__ import annotations

from typing import Any

__all__ = ["hint_for_bytes", "hint_for_document"]

_TASMOTA_SENSORS = frozenset(
    {"BME280", "BMP280", "BME680", "SHT3X", "AM2301", "DHT11", "DS18B20", "SCD30", "SCD40", "SCD41", "PMS5003",
     "SDS0X1", "ENERGY", "ANALOG", "CCS811", "SGP30", "MHZ19B", "BH1750", "SI7021", "HTU21"}
)  # fmt: skip


def hint_for_document(document: Any) -> str | None:
    """A sentence naming the foreign format ``document`` looks like and what to configure, or None."""
    if not isinstance(document, dict):
        return None
    keys = set(document)
    if "end_device_ids" in keys and ("uplink_message" in keys or "received_at" in keys):
        return (
            "this looks like a The Things Stack v3 uplink: add a source with adapter 'ttn-v3' pointed at the "
            "network server's MQTT integration (docs/ecosystem-ttn.md), or publish its decoded_payload as "
            "smartcity JSON"
        )
    if "deviceInfo" in keys and ("object" in keys or "data" in keys or "fCnt" in keys):
        return (
            "this looks like a ChirpStack v4 uplink event: add a source with adapter 'chirpstack-v4' on "
            "application/+/device/+/event/up (docs/ecosystem-chirpstack.md), or publish its object as smartcity JSON"
        )
    if "Time" in keys and keys & _TASMOTA_SENSORS:
        return (
            "this looks like Tasmota telemetry (tele/<topic>/SENSOR): add a source with adapter 'tasmota' on "
            "its topics (docs/ecosystem-tasmota.md), or send smartcity JSON such as "
            '{"metrics": {"temperature_c": 21.5}}'
        )
    if {"state", "attributes"} <= keys or ("state" in keys and "entity_id" in keys):
        return (
            "this looks like a Home Assistant state: add a source with adapter 'ha-statestream' on its "
            "statestream topics (docs/ecosystem-home-assistant.md), or publish the numeric state on a per-metric "
            "topic (.../<device>/<metric>)"
        )
    return None


def hint_for_bytes(payload: bytes) -> str | None:
    """A sentence when the bytes look like a CBOR map (RFC 8949) rather than JSON, or None.

    (A CBOR array is read as SenML CBOR, RFC 8428 section 6.)"""
    if payload and payload[0] >> 5 == 5:  # a CBOR map header; no JSON text starts so
        return "this looks like a CBOR map, not JSON: send JSON, or SenML as a CBOR array (RFC 8428 section 6)"
    return None
