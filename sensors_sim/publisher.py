"""Publish the simulated fleet over MQTT, in real (or sped-up) time.

Payloads are canonical JSON or SenML; a deterministic share can be broken on purpose
(dead-letter drills). The fleet can be made flaky (jitter, offline hours, late and
duplicated deliveries), carries labelled anomalies whose ground truth is handed to
the caller as each begins, and obeys scenario requests on ``sim/<district>/scenario``.
"""

from __future__ import annotations

import heapq
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson
import paho.mqtt.client as mqtt
import pandas as pd
from paho.mqtt.enums import CallbackAPIVersion

from contract.topics import (
    CONTROL_REQUESTS,
    assign_filter,
    city_topic,
    control_answer_topic,
    scenario_state_topic,
    scenario_topic,
)
from sensors_sim import anomalies, control
from sensors_sim.errors import ControlError, FleetError, ScenarioError
from sensors_sim.reports import sample
from sensors_sim.scenarios import Active, parse_request
from sensors_sim.signals import hash_id

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
    anomaly_rate: float = 0.0  # labelled anomalies per device and simulated day
    # A flaky fleet (all off by default): stamps up to jitter_s early, whole hours
    # offline, messages arriving late_by_s late (with their own time) or twice.
    jitter_s: float = 0.0
    offline_share: float = 0.0
    late_share: float = 0.0
    late_by_s: float = 60.0
    duplicate_share: float = 0.0


# What a deliberately broken message looks like, and the reason ingest must give.
MALFORMED = (
    (b'{"metrics": {"pm25_ugm3": 12.5', "not_decodable"),
    (b'{"metrics": {"pm25": 12.5}}', "unknown_metric"),
    (b'{"metrics": {"noise_dba": 999}}', "value_out_of_range"),
)


def topic_for(district: str, kind: str, device_id: str) -> str:
    return city_topic(district, kind, device_id)


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


def chance(device_id: str, step: int, salt: int) -> float:
    """A deterministic number in [0, 1) for (device, step, purpose)."""
    h = (hash_id(device_id) * 2654435761 + step * 40503 + salt * 97787) & 0xFFFFFFFF
    h = ((h ^ (h >> 15)) * 2246822519) & 0xFFFFFFFF
    return (h ^ (h >> 13)) / 2**32


