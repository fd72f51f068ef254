"""Data flows one way: no package imports one downstream of it."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What each package may import from the project (besides itself): only what is upstream
# of it (devices -> broker -> ingest -> database -> twin, analytics -> database ->
# dashboard). The dashboard's callbacks call twin's and analytics' pure helpers (parcel
# lookup, exposure); nothing upstream ever imports the dashboard.
ALLOWED: dict[str, set[str]] = {
    "sensors_sim": set(),
    "ingest": set(),
    "twin": set(),
    "analytics": set(),
    "dashboard": {"twin", "analytics"},
    "smartcity": {"ingest", "twin", "analytics", "dashboard", "sensors_sim"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_packages_import_only_upstream() -> None:
    problems = []
    for package, allowed in ALLOWED.items():
        for path in (ROOT / package).rglob("*.py"):
            for name in _imports(path) & set(ALLOWED):
                if name != package and name not in allowed:
                    problems.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not problems, problems


def test_sql_lives_only_in_migrations_and_queries_modules() -> None:
    pattern = ("SELECT ", "INSERT INTO", "DELETE FROM", "CREATE TABLE")
    allowed_files = {"queries.py", "db.py", "_postgres.py"}
    offenders = [
        str(path.relative_to(ROOT))
        for package in ALLOWED
        for path in (ROOT / package).rglob("*.py")
        if path.name not in allowed_files and any(p in path.read_text(encoding="utf-8") for p in pattern)
    ]
    assert not offenders, offenders
