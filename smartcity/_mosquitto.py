"""The local stack's private Mosquitto broker, configured under ``<home>/mqtt``.

Two listeners on loopback: the main one requires a username and password (services,
devices, students); the demo one (``SMARTCITY_MQTT_DEMO_PORT``, 0 turns it off) lets
anonymous clients publish city and class readings, for the simulator and quick trials.
"""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass
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
    # Lines before any 'user' apply to anonymous clients. Students' namespaces are
    # authenticated only: anonymous clients may read their control requests (the
    # simulator does), not publish as a student.
    return "topic readwrite city/#\ntopic readwrite sim/#\ntopic read class/+/+/control\ntopic read alerts/#\n"


@dataclass(frozen=True)
class Account:
    """A broker account besides the service one: its password hash and its ACL lines."""

    username: str
    password_hash: str  # as mosquitto_passwd writes it after "username:"
    topics: tuple[str, ...]  # ACL lines such as "topic write class/c/s01/#"


def hash_passwords(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Mosquitto password hashes for (username, password) pairs, made by mosquitto_passwd itself.

    Raises:
        StackError: mosquitto_passwd is missing or fails.
    """
    import tempfile

    if not pairs:
        return {}
    tool = proc.find_binary("mosquitto_passwd", Path("/usr/bin/mosquitto_passwd"), package="mosquitto")
    with tempfile.TemporaryDirectory() as folder:
        plain = Path(folder) / "passwd"
        plain.write_text("".join(f"{user}:{password}\n" for user, password in pairs), encoding="utf-8")
        result = subprocess.run([str(tool), "-U", str(plain)], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise StackError(f"mosquitto_passwd failed: {result.stderr.strip()}")
        lines = plain.read_text(encoding="utf-8").splitlines()
    return dict(line.split(":", 1) for line in lines if ":" in line)


def write_accounts(settings: Settings, accounts: list[Account]) -> None:
    """Rewrite the password and ACL files with the service account plus ``accounts``; reload.

    Raises:
        StackError: the broker's folder is missing (start the stack first).
    """
    folder = mqtt_dir(settings)
    passwd = folder / "passwd"
    if not passwd.exists():
        raise StackError(f"no broker configuration under {folder}: run 'smartcity stack up'")
    existing = passwd.read_text(encoding="utf-8").splitlines()
    service = [line for line in existing if line.startswith(f"{SERVICE_USERNAME}:")]
    lines = service + [f"{a.username}:{a.password_hash}" for a in accounts]
    acl = _acl_service() + "".join(f"\nuser {a.username}\n" + "".join(f"{t}\n" for t in a.topics) for a in accounts)
    for name, text in (("passwd", "\n".join(lines) + "\n"), ("acl", acl)):
        staged = folder / f".{name}.new"
        staged.write_text(text, encoding="utf-8")
        os.chmod(staged, 0o600)
        user = proc.service_user("mosquitto")
        if user is not None:
            os.chown(staged, user.pw_uid, user.pw_gid)
        staged.replace(folder / name)  # atomic: the broker never reads half a file
    if is_running(settings):
        reload(settings)


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
