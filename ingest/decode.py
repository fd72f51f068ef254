"""Decode one MQTT message into readings or a rejection: a pure function, no I/O.

Formats, recognised in this order:

1. a per-metric topic (``.../<device_id>/<metric>``): a bare number, or ON/OFF for a
   switch, as Tasmota and ESPHome publish;
2. a JSON list: SenML (RFC 8428);
3. a JSON object with ``id`` and ``type``: a FIWARE Smart Data Models entity;
4. any other JSON object: smartcity's canonical JSON.

A message is all or nothing: if any value in it is bad, the whole message is rejected,
with the first problem as the reason and every problem in the sentence.
"""

from __future__ import annotations

import difflib
import functools
import math
from collections.abc import Mapping as AnyMapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson

from ingest import sources
from ingest.errors import PayloadError
from ingest.formats import canonical, fiware, senml, senml_cbor, sniff
from ingest.formats._common import Measure
from ingest.models import Decoded, DeviceTopic, Reading, Reason, Rejection
from ingest.sources import Source
from ingest.topics import parse_topic
from ingest.vocabulary import METRICS, Metric, to_canonical

_SWITCH_WORDS = {"on": 1.0, "off": 0.0, "true": 1.0, "false": 0.0}


@dataclass(frozen=True, slots=True)
class Limits:
    """What a message may carry. Sizes in bytes, times in seconds."""

    max_payload_bytes: int = 65536
    future_tolerance_s: float = 300.0
    max_age_s: float = 365 * 86400.0


def decode(topic: str, payload: bytes, now: datetime, limits: Limits = Limits()) -> Decoded:
    """Readings from one message, or why there are none.

    Args:
        topic: the MQTT topic it arrived on; names the device.
        payload: the raw bytes.
        now: arrival time (aware, UTC); stamps readings that carry no time.
        limits: size and time window.

    Returns:
        :class:`Decoded` with readings, or with a rejection. Service topics
        (``.../errors``) give neither. Never raises for bad input.
    """
    device: DeviceTopic | None = None
    try:
        device = parse_topic(topic)
        if device is None:
            return Decoded(topic=None)
        _check_size(payload, limits)
        fast = _fast_canonical(device, payload, now, limits)
        if fast is not None:
            return Decoded(topic=device, readings=fast)
        measures, ignored = _measures(device, payload, now)
        readings = _validate(device, measures, now, limits)
    except PayloadError as exc:
        sentence = exc.sentence
        hint = _foreign_hint(payload) if exc.reason in _HINTED else None
        if hint:
            sentence = f"{sentence}; {hint}"
        return Decoded(topic=device, rejection=Rejection(str(exc.reason), sentence, exc.field))
    return Decoded(topic=device, readings=tuple(readings), ignored=tuple(ignored))


# Refusals where saying what the payload looks like helps (a foreign format sent as ours).
_HINTED = frozenset({Reason.NOT_DECODABLE, Reason.NO_READINGS, Reason.UNKNOWN_METRIC})


def decode_from_source(
    source: Source, topic: str, payload: bytes, now: datetime, limits: Limits = Limits(),
    *, aliases: AnyMapping[str, str] | None = None,
) -> Decoded:  # fmt: skip
    """Readings from one message of a configured source, through its adapter; as :func:`decode`.

    Args:
        aliases: registered devices by external id (lower case): a message from a device
            the registry knows lands on the registered id.
    """
    device: DeviceTopic | None = None
    try:
        _check_size(payload, limits)
        adapted = source.adapter.adapt(topic, payload, source.rules, source.profiles, source.timezone)
        if adapted is None:
            return Decoded(topic=None)
        device_id = sources.device_id(source, adapted.ids, aliases or {})
        kind = sources.kind_of(source, adapted.measures[0].metric)
        device = _adapter_device(source.district, kind, device_id)
        readings = _fast_measures(device_id, adapted.measures, now, limits) or _validate(
            device, adapted.measures, now, limits
        )
    except PayloadError as exc:
        sentence = f"source {source.name!r} ({source.adapter.name}): {exc.sentence}"
        return Decoded(topic=device, rejection=Rejection(str(exc.reason), sentence, exc.field))
    return Decoded(topic=device, readings=tuple(readings), ignored=tuple(adapted.ignored))


def _check_size(payload: bytes, limits: Limits) -> None:
    if len(payload) > limits.max_payload_bytes:
        raise PayloadError(
            Reason.TOO_LARGE, f"payload is {len(payload)} bytes; the limit is {limits.max_payload_bytes}", "payload"
        )


