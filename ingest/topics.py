"""The contract's topics as ingest reads them: a wrong topic is a refusal with a reason."""

from __future__ import annotations

from contract.topics import DeviceTopic, TopicError
from contract.topics import parse_topic as _parse
from ingest.errors import PayloadError
from ingest.models import Reason

__all__ = ["parse_topic"]


def parse_topic(topic: str) -> DeviceTopic | None:
    """The device a data topic belongs to; None for service topics (``.../errors``).

    Raises:
        PayloadError: with reason ``bad_topic`` naming the segment that is wrong.
    """
    try:
        return _parse(topic)
    except TopicError as exc:
        raise PayloadError(Reason.BAD_TOPIC, str(exc), "topic") from None
