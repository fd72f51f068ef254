"""Publish the simulated fleet over MQTT in canonical JSON, in real (or sped-up) time."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson
import paho.mqtt.client as mqtt
import pandas as pd
from paho.mqtt.enums import CallbackAPIVersion

from sensors_sim.signals import hash_id, sample

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SimConfig:
    mqtt_host: str
    mqtt_port: int
    district: str
    mqtt_username: str = ""
    mqtt_password: str = ""
    interval_s: float = 5.0
    speed: float = 1.0
    seed: int = 42
    payload_format: str = "canonical"  # or "senml"
    malformed_share: float = 0.0  # share of messages deliberately broken (dead-letter drills)


# What a deliberately broken message looks like, and the reason ingest must give.
MALFORMED = (
    (b'{"metrics": {"pm25_ugm3": 12.5', "not_decodable"),
    (b'{"metrics": {"pm25": 12.5}}', "unknown_metric"),
    (b'{"metrics": {"noise_dba": 999}}', "value_out_of_range"),
)


def topic_for(district: str, kind: str, device_id: str) -> str:
    return f"city/{district}/{kind}/{device_id}"


def payload_for(when: datetime, values: dict[str, float], payload_format: str = "canonical") -> bytes:
    """One report in canonical JSON or SenML (RFC 8428, base time and our metric names)."""
    if payload_format == "senml":
        records: list[dict[str, object]] = [{"bt": when.timestamp(), "n": m, "v": v} for m, v in values.items()]
        return orjson.dumps(records)
    return orjson.dumps({"time": when.isoformat(), "metrics": values})


def malformed_index(device_id: str, step: int, share: float) -> int | None:
    """Which broken payload this (device, step) sends, or None: deterministic, ``share`` of the time."""
    if share <= 0:
        return None
    h = (hash_id(device_id) * 2654435761 + step * 40503) & 0xFFFFFFFF
    if h / 2**32 >= share:
        return None
    return h % len(MALFORMED)


def run(config: SimConfig, fleet: pd.DataFrame, stop: threading.Event, *, duration_s: float | None = None) -> int:
    """Publish one report per device every ``interval_s`` simulated seconds until ``stop``.

    Returns the number of messages published.
    """
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"smartcity-sim-{config.district}", protocol=mqtt.MQTTv5
    )
    if config.mqtt_username:
        client.username_pw_set(config.mqtt_username, config.mqtt_password)
    client.max_queued_messages_set(0)
    client.connect(config.mqtt_host, config.mqtt_port, keepalive=30)
    client.loop_start()
    sent = 0
    started_wall = time.monotonic()
    # Faster than real time, the clock starts in the past (never ahead of now, which
    # ingest would refuse) and runs at real speed once it has caught up.
    lead_s = min(86400.0, (config.speed - 1) * (duration_s or 86400.0)) if config.speed > 1 else 0.0
    sim_time = datetime.now(UTC) - timedelta(seconds=lead_s)
    speed = config.speed
    try:
        while not stop.is_set():
            step = int(sim_time.timestamp() // config.interval_s)
            for device_id, kind, values in sample(fleet, sim_time, seed=config.seed, interval_s=config.interval_s):
                broken = malformed_index(device_id, step, config.malformed_share)
                payload = (
                    MALFORMED[broken][0] if broken is not None else payload_for(sim_time, values, config.payload_format)
                )
                client.publish(topic_for(config.district, kind, device_id), payload, qos=1)
                sent += 1
            sim_time += timedelta(seconds=config.interval_s)
            if speed > 1 and sim_time >= datetime.now(UTC):
                sim_time, speed = datetime.now(UTC), 1.0
            if duration_s is not None and time.monotonic() - started_wall >= duration_s:
                break
            stop.wait(config.interval_s / speed)
    finally:
        client.loop_stop()
        client.disconnect()
    log.info("simulator published %d messages", sent)
    return sent
