"""Simulator figures, measured in one run, with same-run baselines.

- Backfill: DEVICES devices x DAYS days at 5-minute resolution, all metrics, into
  TimescaleDB by COPY (``backfill_rows_per_s``, ``backfill_wall_s``), against the rate
  of generating the same rows without a database (``generate_rows_per_s``).
- Live: 10,000 devices at one message per 10 s (0.2 labelled anomalies per device-day),
  published over MQTT for ``--live-s`` seconds; ``live_devices_10k_cpu_share`` is the
  publisher's CPU time over wall time (1.0 = one core), against the share of generating
  the same reports without publishing.

Usage: .venv/bin/python bench/sim.py [--json] [--devices 1000] [--days 30] [--live-s 30]
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._stack import private_stack, report  # noqa: E402
from ingest.bulk import BulkWriter  # noqa: E402
from sensors_sim.backfill import backfill  # noqa: E402
from sensors_sim.publisher import SimConfig, run  # noqa: E402
from sensors_sim.reports import sample  # noqa: E402
from sensors_sim.signals import generate  # noqa: E402
from smartcity.settings import Settings  # noqa: E402

MIX = (
    ("energy",) * 5 + ("air",) * 3 + ("traffic",) * 3 + ("light",) * 3 + ("noise",) * 2 + ("parking",) * 2 + ("water",)
)


def fleet_of(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    kinds = [MIX[i % len(MIX)] for i in range(n)]
    return pd.DataFrame(
        {
            "device_id": [f"{k}-{i:05d}" for i, k in enumerate(kinds)],
            "kind": kinds,
            "lon_deg": 126.83 + rng.uniform(-0.03, 0.03, n),
            "lat_deg": 37.65 + rng.uniform(-0.02, 0.02, n),
        }
    )


def generation_rate(fleet: pd.DataFrame, days: float) -> float:
    """Rows per second of generating one day for the fleet (no database)."""
    start = datetime(2026, 10, 1, tzinfo=UTC).timestamp()
    times = np.arange(start, start + min(days, 1.0) * 86400, 300)
    began = time.perf_counter()
    blocks = generate(fleet, times, seed=42, interval_s=300)
    rows = sum(int((~np.isnan(v)).sum()) for b in blocks for v in b.values.values())
    return rows / (time.perf_counter() - began)


def live_share(settings: Settings, n_devices: int, seconds: float) -> tuple[float, float]:
    """(CPU share while publishing, CPU share of generating the same reports only)."""
    fleet = fleet_of(n_devices, seed=2)
    user, password = settings.sim_mqtt_credentials()  # the simulator's own account, as in 'smartcity up'
    config = SimConfig(mqtt_host=settings.mqtt_host, mqtt_port=settings.mqtt_port, district="bench", interval_s=10.0,
                       anomaly_rate=0.2, mqtt_username=user, mqtt_password=password)  # fmt: skip
    stop = threading.Event()
    threading.Timer(seconds, stop.set).start()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    run(config, fleet, stop)
    publishing = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
    steps = max(1, int(seconds / 10))
    cpu0 = time.process_time()
    for k in range(steps):
        sample(fleet, datetime.now(UTC) + timedelta(seconds=10 * k), seed=42, interval_s=10)
    generating = (time.process_time() - cpu0) / (steps * 10)
    return publishing, generating


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--days", type=float, default=30.0)
    parser.add_argument("--live-s", type=float, default=30.0)
    args = parser.parse_args()
    with private_stack("bench-sim-stack") as settings:
        fleet = fleet_of(args.devices)
        gen_rate = generation_rate(fleet, args.days)
        end = datetime(2026, 11, 1, tzinfo=UTC)
        with psycopg.connect(settings.database_dsn()) as conn:
            result = backfill(
                conn, fleet, end - timedelta(days=args.days), end, interval_s=300, seed=42,
                anomalies_per_device_day=0.2, run_id="bench", sink=BulkWriter(conn),
            )  # fmt: skip
        publishing, generating = live_share(settings, 10_000, args.live_s)
    figures = {
        "backfill_rows": result.rows,
        "backfill_wall_s": round(result.seconds, 1),
        "backfill_rows_per_s": round(result.rows_per_s),
        "generate_rows_per_s": round(gen_rate),
        "backfill_ratio_to_generation": round(result.rows_per_s / gen_rate, 3),
        "live_devices_10k_cpu_share": round(publishing, 3),
        "live_generation_only_cpu_share": round(generating, 3),
        "devices": args.devices,
        "days": args.days,
    }
    report(figures, as_json=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
