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

import csv
import html
import io
import json
import os
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from contract import topics
from smartcity import _mosquitto, queries
from smartcity.errors import SmartcityError
from smartcity.settings import Settings

# No '.' in a class id: usernames are <class>.<member>, so the first '.' splits them
# unambiguously, and the broker reserves client ids holding a '.' for class accounts.
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_MEMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
# Simulated sensors students take over first: the ones whose changes show best.
_TAKEOVER_KINDS = ("air", "noise", "traffic", "water", "energy", "parking", "light")


@dataclass(frozen=True)
class Credential:
    class_id: str
    member: str
    role: str
    username: str
    password: str
    sim_device_id: str | None
    expires_at: datetime

    @property
    def topic(self) -> str:
        return topics.class_topic(self.class_id, self.member)


def _acl(class_id: str, member: str, role: str, district: str) -> tuple[str, ...]:
    own = topics.class_filter(class_id, member if role == "student" else None)
    lines = [f"topic readwrite {own}", f"topic read {topics.CITY_ALL}", f"topic read {topics.ALERTS_ALL}"]
    if role == "teacher":
        lines += [
            f"topic write {topics.scenario_topic(district)}",
            f"topic read {topics.scenario_state_topic(district)}",
        ]
    return tuple(lines)


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


def _names(count: int | None, names: list[str], start: int) -> list[str]:
    chosen = list(names) if names else [f"student{i:02d}" for i in range(start, start + (count or 0))]
    bad = [n for n in chosen if not _MEMBER.match(n) or n in topics.RESERVED_NAMES]
    if bad:
        raise SmartcityError(f"student names must be 1-32 letters, digits, '_' or '-' (and not reserved): {bad}")
    if len(set(chosen)) != len(chosen):
        raise SmartcityError("student names must be unique")
    return chosen


def create_class(
    settings: Settings, class_id: str, *, students: int | None, names: list[str], days: float, name: str = ""
) -> list[Credential]:
    """A new class with a teacher and its students, each assigned a simulated sensor to drive.

    Raises:
        SmartcityError: a bad id or name, an existing class, or a broker that cannot be updated.
    """
    if not _ID.match(class_id):
        raise SmartcityError(f"class id {class_id!r} must be 1-32 lower-case letters, digits, '_' or '-'")
    if not 0 < days <= 366:
        raise SmartcityError(f"--days must be in (0, 366], got {days}")
    members = _names(students, names, 1)
    expires_at = datetime.now(UTC) + timedelta(days=days)
    with psycopg.connect(settings.database_dsn()) as conn:
        if conn.execute(queries.CLASS, (class_id,)).fetchone():
            raise SmartcityError(f"class {class_id!r} exists; add students with 'smartcity class add-students'")
        with conn.transaction():
            conn.execute(queries.INSERT_CLASS, (class_id, name or class_id, settings.district, expires_at))
            created = _add(settings, conn, class_id, [("teacher", "teacher"), *((m, "student") for m in members)],
                           expires_at)  # fmt: skip
    sync(settings)
    _announce(settings, created)
    return created


def add_students(settings: Settings, class_id: str, *, students: int | None, names: list[str]) -> list[Credential]:
    """More students in an existing class, with the class's expiry."""
    with psycopg.connect(settings.database_dsn()) as conn:
        row = conn.execute(queries.CLASS, (class_id,)).fetchone()
        if row is None:
            raise SmartcityError(f"no class {class_id!r}; create it with 'smartcity class create'")
        existing = {str(r[2]) for r in conn.execute(queries.MEMBERS, (class_id, class_id)).fetchall()}
        start = 1 + sum(1 for m in existing if m.startswith("student"))
        members = _names(students, names, start)
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
    from twin import store

    taken = {str(r[0]) for r in conn.execute(queries.TAKEN_DEVICES).fetchall()}
    sites = store.read_sites(conn, settings.district)
    free = [
        str(d) for kind in _TAKEOVER_KINDS for d in sites.loc[sites["kind"] == kind, "device_id"] if str(d) not in taken
    ]
    passwords = {f"{class_id}.{m}": secrets.token_urlsafe(9) for m, _ in members}
    hashes = _mosquitto.hash_passwords(list(passwords.items()))
    created = []
    for member, role in members:
        username = f"{class_id}.{member}"
        device = free.pop(0) if role == "student" and free else None
        conn.execute(queries.INSERT_MEMBER, (username, class_id, member, role, hashes[username], device, expires_at))
        created.append(Credential(class_id, member, role, username, passwords[username], device, expires_at))
    _save_passwords(settings, class_id, {**_load_passwords(settings, class_id), **passwords})
    return created


def sync(settings: Settings) -> int:
    """Regenerate the broker's accounts from the active (not revoked, not expired) members; reload.

    Returns the number of member accounts the broker now has.
    """
    with psycopg.connect(settings.database_dsn()) as conn:
        rows = conn.execute(queries.ACTIVE_ACCOUNTS).fetchall()
    accounts = [
        _mosquitto.Account(str(u), str(h), _acl(str(c), str(m), str(r), str(d)), e) for u, c, m, r, h, d, e in rows
    ]
    _mosquitto.write_accounts(settings, accounts)
    return len(accounts)


