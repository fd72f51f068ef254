"""Errors of the classroom package.

ClassroomError      a class or account that cannot be made, found or changed as asked
"""

from __future__ import annotations


class ClassroomError(Exception):
    """A class or account that cannot be made, found or changed as asked; the message says why."""
