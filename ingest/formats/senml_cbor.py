"""SenML in CBOR (RFC 8428 section 6): the same pack as JSON SenML, with integer labels.

Decoded to the JSON form's records (labels renamed, byte strings kept as data values)
and then read by :mod:`ingest.formats.senml`, so both encodings follow one set of rules.
"""

from __future__ import annotations

from typing import Any

import cbor2

from ingest.errors import PayloadError
from ingest.models import Reason

__all__ = ["looks_like_cbor_pack", "records"]

# RFC 8428 table 6: the CBOR labels of the SenML fields.
_LABELS = {-1: "bver", -2: "bn", -3: "bt", -4: "bu", -5: "bv", -6: "bs",
           0: "n", 1: "u", 2: "v", 3: "vs", 4: "vb", 5: "s", 6: "t", 7: "ut", 8: "vd"}  # fmt: skip
_MAX_DEPTH = 8


def looks_like_cbor_pack(payload: bytes) -> bool:
    """A CBOR array header (major type 4), which no JSON text starts with."""
    return bool(payload) and payload[0] >> 5 == 4


def records(payload: bytes) -> list[dict[str, Any]]:
    """The pack's records with the JSON form's field names.

    Raises:
        PayloadError: not CBOR, not an array of maps, or an unknown integer label.
    """
    try:
        pack = cbor2.loads(payload, max_depth=_MAX_DEPTH, allow_duplicate_keys=False)
    except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        sentence = f"payload is not SenML CBOR (RFC 8428 section 6): {exc}"
        raise PayloadError(Reason.NOT_DECODABLE, sentence, "payload") from None
    if not isinstance(pack, list):
        raise PayloadError(Reason.NOT_DECODABLE, "SenML CBOR must be an array of records", "payload")
    out = []
    for i, record in enumerate(pack):
        if not isinstance(record, dict):
            raise PayloadError(Reason.NOT_DECODABLE, f"SenML CBOR record [{i}] must be a map", f"[{i}]")
        named: dict[str, Any] = {}
        for label, value in record.items():
            if isinstance(label, str):
                named[label] = value  # text labels are allowed for extensions
            elif isinstance(label, int) and not isinstance(label, bool) and label in _LABELS:
                named[_LABELS[label]] = value
            else:
                raise PayloadError(
                    Reason.NOT_DECODABLE, f"SenML CBOR record [{i}] has unknown label {label!r}", f"[{i}]"
                )
        out.append(named)
    return out
