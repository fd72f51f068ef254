"""``smartcity stack up|down|status``: the private database cluster and broker under ``<home>``."""

from __future__ import annotations

import json
import os
import secrets
import shutil
from dataclasses import asdict, dataclass

from smartcity import _mosquitto, _postgres
from smartcity.errors import StackError
from smartcity.settings import Settings


@dataclass(frozen=True)
class StackStatus:
    """Where the local services are and whether they run."""

    database_running: bool
    database_dsn: str
    database_port: int
    broker_running: bool
    broker_host: str
    broker_port: int
    broker_demo_port: int
    home: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def ensure_secrets(settings: Settings) -> dict[str, str]:
    """Read the local stack's generated secrets, creating them (mode 0600) the first time."""
    path = settings.secrets_file
    try:
        stored: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
        wanted = {"db_password", "mqtt_service_username", "mqtt_service_password", "mqtt_sim_password"}
        if (wanted | {"dashboard_secret"}) <= stored.keys():
            return stored
    except FileNotFoundError:
        stored = {}
    except ValueError as exc:
        raise StackError(f"{path} is damaged ({exc}); remove it and run 'smartcity stack up' again") from exc
    settings.home.mkdir(parents=True, exist_ok=True)
    fresh = {
        "db_password": secrets.token_urlsafe(24),
        "mqtt_service_username": _mosquitto.SERVICE_USERNAME,
        "mqtt_service_password": secrets.token_urlsafe(24),
        "mqtt_sim_username": _mosquitto.SIM_USERNAME,
        "mqtt_sim_password": secrets.token_urlsafe(24),
        "dashboard_secret": secrets.token_urlsafe(32),
    }
    stored = {**fresh, **stored}  # a file from an older version keeps what it has
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(stored, handle, indent=2)
    return stored


def up(settings: Settings) -> list[str]:
    """Start whatever is not running yet. Returns one line per service saying what happened."""
    stored = ensure_secrets(settings)
    db_started = _postgres.up(settings, stored["db_password"])
    broker_started = _mosquitto.up(
        settings,
        {
            _mosquitto.SERVICE_USERNAME: stored["mqtt_service_password"],
            _mosquitto.SIM_USERNAME: stored["mqtt_sim_password"],
        },
    )
    return [
        f"database: {'started' if db_started else 'already running'} on port {settings.pg_port}",
        f"broker: {'started' if broker_started else 'already running'} on "
        f"{settings.mqtt_host}:{settings.mqtt_port}"
        + (f" (anonymous demo listener 127.0.0.1:{settings.mqtt_demo_port})" if settings.mqtt_demo_port else ""),
    ]


def down(settings: Settings) -> list[str]:
    """Stop the services this stack started; leaves anything else alone."""
    broker = _mosquitto.down(settings)
    database = _postgres.down(settings)
    return [
        f"broker: {'stopped' if broker else 'was not running'}",
        f"database: {'stopped' if database else 'was not running'}",
    ]


def status(settings: Settings) -> StackStatus:
    return StackStatus(
        database_running=_postgres.is_running(settings),
        database_dsn=settings.database_dsn(),
        database_port=settings.pg_port,
        broker_running=_mosquitto.is_running(settings),
        broker_host=settings.mqtt_host,
        broker_port=settings.mqtt_port,
        broker_demo_port=settings.mqtt_demo_port,
        home=str(settings.home),
    )


def purge(settings: Settings) -> None:
    """Delete the stack's folder and the server folders it links to. The services must be down."""
    if _postgres.is_running(settings) or _mosquitto.is_running(settings):
        raise StackError("stop the stack ('smartcity stack down') before deleting its data")
    for name in ("pg", "mqtt"):
        link = settings.home / name
        if link.is_symlink():
            shutil.rmtree(link.resolve(), ignore_errors=True)
    shutil.rmtree(settings.home, ignore_errors=True)