def _foreign_hint(payload: bytes) -> str | None:
    """What a refused payload looks like, on the refusal path only."""
    try:
        document = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return sniff.hint_for_bytes(payload)
    return sniff.hint_for_document(document)


def _fast_canonical(device: DeviceTopic, payload: bytes, now: datetime, limits: Limits) -> list[Reading] | None:
    """Readings of the common case, canonical JSON with plain numbers that pass every
    check; None for anything else, which the general path then decodes (and, if need
    be, rejects with the precise reason). Same results, a third of the time.
    """
    if device.metric is not None or not payload.startswith(b"{"):
        return None
    try:
        document = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    metrics = document.get("metrics")
    if type(metrics) is not dict or len(document) > 2 or "id" in document:
        return None
    raw_time = document.get("time")
    if raw_time is None:
        if len(document) != 1:
            return None
        time = now
    elif type(raw_time) is str:
        try:
            time = datetime.fromisoformat(raw_time)
        except ValueError:
            return None
        try:
            time = time.replace(tzinfo=UTC) if time.tzinfo is None else time.astimezone(UTC)
        except (OverflowError, ValueError):
            return None  # off the calendar in UTC: the general path says so
        if not (
            now - timedelta(seconds=limits.max_age_s) <= time <= now + timedelta(seconds=limits.future_tolerance_s)
        ):
            return None
    else:
        return None
    device_id = device.device_id
    out = []
    for name, value in metrics.items():
        metric = METRICS.get(name)
        kind = type(value)
        if metric is None or (kind is not float and kind is not int):
            return None
        if not metric.min_value <= value <= metric.max_value:  # also false for NaN
            return None
        out.append(Reading(time, device_id, name, float(value)))
    return out or None


@functools.lru_cache(maxsize=16)
def _window(limits: Limits) -> tuple[timedelta, timedelta]:
    """How far ahead of and behind arrival a reading's time may be."""
    return timedelta(seconds=limits.future_tolerance_s), timedelta(seconds=limits.max_age_s)


_adapter_devices: dict[tuple[str, str, str], DeviceTopic] = {}


def _adapter_device(district: str, kind: str, device_id: str) -> DeviceTopic:
    """The (immutable) DeviceTopic of a source's device, made once per device."""
    key = (district, kind, device_id)
    found = _adapter_devices.get(key)
    if found is None:
        if len(_adapter_devices) > 100_000:
            _adapter_devices.clear()
        found = _adapter_devices[key] = DeviceTopic("adapter", district, kind, device_id)
    return found


def _fast_measures(device_id: str, measures: list[Measure], now: datetime, limits: Limits) -> list[Reading] | None:
    """Readings of measures that pass every check as they are (plain numbers in the metric's
    own unit, in range, in the time window, one per metric and time); None for anything
    else, which :func:`_validate` then converts or refuses with the precise reason."""
    ahead, behind = _window(limits)
    newest, oldest = now + ahead, now - behind
    out = []
    seen: set[object] = set()
    first: datetime | None = None  # measures mostly share one time: checked once, keyed by name
    get = METRICS.get
    for name, value, unit, when, _ in measures:
        metric = get(name)
        if metric is None:
            return None
        kind = type(value)
        if kind is not float:
            if kind is not int:
                return None
            value = float(value)  # type: ignore[arg-type]  # noqa: PLW2901
        if (unit is not None and unit != metric.unit) or not metric.min_value <= value <= metric.max_value:  # type: ignore[operator]
            return None  # a unit to convert, out of range, or NaN: the general path says which
        time = now if when is None else when
        if first is None:
            if not oldest <= time <= newest:
                return None
            first = time
            key: object = name
        elif time == first:
            key = name
        else:
            if not oldest <= time <= newest:
                return None
            key = (name, time)
        if key in seen:
            return None
        seen.add(key)
        out.append(Reading(time, device_id, name, value))  # type: ignore[arg-type]
    return out or None