class _Deliveries:
    """Messages held back to arrive late, in the order they fall due (simulated time)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, str, bytes]] = []
        self._n = 0

    def hold(self, due_s: float, topic: str, payload: bytes) -> None:
        self._n += 1
        heapq.heappush(self._heap, (due_s, self._n, topic, payload))

    def due(self, now_s: float) -> list[tuple[str, bytes]]:
        out = []
        while self._heap and self._heap[0][0] <= now_s:
            _, _, topic, payload = heapq.heappop(self._heap)
            out.append((topic, payload))
        return out

    def drain(self) -> list[tuple[str, bytes]]:
        return self.due(float("inf"))


class _Plan:
    """Labelled anomalies a day at a time (simulated UTC days), announced as they begin."""

    def __init__(self, config: SimConfig, fleet: pd.DataFrame, on_truth: Callable[[pd.DataFrame], None] | None):
        self._config, self._fleet, self._on_truth = config, fleet, on_truth
        self._day = -1
        self.truth = pd.DataFrame(columns=anomalies.TRUTH_COLUMNS)
        self._announced: set[int] = set()
        self._first_s: float | None = None

    def at(self, now_s: float) -> pd.DataFrame:
        if self._config.anomaly_rate <= 0:
            return self.truth
        if self._first_s is None:
            self._first_s = now_s
        day = int(now_s // 86400)
        if day != self._day:
            self._day = day
            planned = anomalies.plan(
                self._fleet, day * 86400.0, (day + 1) * 86400.0, interval_s=self._config.interval_s,
                per_device_day=self._config.anomaly_rate, seed=self._config.seed,
            )  # fmt: skip
            self.truth = anomalies.with_reference(
                self._fleet, planned, seed=self._config.seed, interval_s=self._config.interval_s
            )
            self._announced = set()
        begun = self.truth[(self.truth["started_at"] <= now_s) & (self.truth["ended_at"] >= self._first_s)]
        fresh = [i for i in begun.index if i not in self._announced]
        if fresh and self._on_truth is not None:
            self._on_truth(self.truth.loc[fresh, anomalies.TRUTH_COLUMNS])
        self._announced.update(fresh)
        return self.truth


def run(
    config: SimConfig,
    fleet: pd.DataFrame,
    stop: threading.Event,
    *,
    duration_s: float | None = None,
    on_truth: Callable[[pd.DataFrame], None] | None = None,
) -> int:
    """Publish one report per device every ``interval_s`` simulated seconds until ``stop``.

    Anomalies (``config.anomaly_rate``) are planned a simulated day at a time and passed
    to ``on_truth`` as each one begins. Scenario requests arriving on ``scenario_topic``
    take effect at the next report. Returns the number of messages published.
    """
    if config.jitter_s >= config.interval_s:
        raise FleetError(f"jitter_s ({config.jitter_s}) must be below interval_s ({config.interval_s})")
    requests: queue.SimpleQueue[tuple[str, bytes]] = queue.SimpleQueue()
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"smartcity-sim-{config.district}", protocol=mqtt.MQTTv5
    )
    if config.mqtt_username:
        client.username_pw_set(config.mqtt_username, config.mqtt_password)
    client.max_queued_messages_set(0)

    def on_connect(client: mqtt.Client, userdata: object, flags: object, reason: object, props: object) -> None:
        topics = [scenario_topic(config.district), assign_filter(config.district), CONTROL_REQUESTS]
        client.subscribe([(t, 1) for t in topics])

    def on_message(client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        requests.put((message.topic, bytes(message.payload)))  # handled by the publishing loop, in order

    client.on_connect = on_connect
    client.on_message = on_message
    client.connect(config.mqtt_host, config.mqtt_port, keepalive=30)
    client.loop_start()
    sent = 0
    started_wall = time.monotonic()
    # Faster than real time, the clock starts in the past (never ahead of now, which
    # ingest would refuse) and runs at real speed once it has caught up.
    lead_s = min(86400.0, (config.speed - 1) * (duration_s or 86400.0)) if config.speed > 1 else 0.0
    sim_time = datetime.now(UTC) - timedelta(seconds=lead_s)
    speed = config.speed
    active: list[Active] = []
    late = _Deliveries()
    plan = _Plan(config, fleet, on_truth)
    students = _Students(client, config, fleet, on_truth)

    def send(topic: str, payload: bytes) -> None:
        nonlocal sent
        client.publish(topic, payload, qos=1)
        sent += 1

    try:
        while not stop.is_set():
            now_s = sim_time.timestamp()
            scenario_requests = _drain_requests(requests, config.district, students, now_s)
            active = _take_requests(client, config.district, scenario_requests, active, now_s)
            step = int(now_s // config.interval_s)
            truth = plan.at(now_s)
            reports = sample(
                fleet, sim_time, seed=config.seed, interval_s=config.interval_s, scenarios=active, truth=truth
            )
            for device_id, kind, simulated in reports:
                values = students.drive(device_id, simulated, now_s)
                if values and not _offline(config, device_id, now_s):
                    _report(config, (device_id, kind, values), step, sim_time, late=late, send=send)
            for topic, payload in late.due(now_s):
                send(topic, payload)
            sim_time += timedelta(seconds=config.interval_s)
            if speed > 1 and sim_time >= datetime.now(UTC):
                sim_time, speed = datetime.now(UTC), 1.0
            if duration_s is not None and time.monotonic() - started_wall >= duration_s:
                break
            stop.wait(config.interval_s / speed)
        for topic, payload in late.drain():  # late, never lost
            send(topic, payload)
    finally:
        client.loop_stop()
        client.disconnect()
    log.info("simulator published %d messages", sent)
    return sent


def _drain_requests(
    requests: queue.SimpleQueue[tuple[str, bytes]], district: str, students: _Students, now_s: float
) -> list[bytes]:
    """Hand students' control requests on; return the scenario requests, in arrival order."""
    scenario_requests: list[bytes] = []
    while True:
        try:
            topic, body = requests.get_nowait()
        except queue.Empty:
            return scenario_requests
        if topic == scenario_topic(district):
            scenario_requests.append(body)
        else:
            students.handle(topic, body, now_s)


def _report(
    config: SimConfig,
    report: tuple[str, str, dict[str, float]],
    step: int,
    sim_time: datetime,
    *,
    late: _Deliveries,
    send: Callable[[str, bytes], None],
) -> None:
    """One device's report: broken, jittered, held back or sent twice as the config asks."""
    device_id, kind, values = report
    topic = topic_for(config.district, kind, device_id)
    broken = malformed_index(device_id, step, config.malformed_share)
    if broken is not None:
        payload = MALFORMED[broken][0]
    else:
        stamped = sim_time - timedelta(seconds=config.jitter_s * chance(device_id, step, 1))
        payload = payload_for(stamped, values, config.payload_format)
    if config.late_share and chance(device_id, step, 2) < config.late_share:
        late.hold(sim_time.timestamp() + config.late_by_s, topic, payload)
        return
    send(topic, payload)
    if config.duplicate_share and chance(device_id, step, 3) < config.duplicate_share:
        send(topic, payload)


