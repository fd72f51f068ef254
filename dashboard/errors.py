"""Errors of the dashboard package.

DashboardError
└── DataUnavailable    the database cannot be reached; pages show the degraded banner
"""


class DashboardError(Exception):
    """Base of every error this package raises on purpose."""


class DataUnavailable(DashboardError):
    """The database cannot be reached or answered with an error."""
