"""Operator accounts for the dashboard (``smartcity operator add|list|remove``).

Kept in ``<home>/operators.json`` (mode 0600) as werkzeug's salted PBKDF2 hashes; the
dashboard reads the file when it starts. A password is never stored in clear.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from pathlib import Path

from werkzeug.security import generate_password_hash

from smartcity.errors import SmartcityError
from smartcity.settings import Settings

_NAME = re.compile(r"^[a-z][a-z0-9_-]{1,31}$")
MIN_PASSWORD_CHARS = 10


def _path(settings: Settings) -> Path:
    return settings.home / "operators.json"


def load(settings: Settings) -> dict[str, str]:
    """username -> password hash; empty when there are none.

    Raises:
        SmartcityError: the file is damaged.
    """
    path = _path(settings)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except ValueError as exc:
        raise SmartcityError(f"{path} is damaged ({exc}); remove it and add the operators again") from exc
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise SmartcityError(f"{path} is not a JSON object of username: hash")
    return data


def _save(settings: Settings, accounts: dict[str, str]) -> None:
    path = _path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_suffix(".new")
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(accounts, handle, indent=1)
    staged.replace(path)


def add(settings: Settings, name: str, password: str | None = None) -> str:
    """Add or reset operator ``name``; returns the password (generated when not given).

    Raises:
        SmartcityError: a bad name (class accounts hold a '.', operators do not) or a short password.
    """
    if not _NAME.match(name):
        raise SmartcityError(f"operator name {name!r} must be 2-32 lower-case letters, digits, '_' or '-'")
    if password is None:
        password = secrets.token_urlsafe(12)
    if len(password) < MIN_PASSWORD_CHARS:
        raise SmartcityError(f"an operator's password needs at least {MIN_PASSWORD_CHARS} characters")
    accounts = load(settings)
    accounts[name] = generate_password_hash(password)
    _save(settings, accounts)
    return password


def remove(settings: Settings, name: str) -> None:
    accounts = load(settings)
    if name not in accounts:
        raise SmartcityError(f"no operator {name!r}; known: {', '.join(sorted(accounts)) or 'none'}")
    del accounts[name]
    _save(settings, accounts)
