"""Hostile messages for the decoder and a live worker: hypothesis strategies and a fast
seeded generator over the same shapes, shared by tests/test_fuzz.py and bench/faults.py.

Each message is built from a real shape (canonical JSON, SenML, FIWARE key-values and
normalized, NGSI-LD, per-metric bare values) and then spoiled where attackers and broken
firmware spoil it: times off the calendar or with odd offsets, NUL and lone surrogates
in names, numbers too large for a float, deep nesting, wrong types, truncated or
mis-encoded bytes, topics with odd segments.
"""

from __future__ import annotations

import json
import random
import string
from typing import Any

import cbor2
from hypothesis import strategies as st

from ingest.vocabulary import METRICS

_METRICS = sorted(METRICS)
_ODD_TEXT = ["", "\x00", "a\x00b", "\ud800", "\udcff", "é", "한글", "\u202e", "x" * 300, "%s%n", "'; DROP TABLE x;--"]
_ODD_SEGMENTS = ["é", "a b", "x" * 70, ".", "-x", "errors", "한글", "a.b.c"]
_ODD_TIMES: list[Any] = [
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "0001-01-01",
    "9999-12-31T23:59:59.999999",
    "2026-02-30T00:00:00Z",
    "2026-11-24T24:00:00+09:00",
    "1969-12-31T23:59:59Z",
    "2026-11-24T09:00:00+23:59",
    "T",
    "",
    1e308,
    -1e308,
    1e20,
    -62135596800,
    253402300800,
    2**63,
    True,
    None,
    [],
]
_ODD_VALUES: list[Any] = [1e308, -1e308, 1e400, 2**70, -(2**70), "12", "NaN", None, True, [], {}, {"value": None}, 0.0]

texts = st.one_of(st.sampled_from(_ODD_TEXT), st.text(max_size=40))
metric_names = st.one_of(st.sampled_from(_METRICS), texts)
values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.sampled_from(_ODD_VALUES),
    texts,
)
times = st.one_of(
    st.sampled_from(_ODD_TIMES),
    st.datetimes().map(lambda d: d.isoformat()),
    st.floats(allow_nan=False),
    texts,
)


@st.composite
def canonical(draw: st.DrawFn) -> Any:
    metrics = draw(st.dictionaries(metric_names, values, max_size=4))
    body: dict[str, Any] = {"metrics": metrics}
    if draw(st.booleans()):
        body["time"] = draw(times)
    if draw(st.booleans()):
        body = {"readings": [body, {"time": draw(times), "metrics": {draw(metric_names): draw(values)}}]}
    return body


@st.composite
def senml(draw: st.DrawFn) -> Any:
    records = []
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        record: dict[str, Any] = {"n": draw(st.one_of(st.sampled_from(["temperature", "pm25", "co2", "x"]), texts))}
        if draw(st.booleans()):
            record["v"] = draw(values)
        if draw(st.booleans()):
            record["t"] = draw(st.one_of(st.floats(), st.integers(min_value=-(2**64), max_value=2**64)))
        if draw(st.booleans()):
            record["bt"] = draw(st.one_of(st.floats(), st.integers(min_value=-(2**64), max_value=2**64)))
        if draw(st.booleans()):
            record["u"] = draw(st.one_of(st.sampled_from(["Cel", "K", "%RH", "lat", "W"]), texts))
        if draw(st.booleans()):
            record["bn"] = draw(texts)
        records.append(record)
    return records


@st.composite
def fiware(draw: st.DrawFn) -> Any:
    entity: dict[str, Any] = {"id": draw(texts), "type": draw(texts)}
    for name in draw(st.lists(st.sampled_from(["pm25", "temperature", "no2", "LAeq", "foo"]), max_size=3)):
        if draw(st.booleans()):
            entity[name] = {"type": "Property", "value": draw(values), "observedAt": draw(times)}
            if draw(st.booleans()):
                entity[name]["unitCode"] = draw(st.one_of(st.sampled_from(["GQ", "CEL", "KEL"]), texts))
        else:
            entity[name] = draw(values)
    if draw(st.booleans()):
        entity["dateObserved"] = draw(times)
    return entity


