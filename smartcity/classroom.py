"""Classes of students: accounts, broker security, the credentials sheet (``smartcity class``).

Each student gets a broker account ``<class>.<student>`` with a generated password and
an expiry; the broker's password and ACL files are regenerated from the database and
reloaded (SIGHUP) after every change, so revocation takes effect at once. A student may
publish only under ``class/<class>/<student>/#`` and read that namespace, the city's
topics and the alerts. The teacher may do what every student of the class may, and ask
the simulator for city scenarios. Passwords are kept, for the sheet, in a 0600 file
under the project's home (``classes/<class>.json``); the database holds their hashes.
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from classroom import accounts, store
from classroom import names as names_
from classroom.accounts import Credential
from contract import topics
from smartcity import _mosquitto
from smartcity.errors import SmartcityError
from smartcity.settings import Settings

# No '.' in a class id: usernames are <class>.<member>, so the first '.' splits them
# unambiguously, and the broker reserves client ids holding a '.' for class accounts.
# Simulated sensors students take over first: the ones whose changes show best.
_TAKEOVER_KINDS = ("air", "noise", "traffic", "water", "energy", "parking", "light")


def _secrets_file(settings: Settings, class_id: str) -> Path:
    return settings.home / "classes" / f"{class_id}.json"


def _load_passwords(settings: Settings, class_id: str) -> dict[str, str]:
    path = _secrets_file(settings, class_id)
    if not path.exists():
        return {}
    data: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _save_passwords(settings: Settings, class_id: str, passwords: dict[str, str]) -> None:
    path = _secrets_file(settings, class_id)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    staged = path.with_suffix(".new")
    staged.write_text(json.dumps(passwords, indent=1), encoding="utf-8")
    os.chmod(staged, 0o600)
    staged.replace(path)


def create_class(
    settings: Settings, class_id: str, *, students: int | None, names: list[str], days: float, name: str = ""
) -> list[Credential]:
    """A new class with a teacher and its students, each assigned a simulated sensor to drive.

    Raises:
        SmartcityError: a bad id or name, an existing class, or a broker that cannot be updated.
    """
    names_.check_class_id(class_id)
    if not 0 < days <= 366:
        raise SmartcityError(f"--days must be in (0, 366], got {days}")
    members = names_.member_names(students, names, 1)
    expires_at = datetime.now(UTC) + timedelta(days=days)
    with psycopg.connect(settings.database_dsn()) as conn:
        if store.class_row(conn, class_id):
            raise SmartcityError(f"class {class_id!r} exists; add students with 'smartcity class add-students'")
        with conn.transaction():
            store.insert_class(conn, class_id, name or class_id, settings.district, expires_at)
            created = _add(settings, conn, class_id, [("teacher", "teacher"), *((m, "student") for m in members)],
                           expires_at)  # fmt: skip
    sync(settings)
    _announce(settings, created)
    return created


def add_students(settings: Settings, class_id: str, *, students: int | None, names: list[str]) -> list[Credential]:
    """More students in an existing class, with the class's expiry."""
    with psycopg.connect(settings.database_dsn()) as conn:
        row = store.class_row(conn, class_id)
        if row is None:
            raise SmartcityError(f"no class {class_id!r}; create it with 'smartcity class create'")
        existing = {str(r[2]) for r in store.member_rows(conn, class_id)}
        start = 1 + sum(1 for m in existing if m.startswith("student"))
        members = names_.member_names(students, names, start)
        clash = sorted(set(members) & existing)
        if clash:
            raise SmartcityError(f"class {class_id} already has {clash}")
        with conn.transaction():
            expires_at = row[4]
            assert isinstance(expires_at, datetime)
            created = _add(settings, conn, class_id, [(m, "student") for m in members], expires_at)
    sync(settings)
    _announce(settings, created)
    return created


def _add(
    settings: Settings,
    conn: psycopg.Connection[tuple[object, ...]],
    class_id: str,
    members: list[tuple[str, str]],
    expires_at: datetime,
) -> list[Credential]:
    from twin import store as twin_store

    taken = store.taken_devices(conn)
    sites = twin_store.read_sites(conn, settings.district)
    free = [
        str(d) for kind in _TAKEOVER_KINDS for d in sites.loc[sites["kind"] == kind, "device_id"] if str(d) not in taken
    ]
    passwords = {names_.username(class_id, m): secrets.token_urlsafe(9) for m, _ in members}
    hashes = _mosquitto.hash_passwords(list(passwords.items()))
    created = []
    for member, role in members:
        username = names_.username(class_id, member)
        device = free.pop(0) if role == "student" and free else None
        store.insert_member(conn, (username, class_id, member, role, hashes[username], device, expires_at))
        created.append(Credential(class_id, member, role, username, passwords[username], device, expires_at))
    _save_passwords(settings, class_id, {**_load_passwords(settings, class_id), **passwords})
    return created


