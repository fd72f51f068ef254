"""Every ecosystem page's sources file loads, and every message it shows decodes through it
to the values it says: the copy-paste examples are tested."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.decode import Limits, decode_from_source
from ingest.sources import load_sources

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGES = sorted(DOCS.glob("ecosystem-*.md"))
BLOCK = re.compile(r"```(\w+)([^\n]*)\n(.*?)```", re.S)


def test_there_is_a_page_per_adapter() -> None:
    from ingest.adapters import ADAPTERS

    named = {re.search(r'adapter = "([^"]+)"', p.read_text(encoding="utf-8")).group(1) for p in PAGES}  # type: ignore[union-attr]
    assert named == set(ADAPTERS)


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_the_page_s_example_decodes_as_it_says(page: Path, tmp_path: Path) -> None:
    blocks = BLOCK.findall(page.read_text(encoding="utf-8"))
    (toml,) = [body for lang, _, body in blocks if lang == "toml"]
    config = tmp_path / "sources.toml"
    config.write_text(toml, encoding="utf-8")
    variables = re.findall(r'password_env = "([A-Z_]+)"', toml)
    (source,) = load_sources(config, district="goyang", timezone="Asia/Seoul", environ=dict.fromkeys(variables, "x"))
    messages = [(info, body) for lang, info, body in blocks if "topic=" in info]
    assert messages, f"{page.name} shows no message"
    for info, body in messages:
        options = dict(part.split("=", 1) for part in info.split())
        now = datetime(2026, 11, 24, 0, 1, tzinfo=UTC)
        decoded = decode_from_source(source, options["topic"], body.strip().encode(), now, Limits())
        assert decoded.rejection is None, f"{page.name}: {decoded.rejection}"
        values = {r.metric: r.value for r in decoded.readings}
        for pair in options["expect"].split(","):
            metric, value = pair.split(":")
            assert values.get(metric) == pytest.approx(float(value)), f"{page.name}: {metric} is {values.get(metric)}"
