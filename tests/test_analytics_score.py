"""`smartcity analytics score` on a simulator run in the real database reproduces the figures
that bench/analytics.py computes in memory for the same fleet, seed and span."""

from __future__ import annotations

import json
import subprocess
import sys

from analytics.evaluate import evaluate
from bench.analytics import END, SEED, TIMEZONE, simulated
from smartcity.settings import Settings
from tests.fixtures.stack import cli_env

DAYS = 16  # two weeks to fit and backtest, a day held out


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smartcity.cli", *args],
        env=cli_env(settings), capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_score_command_reproduces_the_benchmarks_figures(settings: Settings, dsn: str) -> None:
    detail, hourly, truth = simulated(1, days=DAYS)
    expected = evaluate(detail, hourly, truth, steps_per_day=288, timezone=TIMEZONE)
    end = END.strftime("%Y-%m-%d")
    written = _cli(settings, "sim", "backfill", "--per-kind", "1", "--days", str(DAYS), "--end", end, "--seed",
                   str(SEED), "--anomaly-rate", "0.2")  # fmt: skip
    assert written.returncode == 0, written.stderr
    run_id = f"backfill-{END:%Y%m%dT%H%M}-seed{SEED}-1perkind"
    assert run_id in written.stdout
    done = _cli(settings, "analytics", "score", "--run", run_id, "--json")
    assert done.returncode == 0, done.stderr
    scored = json.loads(done.stdout)
    assert scored["run"] == run_id
    assert scored["windows"] == expected.windows > 0
    for key in ("f1_overall", "precision", "recall", "episodes", "forecast_series"):
        assert scored[key] == getattr(expected, key), key
    assert abs(scored["mase_vs_seasonal_naive"] - expected.mase_vs_seasonal_naive) < 0.01
    assert abs(scored["pi95_coverage"] - expected.pi95_coverage) < 0.02


def test_backfill_refuses_a_bad_end_and_fleet_size(settings: Settings, dsn: str) -> None:
    bad_end = _cli(settings, "sim", "backfill", "--per-kind", "1", "--days", "1", "--end", "yesterday")
    assert bad_end.returncode != 0 and "--end 'yesterday' is not an ISO 8601 time" in bad_end.stderr
    bad_size = _cli(settings, "sim", "backfill", "--per-kind", "0", "--days", "1")
    assert bad_size.returncode != 0 and "--per-kind must be at least 1" in bad_size.stderr
