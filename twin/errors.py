"""Errors of the twin package.

TwinError
├── LayerError        a layer file cannot be read or is not usable
├── ImportRefused     a layer has problems; carries the whole validation report
├── LookupRefused     a PNU or address asked for is malformed
└── LookupFailed      a parcel or building asked for does not exist
"""

from __future__ import annotations

from typing import Any


class TwinError(Exception):
    """Base of every error this package raises on purpose."""


class LayerError(TwinError):
    """A layer cannot be read or is not usable; the message names the file and the problem."""


class ImportRefused(TwinError):
    """A layer was not imported because of the problems in ``report`` (nothing was written)."""

    def __init__(self, message: str, report: Any) -> None:
        super().__init__(message)
        self.report = report


class LookupRefused(TwinError):
    """A lookup asked with a malformed PNU or address; the message shows the expected form."""


class LookupFailed(TwinError):
    """A parcel, building or device asked for does not exist."""