def _offline(config: SimConfig, device_id: str, now_s: float) -> bool:
    """Whether the device is in one of its offline hours (a deterministic share of them)."""
    return bool(config.offline_share) and chance(device_id, int(now_s // 3600), 4) < config.offline_share


def _take_requests(
    client: mqtt.Client, district: str, requests: list[bytes], active: list[Active], now_s: float
) -> list[Active]:
    """Apply the scenario requests that arrived; publish the (retained) state when it changed."""
    current = [a for a in active if a.ended_s > now_s]
    changed = len(current) != len(active)
    error = None
    for payload in requests:
        try:
            request = parse_request(payload, now_s)
        except ScenarioError as exc:
            log.warning("scenario request refused: %s", exc)
            error = str(exc)
            changed = True
            continue
        current = [a for a in current if request is not None and a.name != request.name]
        if request is not None:
            current.append(request)
        log.info("scenarios now: %s", ", ".join(a.name for a in current) or "none")
        changed = True
    if changed:
        state: dict[str, object] = {
            "active": [{"scenario": a.name, "started": _iso(a.started_s), "ends": _iso(a.ended_s)} for a in current],
        }
        if error:
            state["error"] = error
        client.publish(scenario_state_topic(district), orjson.dumps(state), qos=1, retain=True)
    return current


class _Students:
    """Which student drives which simulated sensor, and what they asked it to do."""

    def __init__(
        self,
        client: mqtt.Client,
        config: SimConfig,
        fleet: pd.DataFrame,
        on_truth: Callable[[pd.DataFrame], None] | None,
    ) -> None:
        self._client, self._config, self._on_truth = client, config, on_truth
        self._kinds = dict(zip(fleet["device_id"].astype(str), fleet["kind"].astype(str), strict=True))
        self._assigned: dict[tuple[str, str], str] = {}
        self._overrides: dict[str, control.Override] = {}

    def handle(self, topic: str, body: bytes, now_s: float) -> None:
        parts = topic.split("/")
        if parts[:3] == ["sim", self._config.district, "assign"] and len(parts) == 5:
            key = (parts[3], parts[4])
            if not body:
                device = self._assigned.pop(key, None)
                self._overrides.pop(device or "", None)
                return
            try:
                device = str(orjson.loads(body)["device_id"])
            except (orjson.JSONDecodeError, KeyError, TypeError):
                log.warning("ignoring a malformed assignment on %s", topic)
                return
            if device in self._kinds:
                self._assigned[key] = device
            return
        if len(parts) == 4 and parts[0] == "class" and parts[3] == "control":
            self._control(parts[1], parts[2], body, now_s)

    def _control(self, class_id: str, student: str, body: bytes, now_s: float) -> None:
        answer_topic = control_answer_topic(class_id, student)
        device = self._assigned.get((class_id, student))
        if device is None:
            self._answer(answer_topic, {"ok": False, "error": f"{student} of {class_id} has no simulated sensor"})
            return
        try:
            override = control.parse(body, device_id=device, kind=self._kinds[device], now_s=now_s)
        except ControlError as exc:
            self._answer(answer_topic, {"ok": False, "device_id": device, "error": str(exc)})
            return
        if override is None:
            self._overrides.pop(device, None)
            self._answer(answer_topic, {"ok": True, "device_id": device, "action": "release"})
            return
        self._overrides[device] = override
        if self._on_truth is not None:
            self._on_truth(control.label(override, self._config.interval_s))
        self._answer(
            answer_topic,
            {"ok": True, "device_id": device, "action": override.action, "metric": override.metric,
             "until": _iso(override.until_s)},
        )  # fmt: skip

    def drive(self, device_id: str, values: dict[str, float], now_s: float) -> dict[str, float]:
        override = self._overrides.get(device_id)
        if override is None or not values:
            return values
        driven = control.apply(override, values, now_s)
        if control.finished(override, now_s):
            del self._overrides[device_id]
        return driven

    def _answer(self, topic: str, body: dict[str, object]) -> None:
        self._client.publish(topic, orjson.dumps(body), qos=1)


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat()