def revoke(settings: Settings, target: str) -> int:
    """Revoke one account (``<class>.<member>``) or a whole class; the broker forgets them at once.

    A target holding a '.' names one account and nothing else (class ids hold none).
    """
    statement = queries.REVOKE_ACCOUNT if "." in target else queries.REVOKE_CLASS
    with psycopg.connect(settings.database_dsn()) as conn, conn.transaction():
        rows = conn.execute(statement, (target,)).fetchall()
    if not rows:
        raise SmartcityError(f"no active account or class {target!r}")
    sync(settings)
    _announce(settings, [], released=[(str(c), str(m)) for _, c, m, _ in rows])
    return len(rows)


def members(settings: Settings, class_id: str | None) -> list[dict[str, object]]:
    with psycopg.connect(settings.database_dsn()) as conn:
        rows = conn.execute(queries.MEMBERS, (class_id, class_id)).fetchall()
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


def sheet_csv(settings: Settings, creds: list[Credential]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["class", "member", "role", "username", "password", "topic", "sim_device", "expires_at", "example"])
    for c in creds:
        writer.writerow([c.class_id, c.member, c.role, c.username, c.password, c.topic, c.sim_device_id or "",
                         c.expires_at.isoformat(), example(settings, c)])  # fmt: skip
    return buffer.getvalue()


def example(settings: Settings, c: Credential) -> str:
    payload = '{"metrics": {"temperature_c": 21.5}}'
    return (
        f"mosquitto_pub -h {settings.mqtt_host} -p {settings.mqtt_port} -V mqttv5 -q 1 -i {c.username} -u {c.username} "
        f"-P {c.password} -t {topics.class_topic(c.class_id, c.member, 'my-sensor')} -m '{payload}'"
    )


def sheet_html(settings: Settings, creds: list[Credential]) -> str:
    """A printable page: one card per account, cut along the lines."""
    cards = []
    for c in creds:
        drive = (
            f"<p>내 센서 / your simulated sensor: <b>{html.escape(c.sim_device_id)}</b> — control topic "
            f"<code>class/{c.class_id}/{c.member}/control</code></p>"
            if c.sim_device_id
            else ""
        )
        cards.append(
            f"""<section class="card"><h2>{html.escape(c.member)} <small>({c.role})</small></h2>
<p>broker <code>{html.escape(settings.mqtt_host)}:{settings.mqtt_port}</code> (MQTT v5)</p>
<p>username <code>{html.escape(c.username)}</code><br>password <code>{html.escape(c.password)}</code></p>
<p>publish under / 게시 토픽 <code>{html.escape(c.topic)}</code><br>
answers on / 오류 안내 <code>class/{c.class_id}/{c.member}/&lt;device_id&gt;/errors</code></p>
{drive}<pre>{html.escape(example(settings, c))}</pre>
<p class="exp">expires / 만료 {c.expires_at:%Y-%m-%d %H:%M} UTC</p></section>"""
        )
    style = (
        "body{font-family:'Noto Sans CJK KR',sans-serif;margin:1cm}.card{border:1px dashed #888;padding:.5cm;"
        "margin:.3cm 0;page-break-inside:avoid}code,pre{font-size:10pt}pre{white-space:pre-wrap;background:#f4f4f4;"
        "padding:.2cm}.exp{color:#666}"
    )
    title = html.escape(creds[0].class_id if creds else "class")
    return (
        f"<!doctype html><html lang='ko'><head><meta charset='utf-8'><title>{title}</title>"
        f"<style>{style}</style></head><body><h1>smartcity class {title}</h1>{''.join(cards)}</body></html>\n"
    )


def export(settings: Settings, class_id: str, folder: Path) -> tuple[Path, Path]:
    """Write ``<class>.csv`` and ``<class>.html`` (printable) into ``folder``."""
    creds = credentials(settings, class_id)
    folder.mkdir(parents=True, exist_ok=True)
    csv_path, html_path = folder / f"{class_id}.csv", folder / f"{class_id}.html"
    try:
        csv_path.write_text(sheet_csv(settings, creds), encoding="utf-8")
        html_path.write_text(sheet_html(settings, creds), encoding="utf-8")
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
                client.publish(assign_topic(settings.district, c.class_id, c.member), body, qos=1, retain=True)
            )
    for class_id, member in released:
        topic = assign_topic(settings.district, class_id, member)
        infos.append(client.publish(topic, b"", qos=1, retain=True))
    for info in infos:
        info.wait_for_publish(5)
    client.loop_stop()
    client.disconnect()


def assign_topic(district: str, class_id: str, member: str) -> str:
    return topics.assign_topic(district, class_id, member)
