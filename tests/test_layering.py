"""Data flows one way: no package imports one downstream of it."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What each package may import from the project (besides itself): only what is upstream
# of it (devices -> broker -> ingest -> database -> twin, analytics -> database ->
# dashboard). The dashboard's callbacks call twin's and analytics' pure helpers (parcel
# lookup, exposure); nothing upstream ever imports the dashboard.
# The contract (topics, vocabulary, kinds) sits below everything: all may import it, it
# imports nothing of ours.
ALLOWED: dict[str, set[str]] = {
    "contract": set(),
    "classroom": {"contract"},
    "sensors_sim": {"contract"},
    "ingest": {"contract", "classroom"},
    "twin": {"contract"},
    "analytics": {"contract"},
    "dashboard": {"contract", "twin", "analytics", "storage"},
    # The SensorThings API reads the database as the dashboard does, beside it.
    "sta": {"contract"},
    # The storage lifecycle consumes what ingest logs and keeps rollups the dashboard reads.
    "storage": {"contract"},
    "smartcity": {
        "contract",
        "classroom",
        "ingest",
        "twin",
        "analytics",
        "dashboard",
        "sensors_sim",
        "sta",
        "storage",
    },
}
# What writes which table is decided once: a table with rows from two modules has two
# ideas of what a row means. Temporary staging tables belong to their writer.
# rollup_log is a queue between two modules: ingest appends the hours it touched, the rollup
# job (and a range re-mark after a bulk load) writes and consumes it.
KNOWN_SHARED_WRITERS: dict[str, set[str]] = {"rollup_log": {"ingest/queries.py", "storage/queries.py"}}


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


def test_the_contract_imports_only_the_standard_library() -> None:
    import sys

    for path in (ROOT / "contract").rglob("*.py"):
        outside = {name for name in _imports(path) if name not in sys.stdlib_module_names and name != "contract"}
        assert not outside, f"{path.relative_to(ROOT)} imports {sorted(outside)}"


def _code_strings(tree: ast.AST) -> list[str]:
    """String constants and f-string text in code, not docstrings."""
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def test_only_the_contract_spells_a_topic() -> None:
    import re

    topic = re.compile(r"(?:^|[\s'\"=])(?:city|class|sim|alerts)/(?:[{<+#a-z]|$)")
    offenders = []
    for package in ALLOWED:
        if package == "contract":
            continue
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            found = [text for text in _code_strings(tree) if topic.search(text)]
            if found:
                offenders.append(f"{path.relative_to(ROOT)}: {found[:3]}")
    assert not offenders, offenders


def _metric_names(node: ast.AST) -> int:
    from contract.vocabulary import METRICS

    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        return sum(1 for e in node.elts if isinstance(e, ast.Constant) and e.value in METRICS)
    return 0


def test_only_the_contract_lists_metrics() -> None:
    """A module-level list of metric names (or a mapping to such lists) is the contract's."""
    offenders = []
    for package in ALLOWED:
        if package == "contract":
            continue
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for statement in tree.body:
                if not isinstance(statement, ast.Assign | ast.AnnAssign) or statement.value is None:
                    continue
                inner = [statement.value, *(statement.value.values if isinstance(statement.value, ast.Dict) else [])]
                if any(_metric_names(node) >= 2 for node in inner):
                    offenders.append(f"{path.relative_to(ROOT)}:{statement.lineno}")
    assert not offenders, offenders


def _writers() -> dict[str, set[str]]:
    import re

    write = re.compile(
        r"\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|COPY|TRUNCATE(?:\s+TABLE)?)\s+([a-z_][a-z0-9_]*)\b(?=[\s(]|$)"
    )
    tables = set(re.findall(r"CREATE TABLE (?:IF NOT EXISTS )?([a-z_][a-z0-9_]*)", _migrations()))
    found: dict[str, set[str]] = {}
    for package in ALLOWED:
        for path in (ROOT / package).rglob("*.py"):
            for text in _code_strings(ast.parse(path.read_text(encoding="utf-8"))):
                for table in write.findall(text):
                    if table in tables:
                        found.setdefault(table, set()).add(str(path.relative_to(ROOT)))
    return found


def _migrations() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "sql").glob("*.sql")))


def test_each_table_is_written_from_one_module() -> None:
    writers = _writers()
    assert {"readings", "dead_letters", "anomalies"} <= writers.keys(), "the SQL scan found no writers"
    shared = {t: sorted(f) for t, f in writers.items() if len(f) > 1 and f != KNOWN_SHARED_WRITERS.get(t)}
    assert not shared, shared
