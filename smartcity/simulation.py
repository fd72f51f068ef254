"""The simulator's commands, wired from the settings: live run, backfill, scenarios, ground truth."""

from __future__ import annotations

import csv
import io
import logging
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
import pandas as pd
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from smartcity.errors import SmartcityError
from smartcity.services import stop_on_signals
from smartcity.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Flakiness:
    """How unreliable the simulated fleet is (``sim run`` switches); all off by default."""

    jitter_s: float = 0.0
    offline_share: float = 0.0
    late_share: float = 0.0
    duplicate_share: float = 0.0

    def check(self) -> None:
        for name in ("offline_share", "late_share", "duplicate_share"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise SmartcityError(f"--{name.replace('_', '-')} must be in 0..1, got {value}")
        if self.jitter_s < 0:
            raise SmartcityError(f"--jitter must not be negative, got {self.jitter_s}")


def _fleet(settings: Settings, conn: psycopg.Connection[tuple[object, ...]], devices: int | None) -> pd.DataFrame:
    from twin import store

    fleet = store.read_sites(conn, settings.district)
    if fleet.empty:
        raise SmartcityError(f"district {settings.district!r} has no device sites: run 'smartcity twin load-default'")
    if devices is not None:
        if devices < 1:
            raise SmartcityError(f"--devices must be at least 1, got {devices}")
        fleet = fleet.head(devices)
    return fleet


def _sim_broker(settings: Settings) -> tuple[str, int, str, str]:
    username, password = settings.sim_mqtt_credentials()  # its own account, not the anonymous listener
    return settings.mqtt_host, settings.mqtt_port, username, password


class _TruthWriter:
    """Stores live ground truth as anomalies begin; keeps it while the database is away."""

    def __init__(self, dsn: str, run_id: str) -> None:
        self._dsn, self.run_id = dsn, run_id
        self._pending: list[pd.DataFrame] = []
        self.written = 0

    def __call__(self, truth: pd.DataFrame) -> None:
        from sensors_sim.backfill import write_truth

        self._pending.append(truth)
        batch = pd.concat(self._pending, ignore_index=True)
        try:
            with psycopg.connect(self._dsn, connect_timeout=5) as conn:
                write_truth(conn, self.run_id, batch)
        except psycopg.OperationalError as exc:
            log.warning("ground truth of %d anomalies kept for later: database unavailable (%s)", len(batch), exc)
            return
        self._pending = []
        self.written += len(batch)


def run_sim(
    settings: Settings,
    *,
    devices: int | None = None,
    speed: float = 1.0,
    seed: int | None = None,
    duration_s: float | None = None,
    payload_format: str = "canonical",
    malformed_share: float = 0.0,
    anomaly_rate: float = 0.0,
    flaky: Flakiness = Flakiness(),
) -> int:
    """Publish the district's fleet live; the labelled anomalies go to ``sim_anomalies``."""
    from sensors_sim.publisher import SimConfig, run

    if not 0.0 <= malformed_share <= 1.0 or speed <= 0 or anomaly_rate < 0:
        raise SmartcityError(
            "--malformed-share must be in 0..1, --speed positive and --anomaly-rate not negative "
            f"(got {malformed_share}, {speed}, {anomaly_rate})"
        )
    flaky.check()
    if flaky.jitter_s >= settings.sim_interval_s:
        raise SmartcityError(f"--jitter must be below the reporting interval ({settings.sim_interval_s} s)")
    with psycopg.connect(settings.database_dsn()) as conn:
        fleet = _fleet(settings, conn, devices)
    host, port, username, password = _sim_broker(settings)
    seed = settings.sim_seed if seed is None else seed
    config = SimConfig(
        mqtt_host=host, mqtt_port=port, district=settings.district, mqtt_username=username, mqtt_password=password,
        interval_s=settings.sim_interval_s, speed=speed, seed=seed, payload_format=payload_format,
        malformed_share=malformed_share, anomaly_rate=anomaly_rate, jitter_s=flaky.jitter_s,
        offline_share=flaky.offline_share, late_share=flaky.late_share, duplicate_share=flaky.duplicate_share,
    )  # fmt: skip
    truth = _TruthWriter(settings.database_dsn(), f"live-{datetime.now(UTC):%Y%m%dT%H%M%S}-seed{seed}")
    stop = stop_on_signals()
    sent = run(config, fleet, stop, duration_s=duration_s, on_truth=truth)
    print(f"sim: published {sent} messages; {truth.written} labelled anomalies ({truth.run_id})")
    return 0


def run_backfill(
    settings: Settings,
    *,
    days: float,
    devices: int | None,
    seed: int | None,
    anomaly_rate: float,
    per_kind: int | None = None,
    end: str | None = None,
) -> int:
    """Write ``days`` of history for the district's fleet (or ``per_kind`` devices of every
    kind), up to now (or ``end``), with labelled anomalies."""
    from ingest.bulk import BulkWriter
    from sensors_sim.backfill import backfill, print_progress
    from sensors_sim.signals import fleet_of_every_kind

    if days <= 0 or anomaly_rate < 0:
        raise SmartcityError(f"--days must be positive and --anomaly-rate not negative (got {days}, {anomaly_rate})")
    if per_kind is not None and per_kind < 1:
        raise SmartcityError(f"--per-kind must be at least 1, got {per_kind}")
    seed = settings.sim_seed if seed is None else seed
    interval_s = 300.0
    until = _end_time(end) if end else time.time()
    end_at = datetime.fromtimestamp(until // interval_s * interval_s, UTC)
    start = end_at - timedelta(days=days)
    run_id = f"backfill-{end_at:%Y%m%dT%H%M}-seed{seed}" + (f"-{per_kind}perkind" if per_kind else "")
    with psycopg.connect(settings.database_dsn()) as conn:
        fleet = fleet_of_every_kind(per_kind) if per_kind else _fleet(settings, conn, devices)
        result = backfill(
            conn, fleet, start, end_at, interval_s=interval_s, seed=seed,
            anomalies_per_device_day=anomaly_rate, run_id=run_id, progress=print_progress, sink=BulkWriter(conn),
        )  # fmt: skip
        conn.commit()
        from storage import rollups

        # the backfill bypassed ingest: its hours are marked for the rollups here
        rollups.mark_range(conn, start - timedelta(hours=1), end_at + timedelta(hours=1))
    print(
        f"sim: {result.rows:,} readings and {result.anomalies} labelled anomalies ({run_id}) "
        f"in {result.seconds:.1f} s, {result.rows_per_s:,.0f} rows/s"
    )
    return 0


EVENTFUL_ANOMALY_RATE = 2.0  # labelled anomalies per device-day in them


def fill_history_if_empty(settings: Settings) -> bool:
    """On a database without a single reading, write ``demo_history_days`` of the district's
    history (labelled anomalies included) up to now, so the first analytics pass already
    forecasts and finds episodes; the live simulator then carries on from now. Returns
    whether history was written."""
    from analytics.jobs import RECENT_EPISODES
    from ingest import queries as ingest_queries

    if settings.demo_history_days <= 0:
        return False
    with psycopg.connect(settings.database_dsn()) as conn:
        row = conn.execute(ingest_queries.ANY_READING).fetchone()
    if row is not None and bool(row[0]):
        return False
    print(f"database empty: writing {settings.demo_history_days:g} days of the city's history first", flush=True)
    # the last hours are eventful: analytics writes only the episodes ending that recently,
    # and the first pass should have some to show whatever the seed planned for the weeks before
    now = time.time()
    eventful_s = min(RECENT_EPISODES.total_seconds(), settings.demo_history_days * 86400.0)
    quiet_days = settings.demo_history_days - eventful_s / 86400.0
    if quiet_days > 0:
        run_backfill(
            settings, days=quiet_days, devices=None, seed=None, anomaly_rate=settings.demo_history_anomaly_rate,
            end=datetime.fromtimestamp(now - eventful_s, UTC).isoformat(),
        )  # fmt: skip
    run_backfill(
        settings, days=eventful_s / 86400.0, devices=None, seed=None, anomaly_rate=EVENTFUL_ANOMALY_RATE,
        end=datetime.fromtimestamp(now, UTC).isoformat(),
    )  # fmt: skip
    # the past's rollups before the city goes live, so the live hours never queue behind it
    from smartcity import storage_commands

    storage_commands.rollup(settings)
    return True


def _end_time(text: str) -> float:
    """Epoch seconds of an ISO 8601 time (UTC when it names no zone)."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError as exc:
        raise SmartcityError(f"--end {text!r} is not an ISO 8601 time such as 2026-11-20 or 2026-11-20T09:00") from exc
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def export_truth(settings: Settings, *, run_id: str, csv_path: str) -> int:
    """Write the simulator's ground-truth anomalies as CSV."""
    from sensors_sim import queries as sim_queries

    with psycopg.connect(settings.database_dsn()) as conn:
        rows = conn.execute(sim_queries.TRUTH, (run_id, run_id)).fetchall()
    header = ["run_id", "device_id", "metric", "kind", "started_at", "ended_at", "magnitude"]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows([(*r[:4], r[4].isoformat(), r[5].isoformat(), r[6]) for r in rows])
    if csv_path == "-":
        sys.stdout.write(buffer.getvalue())
        return 0
    try:
        Path(csv_path).write_text(buffer.getvalue(), encoding="utf-8")
    except OSError as exc:
        raise SmartcityError(f"cannot write {csv_path}: {exc}") from exc
    print(f"sim: {len(rows)} labelled anomalies written to {csv_path}", file=sys.stderr)
    return 0


def trigger_scenario(settings: Settings, name: str, *, duration_s: float, wait_s: float = 5.0) -> int:
    """Ask the running simulator for a scenario (``none`` ends them) and print its answer.

    Returns 0 when the simulator confirmed, 3 when no simulator answered in ``wait_s``.
    """
    from contract.topics import scenario_state_topic, scenario_topic
    from sensors_sim.scenarios import request_body

    body = request_body(name, duration_s)  # the simulator's own protocol, refused here if wrong
    host, port = settings.mqtt_host, settings.mqtt_port
    username, password = settings.mqtt_credentials()  # an operator's request, not the simulator's
    topic = scenario_topic(settings.district)
    answered = threading.Event()
    answer: list[dict[str, object]] = []
    sent_at = time.monotonic()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    if username:
        client.username_pw_set(username, password)

    def on_message(client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        if message.retain:
            return  # the state before our request
        answer.append(orjson.loads(message.payload))
        answered.set()

    def on_subscribe(client: mqtt.Client, userdata: object, mid: int, codes: object, props: object) -> None:
        client.publish(topic, body, qos=1)

    client.on_message = on_message
    client.on_subscribe = on_subscribe
    try:
        client.connect(host, port, keepalive=10)
    except OSError as exc:
        raise SmartcityError(f"broker {host}:{port} unreachable: {exc}") from exc
    client.subscribe(scenario_state_topic(settings.district), qos=1)
    client.loop_start()
    try:
        answered.wait(wait_s)
    finally:
        client.loop_stop()
        client.disconnect()
    if not answer:
        print(f"sim: no simulator answered on {topic} within {wait_s:.0f} s (is 'smartcity sim run' running?)")
        return 3
    state = answer[0]
    print(f"sim: {orjson.dumps(state).decode()} ({time.monotonic() - sent_at:.2f} s)")
    return 2 if "error" in state else 0
