"""Settings: read from SMARTCITY_* variables, errors that name the variable, compose consistency."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from smartcity.errors import SettingsError
from smartcity.settings import load_settings, setting_names

ROOT = Path(__file__).resolve().parents[1]


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SMARTCITY_PG_PORT", "6543")
    monkeypatch.setenv("SMARTCITY_HOME", str(tmp_path))
    settings = load_settings()
    assert settings.pg_port == 6543
    assert settings.database_dsn() == f"host={tmp_path}/pg/run port=6543 dbname=smartcity user=smartcity"


def test_explicit_dsn_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMARTCITY_DSN", "postgresql://u:p@db:5432/x")
    assert load_settings().database_dsn() == "postgresql://u:p@db:5432/x"


def test_bad_values_name_every_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMARTCITY_PG_PORT", "seventy")
    monkeypatch.setenv("SMARTCITY_SIM_INTERVAL_S", "-1")
    monkeypatch.setenv("SMARTCITY_CITY_TIMEZONE", "Asia/Goyang")
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert "SMARTCITY_PG_PORT" in str(err.value) and "SMARTCITY_SIM_INTERVAL_S" in str(err.value)
    assert "SMARTCITY_CITY_TIMEZONE" in str(err.value) and "Asia/Goyang" in str(err.value)


def test_placeholder_secret_is_refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMARTCITY_ENVIRONMENT", "production")
    monkeypatch.setenv("SMARTCITY_MQTT_USERNAME", "svc")
    monkeypatch.setenv("SMARTCITY_MQTT_PASSWORD", "changeme")
    with pytest.raises(SettingsError, match="placeholder"):
        load_settings().mqtt_credentials()


def test_missing_local_credentials_say_how_to_get_them(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="smartcity stack up"):
        load_settings(home=tmp_path, mqtt_username="").mqtt_credentials()


def test_every_compose_variable_is_a_real_setting() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    used = set(re.findall(r"\bSMARTCITY_[A-Z0-9_]+\b", text))
    assert used, "compose file sets no SMARTCITY_* variable"
    unknown = used - setting_names()
    assert not unknown, f"compose sets variables no setting reads: {sorted(unknown)}"
