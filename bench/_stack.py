"""What every benchmark script shares: a private stack on free ports, and the report."""

from __future__ import annotations

import json
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from smartcity import db, stack
from smartcity.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def private_stack(name: str, *, keep: bool = False) -> Iterator[Settings]:
    """A fresh, migrated database and broker under .smartcity/<name>; removed afterwards unless ``keep``."""
    home = ROOT / ".smartcity" / name
    shutil.rmtree(home, ignore_errors=True)
    settings = load_settings(
        home=home, pg_port=free_port(), mqtt_port=free_port(), mqtt_demo_port=0, dsn="", mqtt_username=""
    )
    stack.up(settings)
    try:
        db.migrate(settings.database_dsn())
        yield settings
    finally:
        if not keep:
            stack.down(settings)
            stack.purge(settings)


def report(figures: dict[str, float], *, as_json: bool) -> None:
    """One JSON line, or an aligned table for people."""
    if as_json:
        print(json.dumps(figures))
        return
    width = max(len(key) for key in figures) + 2
    for key, value in figures.items():
        print(f"{key:{width}s} {value}")
