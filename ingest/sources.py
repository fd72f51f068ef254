"""Configured sources: other brokers ingest reads, each through an adapter.

A city points ingest at its network server's MQTT integration (or a makers' broker)
with a TOML file of ``[[source]]`` tables, without a bridge::

    [[source]]
    name = "ttn"                       # names the source in logs and dead letters
    adapter = "ttn-v3"                 # see ingest.adapters
    host = "eu1.cloud.thethings.network"
    port = 8883
    tls = true                         # optional ca_file = "/path/ca.pem"
    username = "goyang-air@ttn"
    password_env = "TTN_API_KEY"       # the secret stays in the environment
    topics = ["v3/+/devices/+/up"]     # default: the adapter's own filters
    district = "goyang"
    kind = "air"                       # default: from the first metric a device sends
    device_id = "ttn-{device}"         # placeholders: the adapter's ids
    timezone = "Asia/Seoul"            # devices' local clocks (Tasmota); default: the city's
    mqtt_version = 4                   # 4 (3.1.1) for ttn-v3 by default, else 5

    [source.mapping]                   # field = metric, or {metric, unit, scale}
    pm2_5 = {metric = "pm25_ugm3", unit = "ug/m3"}
    battery = "-"                      # dropped on purpose

    [source.profiles.air-v2.mapping]   # per application / device profile / node
    pm25 = "pm25_ugm3"

:func:`load_sources` reads and checks the file; :func:`device_id` applies a source's rule.
"""

from __future__ import annotations

import re
import string
import tomllib
from collections.abc import Mapping as AnyMapping
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from contract.kinds import METRICS_BY_KIND
from ingest.adapters import Adapter, Mapping, adapter_named, rules_from_config
from ingest.errors import PayloadError, SourceError
from ingest.models import Reason

_KIND_OF_METRIC = {m: k for k, metrics in reversed(METRICS_BY_KIND.items()) for m in metrics}  # first kind wins
_ID = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,63}$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,31}$")
_KEYS = frozenset(
    {"name", "adapter", "host", "port", "tls", "ca_file", "username", "password", "password_env", "topics",
     "district", "kind", "device_id", "timezone", "mapping", "profiles", "client_id", "mqtt_version"}
)  # fmt: skip


@dataclass(frozen=True)
class Source:
    """One configured source: where to connect, what to read, how to name its devices."""

    name: str
    adapter: Adapter
    host: str
    port: int
    topics: tuple[str, ...]
    district: str
    device_id: str
    timezone: tzinfo
    username: str = ""
    password: str = field(default="", repr=False)
    tls: bool = False
    ca_file: str | None = None
    kind: str = ""
    rules: Mapping = field(default_factory=dict)
    profiles: dict[str, Mapping] = field(default_factory=dict)
    client_id: str = ""
    mqtt_version: int = 5  # 5, or 4 for MQTT 3.1.1 (The Things Stack's MQTT server speaks only 3.1.1)


