"""Errors of the SensorThings API, each with the HTTP status the standard gives it.

StaError
├── BadRequest      400: a query option, literal or path the server cannot read
├── Unauthorized    401: the data asked for needs a signed-in viewer
├── NotFound        404: no such entity (or not one this viewer may see)
└── Unavailable     503: the database is away or the query ran past its time
"""

from __future__ import annotations


class StaError(Exception):
    """A request the API answers with an error document; ``status`` is its HTTP status."""

    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(StaError):
    status = 400


class Unauthorized(StaError):
    status = 401


class NotFound(StaError):
    status = 404


class Unavailable(StaError):
    status = 503
