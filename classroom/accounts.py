"""Class accounts on paper and at the broker (pure): the credential, the ACL lines, the
printable sheet and the example command a student copies."""

from __future__ import annotations

import csv
import html
import io
from dataclasses import dataclass
from datetime import datetime

from contract import topics

__all__ = ["Broker", "Credential", "acl_lines", "example", "sheet_csv", "sheet_html"]


@dataclass(frozen=True)
class Broker:
    """Where students connect, as printed on their sheets."""

    host: str
    port: int


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


def acl_lines(class_id: str, member: str, role: str, district: str) -> tuple[str, ...]:
    """What the account may read and write: its own namespace (a teacher, the class's),
    the city and the alerts; a teacher may also ask the simulator for scenarios."""
    own = topics.class_filter(class_id, member if role == "student" else None)
    sta_own = topics.sta_class_filter(class_id, member if role == "student" else None)
    lines = [
        f"topic readwrite {own}", f"topic read {topics.CITY_ALL}", f"topic read {topics.ALERTS_ALL}",
        # SensorThings: the city's Datastreams and every Observation of it, and their own
        f"topic read {topics.STA_CITY_DATASTREAMS}", f"topic read {topics.STA_OBSERVATIONS}", f"topic read {sta_own}",
    ]  # fmt: skip
    if role == "teacher":
        lines += [
            f"topic write {topics.scenario_topic(district)}",
            f"topic read {topics.scenario_state_topic(district)}",
        ]
    return tuple(lines)


def sheet_csv(broker: Broker, creds: list[Credential]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["class", "member", "role", "username", "password", "topic", "sim_device", "expires_at", "example"])
    for c in creds:
        writer.writerow([c.class_id, c.member, c.role, c.username, c.password, c.topic, c.sim_device_id or "",
                         c.expires_at.isoformat(), example(broker, c)])  # fmt: skip
    return buffer.getvalue()


def example(broker: Broker, c: Credential) -> str:
    payload = '{"metrics": {"temperature_c": 21.5}}'
    return (
        f"mosquitto_pub -h {broker.host} -p {broker.port} -V mqttv5 -q 1 -i {c.username} -u {c.username} "
        f"-P {c.password} -t {topics.class_topic(c.class_id, c.member, 'my-sensor')} -m '{payload}'"
    )


def sheet_html(broker: Broker, creds: list[Credential]) -> str:
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
<p>broker <code>{html.escape(broker.host)}:{broker.port}</code> (MQTT v5)</p>
<p>username <code>{html.escape(c.username)}</code><br>password <code>{html.escape(c.password)}</code></p>
<p>publish under / 게시 토픽 <code>{html.escape(c.topic)}</code><br>
answers on / 오류 안내 <code>class/{c.class_id}/{c.member}/&lt;device_id&gt;/errors</code></p>
{drive}<pre>{html.escape(example(broker, c))}</pre>
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
