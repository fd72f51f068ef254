"""Each package's public surface is its ``__all__``, pinned here: every public module is
listed, nothing listed is missing, and no package reaches into another's private module."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = (
    "contract",
    "classroom",
    "ingest",
    "twin",
    "analytics",
    "dashboard",
    "sensors_sim",
    "sta",
    "storage",
    "smartcity",
)


def _public_modules(package: str) -> set[str]:
    folder = ROOT / package
    modules = {p.stem for p in folder.glob("*.py") if not p.stem.startswith("_")}
    subpackages = {p.name for p in folder.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    return modules | subpackages


@pytest.mark.parametrize("package", PACKAGES)
def test_all_names_the_public_surface(package: str) -> None:
    module = importlib.import_module(package)
    exported = set(module.__all__)
    if package == "contract":  # the contract exports names, not modules
        assert all(hasattr(module, name) for name in exported)
        assert {"METRICS", "METRICS_BY_KIND", "DeviceTopic", "parse_topic"} <= exported
        return
    assert exported == _public_modules(package), sorted(exported ^ _public_modules(package))


def test_no_package_imports_another_packages_private_module() -> None:
    problems = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names: list[str] = []
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
                elif isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                for name in names:
                    top, *rest = name.split(".")
                    if top in PACKAGES and top != package and any(part.startswith("_") for part in rest):
                        problems.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not problems, problems
