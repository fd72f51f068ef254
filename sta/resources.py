"""Reading a SensorThings resource path: ``Things('a')/Datastreams``, ``Observations('x')/result/$value``.

Pure: a path in, a list of :class:`Segment` out. Ids are quoted text (``'it''s'``) or
integers; a quoted id may hold ``/`` (a class device's), so the path is not split on
every slash.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from sta.errors import BadRequest

_SEGMENT = re.compile(r"([A-Za-z$][A-Za-z0-9_$]*)(?:\((?:'((?:[^']|'')*)'|(\d+))\))?")
MAX_SEGMENTS = 12


@dataclass(frozen=True)
class Segment:
    name: str
    key: str | None = None  # the id between the brackets, unquoted


def parse_path(path: str) -> list[Segment]:
    """The segments of the part of the URL after the service root.

    Raises:
        BadRequest: a segment that is not ``Name`` or ``Name(id)``.
    """
    out: list[Segment] = []
    at = 0
    text = path.strip("/")
    while at < len(text):
        match = _SEGMENT.match(text, at)
        if match is None:
            raise BadRequest(f"cannot read the resource path at {text[at : at + 30]!r}: expected Name or Name('id')")
        quoted, number = match.group(2), match.group(3)
        key = quoted.replace("''", "'") if quoted is not None else number
        out.append(Segment(match.group(1), key))
        at = match.end()
        if at < len(text):
            if text[at] != "/":
                raise BadRequest(f"cannot read the resource path at {text[at : at + 30]!r}: expected '/'")
            at += 1
        if len(out) > MAX_SEGMENTS:
            raise BadRequest(f"the resource path has more than {MAX_SEGMENTS} segments")
    return out


def quoted_id(entity_id: str) -> str:
    """An id as it is written in a URL path: quoted, quotes doubled, reserved bytes escaped."""
    return "'" + quote(entity_id.replace("'", "''"), safe="-._~:@!$&*+,;=") + "'"