def load_sources(
    path: Path, *, district: str, timezone: str, environ: AnyMapping[str, str], client_prefix: str = "smartcity-ingest"
) -> list[Source]:
    """The sources a file configures.

    Raises:
        SourceError: the file cannot be read or parsed, or an entry is wrong (named).
    """
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SourceError(f"cannot read sources file {path}: {exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SourceError(f"sources file {path} is not TOML: {exc}") from exc
    unknown = set(document) - {"source"}
    if unknown:
        raise SourceError(f"sources file {path}: unknown top-level keys {sorted(unknown)}; use [[source]] tables")
    entries = document.get("source", [])
    if not isinstance(entries, list):
        raise SourceError(f"sources file {path}: 'source' must be [[source]] tables")
    sources = [
        _source(entry, i, district, timezone, environ=environ, client_prefix=client_prefix)
        for i, entry in enumerate(entries)
    ]
    names = [s.name for s in sources]
    for name in names:
        if names.count(name) > 1:
            raise SourceError(f"sources file {path}: two sources are named {name!r}")
    return sources


def _source(
    raw: Any, index: int, district: str, timezone: str, *, environ: AnyMapping[str, str], client_prefix: str
) -> Source:
    where = f"source[{index}]"
    if not isinstance(raw, dict):
        raise SourceError(f"{where} must be a table")
    unknown = set(raw) - _KEYS
    if unknown:
        raise SourceError(f"{where} has unknown keys {sorted(unknown)}; allowed: {', '.join(sorted(_KEYS))}")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise SourceError(f"{where}.name must be lower-case letters, digits, - or _ (up to 32), got {name!r}")
    where = f"source {name!r}"
    adapter = adapter_named(_text(raw, "adapter", where))
    port = raw.get("port", 8883 if raw.get("tls") else 1883)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise SourceError(f"{where}: port must be 1..65535, got {port!r}")
    topics = raw.get("topics", list(adapter.topic_filters))
    if not isinstance(topics, list) or not topics or not all(isinstance(t, str) and t for t in topics):
        raise SourceError(f"{where}: topics must be a non-empty list of MQTT topic filters")
    password = raw.get("password", "")
    if "password_env" in raw:
        variable = _text(raw, "password_env", where)
        if variable not in environ:
            raise SourceError(f"{where}: password_env names {variable!r}, which is not set in the environment")
        password = environ[variable]
    template = raw.get("device_id", adapter.default_device_id)
    if not isinstance(template, str):
        raise SourceError(f"{where}: device_id must be a text template such as {adapter.default_device_id!r}")
    _check_template(template, where)
    kind = raw.get("kind", "")
    if kind and kind not in METRICS_BY_KIND:
        raise SourceError(f"{where}: kind {kind!r} is not one of {', '.join(sorted(METRICS_BY_KIND))}")
    try:
        zone = ZoneInfo(str(raw.get("timezone", timezone)))
    except (ZoneInfoNotFoundError, ValueError):
        raise SourceError(f"{where}: timezone {raw.get('timezone')!r} is not an IANA name (e.g. Asia/Seoul)") from None
    profiles = _profiles(raw.get("profiles", {}), where)
    version = raw.get("mqtt_version", 4 if adapter.name == "ttn-v3" else 5)
    if version not in (4, 5) or isinstance(version, bool):
        raise SourceError(f"{where}: mqtt_version must be 5 or 4 (MQTT 3.1.1), got {version!r}")
    ca_file = raw.get("ca_file")
    if ca_file is not None and not Path(str(ca_file)).is_file():
        raise SourceError(f"{where}: ca_file {ca_file!r} is not a readable file")
    return Source(
        name=name,
        adapter=adapter,
        host=_text(raw, "host", where),
        port=port,
        topics=tuple(topics),
        district=str(raw.get("district", district)),
        device_id=template,
        timezone=zone,
        username=str(raw.get("username", "")),
        password=str(password),
        tls=bool(raw.get("tls", False)),
        ca_file=str(ca_file) if ca_file is not None else None,
        kind=str(kind),
        rules=rules_from_config(raw.get("mapping", {}), f"{where} mapping"),
        profiles=profiles,
        client_id=str(raw.get("client_id", f"{client_prefix}-{name}"))[:64],
        mqtt_version=int(version),
    )


def _profiles(raw: object, where: str) -> dict[str, Mapping]:
    if not isinstance(raw, dict):
        raise SourceError(f"{where}: profiles must be tables of [source.profiles.<name>.mapping]")
    profiles = {}
    for profile, spec in raw.items():
        if not isinstance(spec, dict) or set(spec) != {"mapping"}:
            raise SourceError(f"{where}: profiles.{profile} must hold exactly one 'mapping' table")
        profiles[str(profile)] = rules_from_config(spec["mapping"], f"{where} profiles.{profile}.mapping")
    return profiles


def _text(raw: dict[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise SourceError(f"{where}: {key} is required (text)")
    return value


def _check_template(template: str, where: str) -> None:
    try:
        names = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise SourceError(f"{where}: device_id {template!r} is not a template: {exc}") from None
    if not names:
        raise SourceError(f"{where}: device_id {template!r} names no placeholder; every device would share one id")
    for placeholder in names:
        if not placeholder.isidentifier():
            raise SourceError(f"{where}: device_id placeholder {{{placeholder}}} is not a plain name")


def device_id(source: Source, ids: dict[str, str], aliases: AnyMapping[str, str]) -> str:
    """The id a device's readings are stored under: a registered device whose external id
    is one of ``ids`` first, else the source's rule, lower-cased.

    Raises:
        PayloadError: ``bad_topic`` when the rule needs an id the message lacks, or yields
            an id that is not ours to store (letters, digits, ``_ . -``, up to 64).
    """
    if aliases:
        for value in ids.values():
            registered = aliases.get(value.lower())
            if registered is not None:
                return registered
    made = _made_ids.get((source.device_id, *ids.items()))
    if made is not None:
        return made
    try:
        made = source.device_id.format(**ids).lower()
    except (KeyError, IndexError) as exc:
        raise PayloadError(
            Reason.BAD_TOPIC,
            f"source {source.name!r}: device_id rule {source.device_id!r} needs {exc} but this message gives "
            f"only {', '.join(sorted(ids))}",
            "topic",
        ) from None
    if not _ID.match(made):
        raise PayloadError(
            Reason.BAD_TOPIC,
            f"source {source.name!r}: device id {made[:80]!r} (from {source.device_id!r}) must be letters, digits, "
            "_ . - (up to 64); change the rule or register the device with this external id",
            "topic",
        )
    if len(_made_ids) > 100_000:  # devices repeat; a flood of new ids only costs the cache
        _made_ids.clear()
    _made_ids[(source.device_id, *ids.items())] = made
    return made


_made_ids: dict[tuple[object, ...], str] = {}


def kind_of(source: Source, metric: str) -> str:
    """The kind a new device of this source registers as: the configured one, else the
    kind whose metrics include its first reading's (``sensor`` when none does)."""
    return source.kind or _KIND_OF_METRIC.get(metric, "sensor")
