"""What a class id and a member name may be (pure).

No '.' in either: a broker username is ``<class>.<member>``, so its only '.' splits it
unambiguously, and the broker reserves client ids holding a '.' for class accounts.
"""

from __future__ import annotations

import re

from classroom.errors import ClassroomError
from contract.topics import RESERVED_NAMES

CLASS_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
MEMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")


def check_class_id(class_id: str) -> str:
    """``class_id`` if it may name a class.

    Raises:
        ClassroomError: naming the rule it breaks.
    """
    if not CLASS_ID.match(class_id):
        raise ClassroomError(f"class id {class_id!r} must be 1-32 lower-case letters, digits, '_' or '-'")
    return class_id


def member_names(count: int | None, names: list[str], start: int) -> list[str]:
    """The members to add: ``names``, or ``student<NN>`` numbered from ``start``.

    Raises:
        ClassroomError: a bad, reserved or repeated name.
    """
    chosen = list(names) if names else [f"student{i:02d}" for i in range(start, start + (count or 0))]
    bad = [n for n in chosen if not MEMBER.match(n) or n in RESERVED_NAMES]
    if bad:
        raise ClassroomError(f"student names must be 1-32 letters, digits, '_' or '-' (and not reserved): {bad}")
    if len(set(chosen)) != len(chosen):
        raise ClassroomError("student names must be unique")
    return chosen


def username(class_id: str, member: str) -> str:
    """The broker (and dashboard) account of a member."""
    return f"{class_id}.{member}"
