"""Errors of the analytics package.

AnalyticsError
└── SeriesError     a series cannot be modelled (too short, not numeric, no time index)
"""


class AnalyticsError(Exception):
    """Base of every error this package raises on purpose."""


class SeriesError(AnalyticsError):
    """A series that cannot be modelled; the message says why and what is needed."""
