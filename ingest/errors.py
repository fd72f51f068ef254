"""Errors of the ingest package.

IngestError
├── PayloadError       a message cannot become readings; carries a reason code
│   └── UnitError      a unit that cannot be converted to the metric's
├── SourceError        a configured source (sources file) that cannot be used
└── RegistryError      a device import that would contradict the registry

A batch the database refuses is not an error of this package: the writer stores its
messages one by one and dead-letters the one refused (``ingest.writer``).
"""

from __future__ import annotations


class IngestError(Exception):
    """Base of every error this package raises on purpose."""


class PayloadError(IngestError):
    """A message that cannot become readings.

    Attributes:
        reason: a stable code from :class:`ingest.models.Reason`.
        field: the offending field of the payload, when one can be named.
    """

    def __init__(self, reason: str, sentence: str, field: str | None = None) -> None:
        super().__init__(sentence)
        self.reason = reason
        self.sentence = sentence
        self.field = field


class UnitError(PayloadError):
    """A unit that is neither the metric's nor convertible to it."""

    def __init__(self, sentence: str, field: str | None = None) -> None:
        super().__init__("unit_not_convertible", sentence, field)


class SourceError(IngestError):
    """A source in the sources file that cannot be used: the sentence names the entry."""


class RegistryError(IngestError):
    """A device import refused by what is already registered (nothing of it is written)."""
