"""One typed settings object per process, read from ``SMARTCITY_*`` environment variables.

Build it once in ``main()`` with :func:`load_settings` and pass it down. The defaults
point at the private local stack (``smartcity stack up``) under ``.smartcity/``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from smartcity.errors import SettingsError

# Placeholders that must never reach a deployment that is not the local stack.
_PLACEHOLDER_SECRETS = frozenset({"changeme", "change-me", "password", "secret", "smartcity"})


class Settings(BaseSettings):
    """Every knob of a smartcity process. Field ``x`` is read from ``SMARTCITY_X``."""

    model_config = SettingsConfigDict(env_prefix="SMARTCITY_", extra="ignore", frozen=True)

    environment: Literal["local", "test", "production"] = "local"
    home: Path = Field(default=Path(".smartcity"), description="Folder of the local stack's data.")

    # Database. Empty dsn means the local stack's cluster over its private socket.
    dsn: str = ""
    pg_port: int = Field(default=55432, ge=1, le=65535)

    # Broker. Empty credentials mean the local stack's generated service account.
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = Field(default=18830, ge=1, le=65535)
    mqtt_demo_port: int = Field(
        default=0, ge=0, le=65535, description="Anonymous loopback listener (simulated district only); 0: none."
    )
    mqtt_sim_username: str = ""
    mqtt_sim_password: SecretStr = SecretStr("")
    mqtt_username: str = ""
    mqtt_password: SecretStr = SecretStr("")
    mqtt_max_packet_bytes: int = Field(default=65536, ge=1024)

    # Services.
    dashboard_host: str = "127.0.0.1"
    dashboard_port: int = Field(default=8050, ge=1, le=65535)
    dashboard_secret: SecretStr = SecretStr("")  # signs sessions; the local stack generates one
    dashboard_secure_cookies: bool = False  # set when served over HTTPS
    district: str = "goyang"
    sim_devices: int = Field(default=40, ge=1)
    sim_interval_s: float = Field(default=5.0, gt=0)
    sim_seed: int = 42
    demo_history_days: float = Field(
        default=14.0, ge=0, le=366, description="`smartcity up` on an empty database first writes this much history"
    )
    demo_history_anomaly_rate: float = Field(default=0.3, ge=0, le=50, description="labelled anomalies per device-day")
    demo_scenario_first_s: float = Field(
        default=60.0, ge=0, le=86_400, description="`smartcity up` plays its first scenario this long after going live"
    )
    demo_scenario_every_s: float = Field(
        default=900.0, ge=0, le=86_400, description="and the next this often; 0 plays none"
    )
    demo_scenario_duration_s: float = Field(default=300.0, gt=0, le=86_400, description="how long each one plays")
    analytics_interval_s: float = Field(default=30.0, gt=0)
    analytics_forecast_interval_s: float = Field(default=3600.0, gt=0)
    analytics_workers: int = Field(default=2, ge=1, le=64)
    analytics_dask_address: str = Field(
        default="", description="A Dask scheduler (tcp://host:8786); empty = this machine."
    )
    storage_archive_dir: str = Field(default="", description="Where the Parquet archive lives; empty: <home>/archive.")
    storage_retention_days: float = Field(default=90.0, gt=0, description="Raw readings older than this are archived.")
    storage_rollup_interval_s: float = Field(default=10.0, gt=0)
    storage_archive_interval_s: float = Field(default=3600.0, gt=0)
    sta_public: bool = Field(
        default=True, description="Anyone may read city data through /sta/v1.1; False: sign-in needed."
    )
    sta_mqtt: bool = Field(default=True, description="New Observations on the SensorThings MQTT topics.")
    city_timezone: str = Field(
        default="Asia/Seoul", description="The city's IANA time zone: its working days and weekends."
    )

    # Ingest batching.
    ingest_batch_max_messages: int = Field(default=5000, ge=1)
    ingest_batch_max_age_ms: int = Field(default=200, ge=1)
    ingest_receive_maximum: int = Field(default=20000, ge=1, le=65535)
    ingest_client_id: str = Field(default="smartcity-ingest", min_length=1, max_length=64)
    ingest_metrics_port: int = Field(default=9464, ge=0, le=65535, description="0 turns /metrics off.")
    ingest_writers: int = Field(default=2, ge=1, le=16)
    ingest_max_payload_bytes: int = Field(default=65536, ge=16)
    ingest_future_tolerance_s: float = Field(default=300.0, ge=0, le=366 * 86400)
    ingest_max_age_days: float = Field(default=365.0, gt=0, le=36500)
    ingest_auto_register: bool = True
    ingest_sources_file: Path | None = Field(
        default=None, description="TOML file of [[source]] tables: brokers read through adapters (docs/sources.md)."
    )
    ingest_class_rate_per_s: float = Field(default=5.0, ge=0, description="per student account; 0 turns it off")
    ingest_class_burst: int = Field(default=20, ge=1)
    ingest_class_total_rate_per_s: float = Field(default=50.0, ge=0, description="per class; 0 turns it off")
    ingest_class_total_burst: int = Field(default=200, ge=1)
    ingest_class_max_devices: int = Field(default=10, ge=1, description="devices one student account may register")

    @field_validator("city_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as Asia/Seoul)") from exc
        return value

    @field_validator("home")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def run_dir(self) -> Path:
        """The local database's socket folder (``home/pg`` may link elsewhere; see the stack)."""
        return self.home / "pg" / "run"

    @property
    def secrets_file(self) -> Path:
        return self.home / "secrets.json"

    def database_dsn(self) -> str:
        """The DSN to connect with: ``SMARTCITY_DSN`` or the local stack's socket."""
        if self.dsn:
            return self.dsn
        return f"host={self.run_dir.resolve()} port={self.pg_port} dbname=smartcity user=smartcity"

    def mqtt_credentials(self) -> tuple[str, str]:
        """(username, password) for services: the settings', else the local stack's generated ones.

        Raises:
            SettingsError: neither is available, or a placeholder secret is used outside local.
        """
        if self.mqtt_username:
            password = self.mqtt_password.get_secret_value()
            if self.environment == "production" and password.lower() in _PLACEHOLDER_SECRETS:
                raise SettingsError("SMARTCITY_MQTT_PASSWORD holds a placeholder; set a real secret for production")
            return self.mqtt_username, password
        try:
            stored = json.loads(self.secrets_file.read_text(encoding="utf-8"))
            return str(stored["mqtt_service_username"]), str(stored["mqtt_service_password"])
        except FileNotFoundError:
            raise SettingsError(
                f"no broker credentials: set SMARTCITY_MQTT_USERNAME/PASSWORD or run "
                f"'smartcity stack up' to create {self.secrets_file}"
            ) from None
        except (KeyError, ValueError) as exc:
            raise SettingsError(
                f"{self.secrets_file} is damaged ({exc}); remove it and run 'smartcity stack up'"
            ) from exc

    def dashboard_secret_key(self) -> str:
        """The key that signs the dashboard's sessions: the setting, else the local stack's.

        Raises:
            SettingsError: none is set outside the local stack, or a placeholder is used.
        """
        secret = self.dashboard_secret.get_secret_value()
        if secret:
            if self.environment == "production" and (secret.lower() in _PLACEHOLDER_SECRETS or len(secret) < 16):
                raise SettingsError("SMARTCITY_DASHBOARD_SECRET is a placeholder or shorter than 16 characters")
            return secret
        try:
            stored = json.loads(self.secrets_file.read_text(encoding="utf-8"))
            return str(stored["dashboard_secret"])
        except (FileNotFoundError, KeyError, ValueError):
            raise SettingsError(
                f"no dashboard secret: set SMARTCITY_DASHBOARD_SECRET or run 'smartcity stack up' "
                f"to create one in {self.secrets_file}"
            ) from None

    def sim_mqtt_credentials(self) -> tuple[str, str]:
        """(username, password) of the simulator: its own account on the local stack.

        ``SMARTCITY_MQTT_SIM_USERNAME``/``PASSWORD`` win; a broker set by
        ``SMARTCITY_MQTT_USERNAME`` without them is used with the service credentials.

        Raises:
            SettingsError: as :meth:`mqtt_credentials`.
        """
        if self.mqtt_sim_username:
            return self.mqtt_sim_username, self.mqtt_sim_password.get_secret_value()
        if self.mqtt_username:
            return self.mqtt_credentials()
        self.mqtt_credentials()  # the same errors when the stack's secrets are missing
        stored = json.loads(self.secrets_file.read_text(encoding="utf-8"))
        if "mqtt_sim_password" not in stored:
            raise SettingsError(f"{self.secrets_file} has no simulator account: run 'smartcity stack up' again")
        return str(stored["mqtt_sim_username"]), str(stored["mqtt_sim_password"])


def load_settings(**overrides: object) -> Settings:
    """Read the settings from the environment, with explicit overrides on top.

    Raises:
        SettingsError: a variable holds a value of the wrong type or range; the message
            names every offending variable.
    """
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"SMARTCITY_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
        )
        raise SettingsError(f"bad settings: {problems}") from exc


def setting_names() -> frozenset[str]:
    """The ``SMARTCITY_*`` variable names the settings understand."""
    return frozenset(f"SMARTCITY_{name.upper()}" for name in Settings.model_fields)
