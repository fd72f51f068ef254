"""What operators do with an anomaly episode: the one other write to ``anomalies``,
kept beside analytics' own (``analytics/queries.py`` owns the table)."""

from __future__ import annotations

import psycopg

from analytics import queries

__all__ = ["acknowledge"]


def acknowledge(conn: psycopg.Connection[tuple[object, ...]], anomaly_id: int) -> bool:
    """Mark episode ``anomaly_id`` acknowledged; False when there is no such episode.

    Raises:
        psycopg.Error: the database refused or is unreachable.
    """
    with conn.transaction():
        cur = conn.execute(queries.ACKNOWLEDGE, (anomaly_id,))
        return cur.rowcount > 0
