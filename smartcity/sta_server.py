"""Wires the SensorThings API onto the dashboard's server: who is asking (the dashboard's
session, or HTTP Basic with an operator or class account, as GIS desks and scripts send),
and the MQTT bridge that publishes new Observations."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, request

from dashboard import auth
from dashboard.errors import DataUnavailable
from smartcity.settings import Settings
from sta import mqtt as sta_mqtt
from sta.errors import Unauthorized, Unavailable
from sta.queries import Viewer
from sta.service import StaConfig, install

PREFIX = "/sta/v1.1"
_REMEMBER_S = 300.0  # a checked Basic password is remembered this long (PBKDF2 costs ~0.1 s a check)


class BasicOrSession:
    """The viewer of a request: the dashboard's signed-in user, else HTTP Basic credentials
    (checked once per five minutes per account), else nobody. Wrong credentials are refused,
    never read as anonymous."""

    def __init__(self, dsn: str, operators: dict[str, str]) -> None:
        self._dsn = dsn
        self._operators = operators
        self._checked: dict[tuple[str, str], tuple[float, auth.User]] = {}
        self._lock = threading.Lock()

    def __call__(self) -> Viewer | None:
        user = auth.current_user()
        if user is None and request.authorization is not None and request.authorization.type == "basic":
            user = self._basic(request.authorization.username or "", request.authorization.password or "")
        if user is None:
            return None
        return Viewer(user.role, user.class_id, user.member)

    def _basic(self, username: str, password: str) -> auth.User:
        key = (username, hashlib.sha256(password.encode("utf-8", "replace")).hexdigest())
        now = time.monotonic()
        with self._lock:
            hit = self._checked.get(key)
        if hit is not None and now - hit[0] < _REMEMBER_S:
            return hit[1]
        try:
            user = auth.authenticate(self._dsn, self._operators, username, password)
        except DataUnavailable as exc:
            raise Unavailable(str(exc)) from None
        if user is None:
            raise Unauthorized(f"the credentials for {username[:64]!r} were not accepted")
        with self._lock:
            if len(self._checked) > 10_000:
                self._checked.clear()
            self._checked[key] = (now, user)
        return user


def base_url(settings: Settings) -> str:
    return f"http://{settings.dashboard_host}:{settings.dashboard_port}{PREFIX}"


def serve(server: Flask, settings: Settings, operators: dict[str, str]) -> Callable[[], None]:
    """Mount the API on ``server`` and start the MQTT bridge; returns what stops the bridge."""
    dsn = settings.database_dsn()
    endpoint = f"mqtt://{settings.mqtt_host}:{settings.mqtt_demo_port or settings.mqtt_port}"
    config = StaConfig(dsn=dsn, public=settings.sta_public, prefix=PREFIX, mqtt_endpoint=endpoint)
    install(server, config, BasicOrSession(dsn, operators))
    if not settings.sta_mqtt:
        return lambda: None
    client = _client(settings)
    _, stop = sta_mqtt.start(dsn, base_url(settings), lambda t, p: client.publish(t, p, qos=0))

    def close() -> None:
        stop.set()
        client.loop_stop()
        client.disconnect()

    return close


def _client(settings: Settings) -> Any:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    username, password = settings.mqtt_credentials()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="smartcity-sta", protocol=mqtt.MQTTv5)
    client.username_pw_set(username, password)
    client.max_queued_messages_set(100_000)  # a slow broker costs Observations, never the bridge's memory
    client.connect_async(settings.mqtt_host, settings.mqtt_port)
    client.loop_start()
    return client
