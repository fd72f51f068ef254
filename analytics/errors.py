"""Errors of the analytics package.

AnalyticsError
├── SeriesError     a series cannot be modelled (too short, not numeric, no time index)
└── CsvError        a CSV file that cannot be read as a time series
"""


class AnalyticsError(Exception):
    """Base of every error this package raises on purpose."""


class SeriesError(AnalyticsError):
    """A series that cannot be modelled; the message says why and what is needed."""


class CsvError(AnalyticsError):
    """A CSV file that cannot be read as a time series; the message names the problem."""
