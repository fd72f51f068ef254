"""The local stack's private Mosquitto broker, configured under ``<home>/mqtt``.

One authenticated listener (services, devices, students). Security settings are global
(no ``per_listener_settings``): with that option, Mosquitto from 2.0.12 on (Debian 13
ships 2.0.21) restores a persistent session without a listener after a restart and
drops every message queued for it, so an offline ingest would lose what devices sent.

smartcity's own broker plugin (``_broker/smartcity_auth.c``, built here on first use)
binds client ids to accounts, so no client can take a service's or a classmate's
session, and disconnects a class account the second it expires. An optional demo
listener (``SMARTCITY_MQTT_DEMO_PORT``, off by default) turns anonymous access on, and
anonymous clients may then only publish and read the simulated district's topics.

Accounts besides the services' live in ``accounts.json`` beside the broker's files, so
the password, ACL and expiry files are written from one list whenever the stack starts
or a class changes: a broker restart keeps every student's account.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from contract import topics
from smartcity import _processes as proc
from smartcity.errors import StackError
from smartcity.settings import Settings

SERVICE_USERNAME = "smartcity-service"
SIM_USERNAME = "smartcity-sim"
SERVICE_USERS = (SERVICE_USERNAME, SIM_USERNAME)
# Client ids with this prefix belong to the service accounts alone (the broker plugin).
RESERVED_CLIENT_ID_PREFIX = "smartcity-"
PLUGIN_SOURCE = Path(__file__).resolve().parent / "_broker" / "smartcity_auth.c"


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
        f"allow_anonymous {'true' if settings.mqtt_demo_port else 'false'}",
        f"password_file {folder}/passwd",
        f"acl_file {folder}/acl",
        f"plugin {folder}/smartcity_auth.so",
        f"plugin_opt_service_users {','.join(SERVICE_USERS)}",
        f"plugin_opt_reserved_prefix {RESERVED_CLIENT_ID_PREFIX}",
        f"plugin_opt_expiry_file {folder}/expiry",
        "",
        f"listener {settings.mqtt_port} {settings.mqtt_host}",
    ]
    if settings.mqtt_demo_port:
        lines += [
            "",
            "# loopback listener for anonymous trials (the anonymous ACL lines apply on both)",
            f"listener {settings.mqtt_demo_port} 127.0.0.1",
        ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Account:
    """A broker account besides the services': its password hash, ACL lines and expiry."""

    username: str
    password_hash: str  # as mosquitto_passwd writes it after "username:"
    topics: tuple[str, ...]  # ACL lines such as "topic write class/c/s01/#"
    expires_at: datetime | None = None


def _acl(settings: Settings, accounts: list[Account]) -> str:
    # Lines before any 'user' apply to anonymous clients, which exist only with the demo
    # listener: the simulated district's readings and the alerts, nothing else.
    anonymous = (
        f"topic readwrite {topics.district_filter(settings.district)}\ntopic read {topics.ALERTS_ALL}\n"
        f"topic read {topics.STA_CITY_DATASTREAMS}\ntopic read {topics.STA_OBSERVATIONS}\n"
        if settings.mqtt_demo_port
        else ""
    )
    services = (
        f"\nuser {SERVICE_USERNAME}\ntopic readwrite #\n"
        f"\nuser {SIM_USERNAME}\ntopic readwrite {topics.CITY_ALL}\ntopic readwrite {topics.SIM_ALL}\n"
        f"topic read {topics.CONTROL_REQUESTS}\ntopic write {topics.CONTROL_ANSWERS}\n"
    )
    members = "".join(f"\nuser {a.username}\n" + "".join(f"{t}\n" for t in a.topics) for a in accounts)
    return anonymous + services + members


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
    """Keep ``accounts`` (besides the services') and rewrite the broker's files; reload.

    Raises:
        StackError: the broker's folder is missing (start the stack first).
    """
    folder = mqtt_dir(settings)
    if not (folder / "services.json").exists():
        raise StackError(f"no broker configuration under {folder}: run 'smartcity stack up'")
    stored = [
        {"username": a.username, "password_hash": a.password_hash, "topics": list(a.topics),
         "expires_at": a.expires_at.isoformat() if a.expires_at else None}
        for a in accounts
    ]  # fmt: skip
    _write_private(folder, "accounts.json", json.dumps(stored, indent=1))
    _write_security(settings, folder)
    if is_running(settings):
        reload(settings)


