"""Classes and their members in the database: the one writer of ``classes`` and
``class_members``. Functions take an open connection; the caller owns the transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from classroom import queries

__all__ = [
    "active_accounts",
    "class_row",
    "insert_class",
    "insert_member",
    "member_rows",
    "revoke",
    "taken_devices",
]

Conn = psycopg.Connection[tuple[object, ...]]
# (username, class_id, member, role, password_hash, sim_device_id, expires_at)
MemberRow = tuple[str, str, str, str, str, str | None, datetime]


def class_row(conn: Conn, class_id: str) -> tuple[Any, ...] | None:
    """(class_id, name, district, created_at, expires_at), or None."""
    return conn.execute(queries.CLASS, (class_id,)).fetchone()


def insert_class(conn: Conn, class_id: str, name: str, district: str, expires_at: datetime) -> None:
    conn.execute(queries.INSERT_CLASS, (class_id, name, district, expires_at))


def insert_member(conn: Conn, row: MemberRow) -> None:
    conn.execute(queries.INSERT_MEMBER, row)


def member_rows(conn: Conn, class_id: str | None) -> list[tuple[Any, ...]]:
    """(username, class_id, member, role, sim_device_id, expires_at, revoked_at, district) per member."""
    return conn.execute(queries.MEMBERS, (class_id, class_id)).fetchall()


def active_accounts(conn: Conn) -> list[tuple[Any, ...]]:
    """(username, class_id, member, role, password_hash, district, expires_at) of every live account."""
    return conn.execute(queries.ACTIVE_ACCOUNTS).fetchall()


def taken_devices(conn: Conn) -> set[str]:
    """Simulated sensors some live account already drives."""
    return {str(r[0]) for r in conn.execute(queries.TAKEN_DEVICES).fetchall()}


def revoke(conn: Conn, target: str) -> list[tuple[Any, ...]]:
    """Revoke one account (a target holding a '.') or a whole class; the rows revoked."""
    statement = queries.REVOKE_ACCOUNT if "." in target else queries.REVOKE_CLASS
    return conn.execute(statement, (target,)).fetchall()