def _measures(device: DeviceTopic, payload: bytes, now: datetime) -> tuple[list[Measure], list[str]]:
    if device.metric is not None:
        return [_bare(device.metric, payload)], []
    if senml_cbor.looks_like_cbor_pack(payload):
        return senml.measures(senml_cbor.records(payload), now)
    try:
        document = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(Reason.NOT_DECODABLE, f"payload is not JSON (UTF-8): {exc}", "payload") from None
    if isinstance(document, list):
        return senml.measures(document, now)
    if isinstance(document, dict):
        if fiware.is_notification(document):
            return fiware.measures(fiware.notified_entity(document))
        if fiware.is_entity(document):
            return fiware.measures(document)
        found = canonical.measures(document)
        if not found:
            raise PayloadError(
                Reason.NO_READINGS, 'payload has no readings; send e.g. {"metrics": {"pm25_ugm3": 12.5}}', "metrics"
            )
        return found, []
    raise PayloadError(
        Reason.NOT_DECODABLE,
        f"payload is a JSON {type(document).__name__}; expected an object (canonical, FIWARE) or a list (SenML)",
        "payload",
    )


def _bare(metric: str, payload: bytes) -> Measure:
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise PayloadError(Reason.NOT_DECODABLE, "payload is not UTF-8 text", "payload") from None
    value: object = text
    if text.lower() in _SWITCH_WORDS:
        value = _SWITCH_WORDS[text.lower()]
    else:
        try:
            value = float(text)
        except ValueError:
            raise PayloadError(
                Reason.NOT_DECODABLE, f"payload {text[:40]!r} on a per-metric topic must be a bare number", "payload"
            ) from None
    return Measure(metric, value, None, None, "payload")


def _validate(device: DeviceTopic, measures: list[Measure], now: datetime, limits: Limits) -> list[Reading]:
    readings: list[Reading] = []
    fields: list[str] = []
    problems: list[PayloadError] = []
    newest = now + timedelta(seconds=limits.future_tolerance_s)
    oldest = now - timedelta(seconds=limits.max_age_s)
    for m in measures:
        try:
            metric = _known_metric(m)
            value = _number(m)
            value = to_canonical(metric, value, m.unit)
            if not metric.min_value <= value <= metric.max_value:
                raise PayloadError(
                    Reason.OUT_OF_RANGE,
                    f"{m.field} = {value:g} {metric.unit} is outside {metric.name}'s range "
                    f"{metric.min_value:g}..{metric.max_value:g}",
                    m.field,
                )
            time = m.time or now
            if time > newest:
                raise PayloadError(
                    Reason.TIME_IN_FUTURE,
                    f"{m.field} time {time.isoformat()} is more than {limits.future_tolerance_s:g} s ahead of now",
                    m.field,
                )
            if time < oldest:
                raise PayloadError(
                    Reason.TIME_TOO_OLD,
                    f"{m.field} time {time.isoformat()} is older than {limits.max_age_s / 86400:g} days",
                    m.field,
                )
            readings.append(Reading(time, device.device_id, metric.name, value))
            fields.append(m.field)
        except PayloadError as exc:
            problems.append(exc)
    problems.extend(_duplicates(readings, fields))
    if problems:
        first = problems[0]
        sentence = first.sentence
        if len(problems) > 1:
            sentence += f" (and {len(problems) - 1} more: " + "; ".join(p.sentence for p in problems[1:4]) + ")"
        raise PayloadError(first.reason, sentence, first.field)
    return readings


def _duplicates(readings: list[Reading], fields: list[str]) -> list[PayloadError]:
    """Two values for one (metric, time) in one message: which one is right cannot be told,
    and storing one would drop the other without a word. Both are named."""
    seen: dict[tuple[str, datetime], str] = {}
    problems = []
    for reading, field in zip(readings, fields, strict=True):
        key = (reading.metric, reading.time)
        if key in seen:
            problems.append(
                PayloadError(
                    Reason.DUPLICATE_READING,
                    f"{seen[key]} and {field} both give {reading.metric} at {reading.time.isoformat()}; "
                    "a message may carry one value per metric and time",
                    field,
                )
            )
        else:
            seen[key] = field
    return problems


def _known_metric(m: Measure) -> Metric:
    metric = METRICS.get(m.metric)
    if metric is None:
        close = difflib.get_close_matches(m.metric, METRICS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(sorted(METRICS))}"
        raise PayloadError(Reason.UNKNOWN_METRIC, f"{m.field}: unknown metric {m.metric!r}{hint}", m.field)
    return metric


def _number(m: Measure) -> float:
    if isinstance(m.value, bool) or not isinstance(m.value, int | float):
        raise PayloadError(Reason.NOT_DECODABLE, f"{m.field} = {m.value!r} is not a number", m.field)
    try:
        value = float(m.value)
    except OverflowError:
        value = math.inf
    if not math.isfinite(value):
        raise PayloadError(Reason.NOT_FINITE, f"{m.field} = {m.value!r} is not finite", m.field)
    return value