def _encode(document: Any, mangle: int) -> bytes:
    if mangle >= 9:  # CBOR (SenML CBOR when it is an array), big integers and all
        try:
            return cbor2.dumps(_cbor_labels(document) if mangle == 10 else document)
        except (ValueError, TypeError, UnicodeEncodeError, cbor2.CBOREncodeError):
            pass
    text = json.dumps(document, ensure_ascii=bool(mangle % 2), allow_nan=True, default=str)
    raw = text.encode("utf-8", "surrogatepass")
    if mangle == 3:
        return raw[: max(1, len(raw) // 2)]  # truncated
    if mangle == 4:
        return raw.replace(b"{", b"[", 1)
    if mangle == 5:
        return b"\xff\xfe" + raw  # not UTF-8
    return raw


_SENML_LABELS = {"bn": -2, "bt": -3, "bu": -4, "bv": -5, "n": 0, "u": 1, "v": 2, "vs": 3, "t": 6}


def _cbor_labels(document: Any) -> Any:
    """SenML records with RFC 8428's integer labels where there are some."""
    if isinstance(document, list):
        return [{_SENML_LABELS.get(k, k): v for k, v in r.items()} if isinstance(r, dict) else r for r in document]
    return document


@st.composite
def payloads(draw: st.DrawFn) -> bytes:
    document = draw(
        st.one_of(canonical(), senml(), fiware(), st.recursive(st.none(), lambda c: st.lists(c, max_size=3)))
    )
    return _encode(document, draw(st.integers(min_value=0, max_value=10)))


segments = st.one_of(
    st.sampled_from(["goyang", "air", "aq-0001", "class", "errors", "control", "+", "#", "", ".", "-x", "a" * 70]),
    st.text(alphabet=string.ascii_letters + string.digits + "_.-", min_size=1, max_size=12),
    texts,
)
topics = st.one_of(
    st.builds(lambda d, k, i: f"city/{d}/{k}/{i}", segments, segments, segments),
    st.builds(lambda c, s, i: f"class/{c}/{s}/{i}", segments, segments, segments),
    st.builds(lambda d, i, m: f"city/{d}/air/{i}/{m}", segments, segments, metric_names),
    st.lists(segments, max_size=7).map("/".join),
)
bare_values = st.one_of(
    st.sampled_from([b"ON", b"off", b"1e999", b"nan", b"-0", b"\x00", b"12.5", b""]), st.binary(max_size=20)
)


class Generator:
    """Seeded, fast: the same shapes as the strategies, for a million messages in a bench."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def _pick(self, items: list[Any]) -> Any:
        return items[self.rng.randrange(len(items))]

    def _value(self) -> Any:
        r = self.rng.random()
        if r < 0.5:
            return round(self.rng.uniform(-10, 500), 2)
        return self._pick(_ODD_VALUES + _ODD_TEXT)

    def _time(self) -> Any:
        if self.rng.random() < 0.5:
            return "2026-11-24T09:00:00+09:00"
        return self._pick(_ODD_TIMES + _ODD_TEXT)

    def _name(self) -> str:
        return str(self._pick(_METRICS)) if self.rng.random() < 0.6 else str(self._pick(_ODD_TEXT))

    def message(self, n: int, district: str = "fuzz") -> tuple[str, bytes]:
        """The n-th message: (topic, payload). Topics stay valid MQTT (no NUL, no wildcard)."""
        device = f"fz-{n % 997:03d}" if self.rng.random() < 0.9 else self._pick(_ODD_SEGMENTS)
        shape = self.rng.randrange(5)
        if shape == 0:
            metric = self._name() if self.rng.random() < 0.5 else "pm25_ugm3"
            metric = metric if metric.isprintable() and metric and "/" not in metric else "x y"
            return f"city/{district}/air/{device}/{metric}", self._pick([b"ON", b"1e999", b"nan", b"12.5", b"\x00"])
        if shape == 1:
            document: Any = [{"n": self._name(), "v": self._value(), "t": self._pick([0, -5, 1e300, 2**63])}]
        elif shape == 2:
            document = {"id": "x", "type": self._pick([*_ODD_TEXT, "AirQualityObserved"]), "pm25": self._value(),
                        "dateObserved": self._time()}  # fmt: skip
        else:
            document = {"time": self._time(), "metrics": {self._name(): self._value()}}
        return f"city/{district}/air/{device}", _encode(document, self.rng.randrange(9))
