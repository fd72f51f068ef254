"""Errors of the twin package.

TwinError
├── LayerError        a layer file cannot be read or is not usable
└── LookupFailed      a parcel or building asked for does not exist
"""


class TwinError(Exception):
    """Base of every error this package raises on purpose."""


class LayerError(TwinError):
    """A layer cannot be read or is not usable; the message names the file and the problem."""


class LookupFailed(TwinError):
    """A parcel, building or device asked for does not exist."""
