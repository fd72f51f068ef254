"""`smartcity analytics score` on a simulator run in the real database reproduces the figures
that bench/analytics.py computes in memory for the same fleet, seed and span."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta

import psycopg

from analytics.evaluate import evaluate
from bench.analytics import END, SEED, TIMEZONE, scenario_fleet, simulated
from sensors_sim.backfill import backfill
from smartcity.settings import Settings
from tests.fixtures.stack import cli_env

DAYS = 16  # two weeks to fit and backtest, a day held out


def test_score_command_reproduces_the_benchmarks_figures(settings: Settings, dsn: str, unique: str) -> None:
    prefix = f"{unique}-"
    detail, hourly, truth = simulated(1, days=DAYS, prefix=prefix)
    expected = evaluate(detail, hourly, truth, steps_per_day=288, timezone=TIMEZONE)
    run_id = f"score-{unique}"
    end = END.to_pydatetime()
    with psycopg.connect(dsn) as conn:
        backfill(conn, scenario_fleet(1, prefix), end - timedelta(days=DAYS), end, interval_s=300, seed=SEED,
                 anomalies_per_device_day=0.2, run_id=run_id)  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "smartcity.cli", "analytics", "score", "--run", run_id, "--json"],
        env=cli_env(settings), capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    scored = json.loads(done.stdout)
    assert scored["run"] == run_id
    assert scored["windows"] == expected.windows > 0
    for key in ("f1_overall", "precision", "recall", "episodes", "forecast_series"):
        assert scored[key] == getattr(expected, key), key
    assert abs(scored["mase_vs_seasonal_naive"] - expected.mase_vs_seasonal_naive) < 0.01
    assert abs(scored["pi95_coverage"] - expected.pi95_coverage) < 0.02
