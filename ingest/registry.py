"""The device registry's writer: ``devices`` has rows from here and nowhere else.

Devices arrive three ways: ingest registers an unknown id on first contact (the live
writer, :mod:`ingest.writer`, with ``REGISTER_DEVICE``); the twin's sited devices are
registered with their place when a district is saved (:func:`register_sited`, handed to
``twin.store.save_district`` by whoever wires the two); and a city's device file, checked
and placed by ``twin.placement``, is imported whole by :func:`import_devices`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import psycopg

from ingest import queries
from ingest.errors import RegistryError

__all__ = ["COLUMNS", "import_devices", "list_devices", "register_sited", "show_device"]

COLUMNS = queries.REGISTRY_COLUMNS


def register_sited(conn: psycopg.Connection[tuple[object, ...]], district: str) -> None:
    """Register (or re-place) every device sited in ``district`` by the twin, inside the caller's transaction."""
    conn.execute(queries.REGISTER_SITED, (district,))


def import_devices(
    conn: psycopg.Connection[tuple[object, ...]], district: str, rows: Iterable[Sequence[object]]
) -> int:
    """Register or update every device of ``rows``, inside the caller's transaction: all or none.

    Args:
        rows: (device_id, kind, external_id, lon_deg, lat_deg, building_id, parcel_pnu,
            address, installed_on, owner), as ``twin.placement`` gives them.

    Returns:
        The number of devices written.

    Raises:
        RegistryError: an external id already belongs to another device, or an id is a
            class's device; nothing is written (the caller's transaction should roll back).
    """
    with conn.cursor() as cur:
        cur.execute(queries.REGISTRY_STAGE)
        with cur.copy(queries.COPY_REGISTRY_STAGE) as copy:
            for row in rows:
                copy.write_row(row)
        clashes = cur.execute(queries.REGISTRY_EXTERNAL_CLASHES).fetchall()
        if clashes:
            listed = "; ".join(f"{ext} of {new} already names {old}" for new, ext, old in clashes)
            raise RegistryError(f"external ids already registered to other devices: {listed}")
        students = cur.execute(queries.REGISTRY_CLASS_CLASHES).fetchall()
        if students:
            raise RegistryError(f"ids belong to class devices: {', '.join(str(r[0]) for r in students)}")
        cur.execute(queries.REGISTRY_UPSERT, (district,))
        return cur.rowcount


def list_devices(
    conn: psycopg.Connection[tuple[object, ...]], district: str, *, unplaced: bool = False
) -> list[dict[str, Any]]:
    """The district's city and adapter devices (columns :data:`COLUMNS`); ``unplaced``: only those without a place."""
    rows = conn.execute(queries.REGISTRY_LIST, {"district": district, "unplaced": unplaced}).fetchall()
    return [dict(zip(COLUMNS, row, strict=True)) for row in rows]


def show_device(conn: psycopg.Connection[tuple[object, ...]], key: str) -> dict[str, Any] | None:
    """One device by its id or any case of its external id; None if neither is registered."""
    row = conn.execute(queries.REGISTRY_SHOW, (key, key)).fetchone()
    return dict(zip(COLUMNS, row, strict=True)) if row else None