def sync(settings: Settings) -> int:
    """Regenerate the broker's accounts from the active (not revoked, not expired) members; reload.

    Returns the number of member accounts the broker now has.
    """
    with psycopg.connect(settings.database_dsn()) as conn:
        rows = store.active_accounts(conn)
    kept = [
        _mosquitto.Account(str(u), str(h), accounts.acl_lines(str(c), str(m), str(r), str(d)), e)
        for u, c, m, r, h, d, e in rows
    ]
    _mosquitto.write_accounts(settings, kept)
    return len(kept)


def revoke(settings: Settings, target: str) -> int:
    """Revoke one account (``<class>.<member>``) or a whole class; the broker forgets them at once.

    A target holding a '.' names one account and nothing else (class ids hold none).
    """
    with psycopg.connect(settings.database_dsn()) as conn, conn.transaction():
        rows = store.revoke(conn, target)
    if not rows:
        raise SmartcityError(f"no active account or class {target!r}")
    sync(settings)
    _announce(settings, [], released=[(str(c), str(m)) for _, c, m, _ in rows])
    return len(rows)


def members(settings: Settings, class_id: str | None) -> list[dict[str, object]]:
    with psycopg.connect(settings.database_dsn()) as conn:
        rows = store.member_rows(conn, class_id)
    now = datetime.now(UTC)
    keys = ("username", "class_id", "member", "role", "sim_device_id", "expires_at", "revoked_at", "district")
    out = []
    for row in rows:
        item = dict(zip(keys, row, strict=True))
        expires_at = item["expires_at"]
        expired = isinstance(expires_at, datetime) and expires_at <= now
        item["state"] = "revoked" if item["revoked_at"] else "expired" if expired else "active"
        out.append(item)
    return out


def credentials(settings: Settings, class_id: str) -> list[Credential]:
    """The active accounts of a class with their passwords (from the 0600 file), for the sheet."""
    passwords = _load_passwords(settings, class_id)
    found = [m for m in members(settings, class_id) if m["state"] == "active"]
    if not found:
        raise SmartcityError(f"class {class_id!r} has no active accounts")
    return [
        Credential(class_id, str(m["member"]), str(m["role"]), str(m["username"]),
                   passwords.get(str(m["username"]), "(not on this machine)"),
                   None if m["sim_device_id"] is None else str(m["sim_device_id"]), m["expires_at"])  # type: ignore[arg-type]
        for m in found
    ]  # fmt: skip


def export(settings: Settings, class_id: str, folder: Path) -> tuple[Path, Path]:
    """Write ``<class>.csv`` and ``<class>.html`` (printable) into ``folder``."""
    creds = credentials(settings, class_id)
    folder.mkdir(parents=True, exist_ok=True)
    csv_path, html_path = folder / f"{class_id}.csv", folder / f"{class_id}.html"
    try:
        broker = accounts.Broker(settings.mqtt_host, settings.mqtt_port)
        csv_path.write_text(accounts.sheet_csv(broker, creds), encoding="utf-8")
        html_path.write_text(accounts.sheet_html(broker, creds), encoding="utf-8")
    except OSError as exc:
        raise SmartcityError(f"cannot write the sheet into {folder}: {exc}") from exc
    os.chmod(csv_path, 0o600)
    os.chmod(html_path, 0o600)
    return csv_path, html_path


def _announce(settings: Settings, created: list[Credential], released: list[tuple[str, str]] = ()) -> None:  # type: ignore[assignment]
    """Tell the simulator which student drives which sensor (retained messages; empty clears)."""
    if not created and not released:
        return
    username, password = settings.mqtt_credentials()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.username_pw_set(username, password)
    try:
        client.connect(settings.mqtt_host, settings.mqtt_port, keepalive=10)
    except OSError as exc:
        raise SmartcityError(f"broker {settings.mqtt_host}:{settings.mqtt_port} unreachable: {exc}") from exc
    client.loop_start()
    infos = []
    for c in created:
        if c.sim_device_id:
            body = orjson.dumps({"class": c.class_id, "student": c.member, "device_id": c.sim_device_id})
            infos.append(
                client.publish(topics.assign_topic(settings.district, c.class_id, c.member), body, qos=1, retain=True)
            )
    for class_id, member in released:
        topic = topics.assign_topic(settings.district, class_id, member)
        infos.append(client.publish(topic, b"", qos=1, retain=True))
    for info in infos:
        info.wait_for_publish(5)
    client.loop_stop()
    client.disconnect()
