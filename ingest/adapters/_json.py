"""Reading a JSON object off the wire, for adapters."""

from __future__ import annotations

from typing import Any

import orjson

from ingest.errors import PayloadError
from ingest.models import Reason


def json_object(payload: bytes, what: str) -> dict[str, Any]:
    """The payload as a JSON object, or a ``not_decodable`` refusal naming ``what`` was expected."""
    try:
        document = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(Reason.NOT_DECODABLE, f"{what} must be JSON: {exc}", "payload") from None
    if not isinstance(document, dict):
        raise PayloadError(
            Reason.NOT_DECODABLE, f"{what} must be a JSON object, got a {type(document).__name__}", "payload"
        )
    return document


def text(document: dict[str, Any], key: str, where: str) -> str:
    value = document.get(key)
    if not isinstance(value, str) or not value:
        raise PayloadError(Reason.NOT_DECODABLE, f"{where}.{key} is missing or not text", f"{where}.{key}")
    return value


def obj(document: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = document.get(key)
    if not isinstance(value, dict):
        raise PayloadError(Reason.NOT_DECODABLE, f"{where}.{key} is missing or not an object", f"{where}.{key}")
    return value