def _read_accounts(folder: Path) -> list[Account]:
    try:
        stored = json.loads((folder / "accounts.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except ValueError as exc:
        raise StackError(f"{folder / 'accounts.json'} is damaged ({exc}); run 'smartcity class sync'") from exc
    return [
        Account(str(a["username"]), str(a["password_hash"]), tuple(a["topics"]),
                datetime.fromisoformat(a["expires_at"]) if a.get("expires_at") else None)
        for a in stored
    ]  # fmt: skip


def _write_security(settings: Settings, folder: Path) -> None:
    """passwd, acl and expiry from the service hashes and the kept accounts."""
    services = json.loads((folder / "services.json").read_text(encoding="utf-8"))
    accounts = _read_accounts(folder)
    passwd = [f"{u}:{services[u]}" for u in SERVICE_USERS] + [f"{a.username}:{a.password_hash}" for a in accounts]
    expiry = [f"{a.username} {int(a.expires_at.timestamp())}" for a in accounts if a.expires_at]
    _write_private(folder, "passwd", "\n".join(passwd) + "\n")
    _write_private(folder, "acl", _acl(settings, accounts))
    _write_private(folder, "expiry", "\n".join(expiry) + "\n")


def _write_private(folder: Path, name: str, text: str) -> None:
    staged = folder / f".{name}.new"
    staged.write_text(text, encoding="utf-8")
    os.chmod(staged, 0o600)
    user = proc.service_user("mosquitto")
    if user is not None:
        os.chown(staged, user.pw_uid, user.pw_gid)
    staged.replace(folder / name)  # atomic: the broker never reads half a file


def build_plugin(target: Path) -> None:
    """Compile the broker plugin to ``target`` unless it is newer than its source.

    Raises:
        StackError: no C compiler or no Mosquitto plugin headers (Debian: build-essential,
            mosquitto-dev; scripts/setup installs both), or the build fails.
    """
    if target.exists() and target.stat().st_mtime >= PLUGIN_SOURCE.stat().st_mtime:
        return
    if not all(Path("/usr/include", h).exists() for h in ("mosquitto.h", "mosquitto_broker.h", "mosquitto_plugin.h")):
        raise StackError(
            "Mosquitto's plugin headers are missing: install mosquitto-dev and libmosquitto-dev (scripts/setup does)"
        )
    compiler = proc.find_binary("cc", Path("/usr/bin/cc"), package="build-essential")
    staged = target.with_name(target.name + ".new")
    result = subprocess.run(
        [str(compiler), "-shared", "-fPIC", "-O2", "-o", str(staged), str(PLUGIN_SOURCE)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise StackError(f"building the broker plugin failed: {result.stderr.strip()[-2000:]}")
    staged.replace(target)


def up(settings: Settings, passwords: dict[str, str]) -> bool:
    """Write the configuration and start the broker. Returns True if it started now.

    Args:
        passwords: the service accounts' passwords by username (:data:`SERVICE_USERS`).

    Raises:
        StackError: a port is taken, mosquitto or the plugin's build tools are missing,
            or the broker exits during start-up.
    """
    if is_running(settings):
        return False
    binary = proc.find_binary("mosquitto", Path("/usr/sbin/mosquitto"), package="mosquitto")
    proc.require_free_port("broker", settings.mqtt_host, settings.mqtt_port, "SMARTCITY_MQTT_PORT")
    if settings.mqtt_demo_port:
        proc.require_free_port("broker demo listener", "127.0.0.1", settings.mqtt_demo_port, "SMARTCITY_MQTT_DEMO_PORT")
    user = proc.service_user("mosquitto")
    folder = proc.service_dir(settings.home, "mqtt", user)
    (folder / "data").mkdir(parents=True, exist_ok=True)
    build_plugin(folder / "smartcity_auth.so")
    (folder / "mosquitto.conf").write_text(render_config(settings, folder), encoding="utf-8")
    hashes = hash_passwords([(u, passwords[u]) for u in SERVICE_USERS])
    _write_private(folder, "services.json", json.dumps(hashes))
    _write_security(settings, folder)  # with the class accounts kept from before a restart
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
