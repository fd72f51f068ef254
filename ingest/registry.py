"""The device registry's writer: ``devices`` has rows from here and nowhere else.

Devices arrive two ways: ingest registers an unknown id on first contact (the live
writer, :mod:`ingest.writer`, with ``REGISTER_DEVICE``), and the twin's sited devices
are registered with their place when a district is saved (:func:`register_sited`,
handed to ``twin.store.save_district`` by whoever wires the two).
"""

from __future__ import annotations

import psycopg

from ingest import queries

__all__ = ["register_sited"]


def register_sited(conn: psycopg.Connection[tuple[object, ...]], district: str) -> None:
    """Register (or re-place) every device sited in ``district`` by the twin, inside the caller's transaction."""
    conn.execute(queries.REGISTER_SITED, (district,))
