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

from sensors_sim.signals import sample

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


def topic_for(district: str, kind: str, device_id: str) -> str:
    return f"city/{district}/{kind}/{device_id}"


def payload_for(when: datetime, values: dict[str, float]) -> bytes:
    return orjson.dumps({"time": when.isoformat(), "metrics": values})


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
    sim_time = datetime.now(UTC)
    try:
        while not stop.is_set():
            for device_id, kind, values in sample(fleet, sim_time, seed=config.seed, interval_s=config.interval_s):
                client.publish(topic_for(config.district, kind, device_id), payload_for(sim_time, values), qos=1)
                sent += 1
            sim_time += timedelta(seconds=config.interval_s)
            if duration_s is not None and time.monotonic() - started_wall >= duration_s:
                break
            stop.wait(config.interval_s / config.speed)
    finally:
        client.loop_stop()
        client.disconnect()
    log.info("simulator published %d messages", sent)
    return sent
