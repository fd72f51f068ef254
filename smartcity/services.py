"""Each long-running service, wired from the settings: ingest, simulator, twin, analytics, dashboard.

This is the only module that imports several of the packages: it turns the one
``Settings`` object into each package's own small config and calls it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import multiprocessing
import signal
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

import orjson
import psycopg

from smartcity.errors import SmartcityError
from smartcity.settings import Settings

log = logging.getLogger(__name__)


def _stop_on_signals(stop: threading.Event | None = None, callback: object = None) -> threading.Event:
    event = stop or threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        event.set()
        if callable(callback):
            callback()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return event


# -- ingest -------------------------------------------------------------------------
def ingest_config(settings: Settings, *, index: int = 0, shared: bool = False):  # type: ignore[no-untyped-def]
    from ingest.decode import Limits
    from ingest.worker import IngestConfig

    username, password = settings.mqtt_credentials()
    return IngestConfig(
        dsn=settings.database_dsn(),
        mqtt_host=settings.mqtt_host,
        mqtt_port=settings.mqtt_port,
        mqtt_username=username,
        mqtt_password=password,
        client_id=f"{settings.ingest_client_id}-{index}" if shared else settings.ingest_client_id,
        shared=shared,
        batch_max_messages=settings.ingest_batch_max_messages,
        batch_max_age_s=settings.ingest_batch_max_age_ms / 1000,
        receive_maximum=settings.ingest_receive_maximum,
        writers=settings.ingest_writers,
        metrics_port=settings.ingest_metrics_port + index if settings.ingest_metrics_port else 0,
        limits=Limits(
            max_payload_bytes=settings.ingest_max_payload_bytes,
            future_tolerance_s=settings.ingest_future_tolerance_s,
            max_age_s=settings.ingest_max_age_days * 86400,
        ),
        auto_register=settings.ingest_auto_register,
    )


def _ingest_process(settings: Settings, index: int, shared: bool) -> None:
    from ingest.worker import IngestWorker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    worker = IngestWorker(ingest_config(settings, index=index, shared=shared))
    _stop_on_signals(callback=worker.stop)
    counters = worker.run()
    log.info("ingest worker %d stopped", index)
    # One machine-readable line for scripts and benchmarks.
    print("ingest-summary " + json.dumps(dataclasses.asdict(counters)), file=sys.stderr, flush=True)


def run_ingest(settings: Settings, *, workers: int = 1) -> int:
    """Run ingest until SIGTERM/SIGINT; with ``workers`` > 1, that many processes share one subscription."""
    if workers < 1:
        raise SmartcityError(f"--workers must be at least 1, got {workers}")
    if workers == 1:
        _ingest_process(settings, 0, shared=False)
        return 0
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_ingest_process, args=(settings, i, True), name=f"ingest-{i}") for i in range(workers)]
    for p in procs:
        p.start()
    stop = _stop_on_signals()
    while not stop.is_set() and all(p.is_alive() for p in procs):
        stop.wait(0.5)
    for p in procs:
        if p.is_alive() and p.pid is not None:
            p.terminate()  # SIGTERM: each worker drains and commits
    for p in procs:
        p.join()
    return max((p.exitcode or 0) for p in procs)


def decode_file(settings: Settings, topic: str | None, file: str) -> int:
    """Print what a payload decodes to, one JSON line per reading, or its rejection; 1 when rejected."""
    from ingest.decode import Limits, decode

    if not topic:
        raise SmartcityError("--topic is required: the topic names the device (e.g. city/goyang/air/aq-0001)")
    try:
        payload = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as exc:
        raise SmartcityError(f"cannot read payload file {file}: {exc}") from exc
    limits = Limits(
        max_payload_bytes=settings.ingest_max_payload_bytes,
        future_tolerance_s=settings.ingest_future_tolerance_s,
        max_age_s=settings.ingest_max_age_days * 86400,
    )
    decoded = decode(topic, payload, datetime.now(UTC), limits)
    if decoded.rejection is not None:
        r = decoded.rejection
        print(json.dumps({"rejected": r.reason, "sentence": r.sentence, "field": r.field}, ensure_ascii=False))
        return 1
    for reading in decoded.readings:
        sys.stdout.write(
            orjson.dumps(
                {"time": reading.time, "device_id": reading.device_id, "metric": reading.metric, "value": reading.value}
            ).decode()
            + "\n"
        )
    for note in decoded.ignored:
        print(json.dumps({"ignored": note}, ensure_ascii=False), file=sys.stderr)
    return 0


# -- twin ---------------------------------------------------------------------------
def load_twin(settings: Settings, *, only_if_missing: bool = False) -> int:
    """Build the default district and store it; prints what it noticed in the source layers."""
    from twin import store
    from twin._io import default_layers
    from twin.district import build_district

    with psycopg.connect(settings.database_dsn()) as conn:
        if only_if_missing and store.has_district(conn, settings.district):
            return 0
        dongs, facilities = default_layers()
        district = build_district(dongs, facilities, n_devices=settings.sim_devices)
        store.save_district(conn, district)
    for problem in district.problems:
        print(f"twin: note: {problem}")
    print(
        f"twin: {district.name_en}: {len(district.buildings)} buildings (synthetic), {len(district.sites)} device sites"
    )
    return 0


# -- simulator ----------------------------------------------------------------------
def run_sim(
    settings: Settings,
    *,
    devices: int | None = None,
    speed: float = 1.0,
    seed: int | None = None,
    duration_s: float | None = None,
    payload_format: str = "canonical",
    malformed_share: float = 0.0,
) -> int:
    from sensors_sim.publisher import SimConfig, run

    if not 0.0 <= malformed_share <= 1.0 or speed <= 0:
        raise SmartcityError(f"--malformed-share must be in 0..1 and --speed positive (got {malformed_share}, {speed})")
    from twin import store

    with psycopg.connect(settings.database_dsn()) as conn:
        fleet = store.read_sites(conn, settings.district)
    if fleet.empty:
        raise SmartcityError(f"district {settings.district!r} has no device sites: run 'smartcity twin load-default'")
    if devices is not None:
        fleet = fleet.head(devices)
    if settings.mqtt_demo_port:
        host, port, username, password = "127.0.0.1", settings.mqtt_demo_port, "", ""
    else:
        username, password = settings.mqtt_credentials()
        host, port = settings.mqtt_host, settings.mqtt_port
    config = SimConfig(
        mqtt_host=host,
        mqtt_port=port,
        district=settings.district,
        mqtt_username=username,
        mqtt_password=password,
        interval_s=settings.sim_interval_s,
        speed=speed,
        seed=settings.sim_seed if seed is None else seed,
        payload_format=payload_format,
        malformed_share=malformed_share,
    )
    stop = _stop_on_signals()
    sent = run(config, fleet, stop, duration_s=duration_s)
    print(f"sim: published {sent} messages")
    return 0


def run_backfill(settings: Settings, *, days: float, devices: int | None, seed: int | None, anomaly_rate: float) -> int:
    """Write ``days`` of history for the district's fleet, with labelled anomalies."""
    from sensors_sim.backfill import backfill, print_progress
    from twin import store

    if days <= 0 or anomaly_rate < 0:
        raise SmartcityError(f"--days must be positive and --anomaly-rate not negative (got {days}, {anomaly_rate})")
    seed = settings.sim_seed if seed is None else seed
    interval_s = 300.0
    end = datetime.fromtimestamp(time.time() // interval_s * interval_s, UTC)
    start = end - timedelta(days=days)
    run_id = f"backfill-{end:%Y%m%dT%H%M}-seed{seed}"
    with psycopg.connect(settings.database_dsn()) as conn:
        fleet = store.read_sites(conn, settings.district)
        if fleet.empty:
            raise SmartcityError(
                f"district {settings.district!r} has no device sites: run 'smartcity twin load-default'"
            )
        if devices is not None:
            fleet = fleet.head(devices)
        result = backfill(
            conn, fleet, start, end, interval_s=interval_s, seed=seed,
            anomalies_per_device_day=anomaly_rate, run_id=run_id, progress=print_progress,
        )  # fmt: skip
    print(
        f"sim: {result.rows:,} readings and {result.anomalies} labelled anomalies ({run_id}) "
        f"in {result.seconds:.1f} s, {result.rows_per_s:,.0f} rows/s"
    )
    return 0


def export_truth(settings: Settings, *, run_id: str, csv_path: str) -> int:
    """Write the simulator's ground-truth anomalies as CSV."""
    import csv
    import io

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


# -- analytics ----------------------------------------------------------------------
def run_analytics(settings: Settings, *, once: bool) -> int:
    from analytics.detect import Episode
    from analytics.jobs import AnalyticsConfig, run_pass

    config = AnalyticsConfig(dsn=settings.database_dsn())
    stop = _stop_on_signals()

    def announce(device_id: str, metric: str, episode: Episode) -> None:
        log.info("anomaly %s %s %s: %s", device_id, metric, episode.kind, episode.explanation)

    while True:
        started = time.monotonic()
        try:
            with psycopg.connect(config.dsn, connect_timeout=5) as conn:
                result = run_pass(conn, config, datetime.now(UTC), on_episode=announce)
            log.info(
                "analytics pass: %d series, %d forecast rows, %d new episodes",
                result.series,
                result.forecasts,
                len(result.new_episodes),
            )
        except psycopg.OperationalError as exc:
            if once:
                raise SmartcityError(f"database unavailable: {exc}") from exc
            log.warning("analytics pass skipped: database unavailable (%s)", exc)
        if once or stop.wait(max(0.0, settings.analytics_interval_s - (time.monotonic() - started))):
            return 0


# -- dashboard ----------------------------------------------------------------------
def run_dashboard(settings: Settings) -> int:
    from dashboard.app import DashboardConfig, create_app

    app = create_app(DashboardConfig(dsn=settings.database_dsn(), district=settings.district))
    print(f"dashboard: http://{settings.dashboard_host}:{settings.dashboard_port}/", flush=True)
    app.run(host=settings.dashboard_host, port=settings.dashboard_port, debug=False)
    return 0
