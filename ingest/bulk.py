"""Readings in bulk (history from the simulator's backfill, imports): the same tables as
the live writer, by text COPY straight into the hypertable, each reading stored once.

The one other way readings reach the database besides :mod:`ingest.writer`; both live
here so ``readings`` and ``latest_values`` have one owner.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import psycopg

from ingest import queries

__all__ = ["BulkWriter"]


class BulkWriter:
    """Writes tab-separated reading rows (``time, device_id, metric, value``) on one connection.

    Args:
        conn: an open connection (autocommit off); the caller commits nothing itself,
            each call is its own transaction.
    """

    def __init__(self, conn: psycopg.Connection[tuple[object, ...]]) -> None:
        self._conn = conn
        conn.execute(queries.CREATE_BULK_STAGING)
        conn.execute(queries.CREATE_LATEST_STAGING)

    def write_text_rows(self, payloads: Iterable[bytes]) -> None:
        """COPY the rows in one transaction; rows already stored (a second run) are skipped."""
        chunks = list(payloads)
        try:
            with self._conn.transaction(), self._conn.cursor() as cur, cur.copy(queries.COPY_READINGS_TEXT) as copy:
                for chunk in chunks:
                    copy.write(chunk)
        except psycopg.errors.UniqueViolation:
            with self._conn.transaction(), self._conn.cursor() as cur:
                with cur.copy(queries.COPY_BULK_STAGING_TEXT) as copy:
                    for chunk in chunks:
                        copy.write(chunk)
                cur.execute(queries.MERGE_BULK_STAGING)

    def refresh_latest(self, device_ids: list[str], since: datetime) -> None:
        """Bring ``latest_values`` up to the newest stored reading of each device since ``since``."""
        with self._conn.transaction():
            self._conn.execute(queries.STAGE_LATEST_FROM_READINGS, (device_ids, since))
            self._conn.execute(queries.UPSERT_LATEST)
