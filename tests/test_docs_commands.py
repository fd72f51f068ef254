"""Every ``smartcity`` command the README and docs/ show parses as written (``--help``
appended, placeholders filled): the docs cannot drift from the command line."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from smartcity.cli import main

ROOT = Path(__file__).resolve().parents[1]
# What a placeholder in the docs stands for, when the command is tried.
PLACEHOLDERS = {"FILE": "x.csv", "L": "buildings", "T": "city/goyang/air/aq-0001", "NAME": "someone", "ID": "run",
                "RUN_ID": "run", "PNU": "4128112300110010001"}  # fmt: skip


SHOWN = re.compile(r"(?:^|[\s(])(?:\.venv/bin/)?smartcity ([a-z][\w-]*[^`;&|#]*)")


def _shown() -> list[tuple[str, str]]:
    """(command after 'smartcity ', document) for every command shown in code."""
    found: dict[str, str] = {}
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = doc.read_text(encoding="utf-8")
        spans = re.findall(r"`([^`\n]+)`", text)
        spans += [line for line in text.splitlines() if line.startswith(("    ", "\t"))]
        for block in re.findall(r"```[a-z]*\n(.*?)```", text, re.S):
            spans += block.splitlines()
        for span in spans:
            for match in re.finditer(
                r"(?:^|[\s(])(?:\.venv/bin/)?smartcity ([a-z][\w-]*[^`;&|#]*)", span.replace("\\|", "¦")
            ):
                found.setdefault(match.group(1).strip(), doc.name)
    return sorted(found.items())


def _argv(command: str) -> list[list[str]]:
    """The argument lists a documented command stands for (alternatives expanded)."""
    cleaned = command.replace("[", " ").replace("]", " ").replace("...", " ").rstrip("\\ ")
    tokens = shlex.split(cleaned)
    variants: list[list[str]] = [[]]
    for position, token in enumerate(tokens):
        choices = token.split("¦")
        if len(choices) > 1 and position == 1:  # every action of a command
            variants = [[*v, choice] for v in variants for choice in choices]
            continue
        value = PLACEHOLDERS.get(choices[0], choices[0])
        if re.fullmatch(r"[A-Z]", value):
            value = "1"
        variants = [[*v, value] for v in variants]
    return variants


COMMANDS = _shown()


def test_the_docs_show_commands() -> None:
    assert len(COMMANDS) >= 30, COMMANDS


@pytest.mark.parametrize(("command", "doc"), COMMANDS, ids=[c for c, _ in COMMANDS])
def test_a_documented_command_parses(command: str, doc: str) -> None:
    for argv in _argv(command):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), pytest.raises(SystemExit) as done:
            main([*argv, "--help"])
        assert done.value.code == 0, f"{doc}: 'smartcity {' '.join(argv)}' does not parse: {err.getvalue()[-400:]}"
        assert "usage: smartcity" in out.getvalue()
