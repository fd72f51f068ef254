"""The local stack's private Mosquitto broker, configured under ``<home>/mqtt``.

Two listeners on loopback: the main one requires a username and password (services,
devices, students); the demo one (``SMARTCITY_MQTT_DEMO_PORT``, 0 turns it off) lets
anonymous clients publish city and class readings, for the simulator and quick trials.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from smartcity import _processes as proc
from smartcity.errors import StackError
from smartcity.settings import Settings

SERVICE_USERNAME = "smartcity-service"


def mqtt_dir(settings: Settings) -> Path:
    return (settings.home / "mqtt").resolve()


def pid_file(settings: Settings) -> Path:
    # Written by the broker after it drops privileges, so it lives in the broker's folder.
    return mqtt_dir(settings) / "mosquitto.pid"


def is_running(settings: Settings) -> bool:
    return proc.read_pid(pid_file(settings), expect=str(mqtt_dir(settings))) is not None


def render_config(settings: Settings, folder: Path) -> str:
    """The broker configuration for ``settings``, with files under ``folder``."""
    lines = [
        "# written by 'smartcity stack up'; edits are overwritten",
        "per_listener_settings true",
        "persistence true",
        f"persistence_location {folder}/data/",
        f"pid_file {pid_file(settings)}",
        "autosave_interval 30",
        f"log_dest file {folder}/mosquitto.log",
        "log_type error",
        "log_type warning",
        "log_type notice",
        "connection_messages false",
        # Ingest acknowledges only after commit, so the broker must allow many
        # unacknowledged messages in flight and keep a large backlog per session.
        "max_inflight_messages 0",
        "max_queued_messages 2000000",
        "max_queued_bytes 0",
        # QoS 0 readings are kept for an offline ingest session too (up to the queue limit).
        "queue_qos0_messages true",
        f"max_packet_size {settings.mqtt_max_packet_bytes}",
        "",
        f"listener {settings.mqtt_port} {settings.mqtt_host}",
        "allow_anonymous false",
        f"password_file {folder}/passwd",
        f"acl_file {folder}/acl",
    ]
    if settings.mqtt_demo_port:
        lines += [
            "",
            "# anonymous loopback listener for the simulator and quick trials",
            f"listener {settings.mqtt_demo_port} 127.0.0.1",
            "allow_anonymous true",
            f"acl_file {folder}/acl_demo",
        ]
    return "\n".join(lines) + "\n"


def _acl_service() -> str:
    return f"user {SERVICE_USERNAME}\ntopic readwrite #\n"


def _acl_demo() -> str:
    # Lines before any 'user' apply to anonymous clients.
    return "topic readwrite city/#\ntopic readwrite class/#\ntopic readwrite sim/#\ntopic read alerts/#\n"


def up(settings: Settings, service_password: str) -> bool:
    """Write the configuration and start the broker. Returns True if it started now.

    Raises:
        StackError: a port is taken, mosquitto is missing, or it exits during start-up.
    """
    if is_running(settings):
        return False
    binary = proc.find_binary("mosquitto", Path("/usr/sbin/mosquitto"), package="mosquitto")
    passwd_tool = proc.find_binary("mosquitto_passwd", Path("/usr/bin/mosquitto_passwd"), package="mosquitto")
    proc.require_free_port("broker", settings.mqtt_host, settings.mqtt_port, "SMARTCITY_MQTT_PORT")
    if settings.mqtt_demo_port:
        proc.require_free_port("broker demo listener", "127.0.0.1", settings.mqtt_demo_port, "SMARTCITY_MQTT_DEMO_PORT")
    user = proc.service_user("mosquitto")
    folder = proc.service_dir(settings.home, "mqtt", user)
    (folder / "data").mkdir(parents=True, exist_ok=True)
    (folder / "mosquitto.conf").write_text(render_config(settings, folder), encoding="utf-8")
    (folder / "acl").write_text(_acl_service(), encoding="utf-8")
    (folder / "acl_demo").write_text(_acl_demo(), encoding="utf-8")
    passwd = folder / "passwd"
    if passwd.exists():
        passwd.unlink()
    passwd.touch(mode=0o600)
    result = subprocess.run(
        [str(passwd_tool), "-b", str(passwd), SERVICE_USERNAME, service_password],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise StackError(f"mosquitto_passwd failed: {result.stderr.strip()}")
    for name in ("passwd", "acl", "acl_demo"):
        os.chmod(folder / name, 0o600)
    proc.chown_tree(folder, user)
    log = folder / "mosquitto.log"
    pid_file(settings).unlink(missing_ok=True)
    # -d: the broker daemonises itself and writes its own pid file (pid_file in the config).
    launcher = subprocess.run(
        [str(binary), "-c", str(folder / "mosquitto.conf"), "-d"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
        timeout=30,
    )
    if launcher.returncode != 0 or not proc.wait_for_port(settings.mqtt_host, settings.mqtt_port, timeout_s=10):
        pid = proc.read_pid(pid_file(settings), expect=str(folder))
        if pid is not None:
            proc.stop_pid(pid)
        detail = (launcher.stderr or launcher.stdout).strip() or proc.tail(log)
        raise StackError(f"broker did not start (exit {launcher.returncode}): {detail}")
    return True


def reload(settings: Settings) -> None:
    """Ask the broker to re-read its password and ACL files (SIGHUP)."""
    pid = proc.read_pid(pid_file(settings), expect=str(mqtt_dir(settings)))
    if pid is None:
        raise StackError("broker is not running: start it with 'smartcity stack up'")
    os.kill(pid, signal.SIGHUP)


def down(settings: Settings) -> bool:
    """Stop the broker this stack started. Returns True if it was running."""
    pid = proc.read_pid(pid_file(settings), expect=str(mqtt_dir(settings)))
    if pid is None:
        pid_file(settings).unlink(missing_ok=True)
        return False
    proc.stop_pid(pid)
    pid_file(settings).unlink(missing_ok=True)
    return True
