"""One entity's state on its own topic (ESPHome, Home Assistant): a number or a switch word."""

from __future__ import annotations

from ingest.adapters._fields import IGNORE, FieldRule, Mapping, no_mapped_fields
from ingest.errors import PayloadError
from ingest.formats._common import Measure
from ingest.models import Reason

_SWITCH = {"on": 1.0, "off": 0.0, "true": 1.0, "false": 0.0, "open": 1.0, "closed": 0.0}


def state_measure(keys: tuple[str, ...], payload: bytes, rules: Mapping, adapter: str) -> Measure | None:
    """The reading of a state topic, by the first of ``keys`` with a rule; None when the
    rule drops it. Refused when none has a rule, or the text is no number nor switch word."""
    rule: FieldRule | None = next((rules[k] for k in keys if k in rules), None)
    if rule is None:
        raise no_mapped_fields([f"{keys[0]}: no mapping"], adapter)
    if rule.metric == IGNORE:
        return None
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise PayloadError(Reason.NOT_DECODABLE, f"{keys[0]}: state is not UTF-8 text", keys[0]) from None
    value: object
    if text.lower() in _SWITCH:
        value = _SWITCH[text.lower()]
    else:
        try:
            value = float(text) * rule.scale
        except ValueError:
            raise PayloadError(
                Reason.NOT_DECODABLE, f"{keys[0]}: state {text[:40]!r} is neither a number nor ON/OFF", keys[0]
            ) from None
    return Measure(rule.metric, value, rule.unit, None, keys[0])
