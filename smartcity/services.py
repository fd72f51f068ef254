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
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import orjson

from contract import topics
from smartcity.errors import SmartcityError
from smartcity.settings import Settings

if TYPE_CHECKING:
    from ingest.sources import Source

log = logging.getLogger(__name__)


def stop_on_signals(stop: threading.Event | None = None, callback: object = None) -> threading.Event:
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
    from classroom.limits import ClassLimits
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
        announce=settings.sta_mqtt,
        class_limits=ClassLimits(
            account_rate_per_s=settings.ingest_class_rate_per_s,
            account_burst=settings.ingest_class_burst,
            class_rate_per_s=settings.ingest_class_total_rate_per_s,
            class_burst=settings.ingest_class_total_burst,
            account_max_devices=settings.ingest_class_max_devices,
        ),
    )


def load_sources(settings: Settings) -> list[Source]:
    """The configured sources (``SMARTCITY_INGEST_SOURCES_FILE``); none without the setting.

    Raises:
        SmartcityError: the file or one of its entries cannot be used (named).
    """
    import os

    from ingest.errors import SourceError
    from ingest.sources import load_sources as load

    if settings.ingest_sources_file is None:
        return []
    try:
        return load(
            settings.ingest_sources_file,
            district=settings.district,
            timezone=settings.city_timezone,
            environ=os.environ,
            client_prefix=settings.ingest_client_id,
        )
    except SourceError as exc:
        raise SmartcityError(str(exc)) from exc


def _ingest_process(settings: Settings, index: int, shared: bool) -> None:
    from ingest.worker import IngestWorker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    worker = IngestWorker(ingest_config(settings, index=index, shared=shared))
    # the configured sources are read by the first process only: their brokers know no share group
    extra = [
        IngestWorker(dataclasses.replace(ingest_config(settings), source=s, writers=1, metrics_port=0))
        for s in (load_sources(settings) if index == 0 else [])
    ]
    threads = [threading.Thread(target=w.run, name=f"source-{w.config.client_id}", daemon=True) for w in extra]

    def stop_all() -> None:
        for w in (worker, *extra):
            w.stop()

    stop_on_signals(callback=stop_all)
    for t in threads:
        t.start()
    counters = worker.run()
    for w in extra:
        w.stop()
    for t in threads:
        t.join()
    log.info("ingest worker %d stopped", index)
    # One machine-readable line for scripts and benchmarks.
    print("ingest-summary " + json.dumps(dataclasses.asdict(counters)), file=sys.stderr, flush=True)


def run_ingest(settings: Settings, *, workers: int = 1) -> int:
    """Run ingest until SIGTERM/SIGINT; with ``workers`` > 1, that many processes share one subscription."""
    if workers < 1:
        raise SmartcityError(f"--workers must be at least 1, got {workers}")
    for source in load_sources(settings):  # a wrong sources file stops here, before any process starts
        log.info("source %s: %s via %s:%d", source.name, source.adapter.name, source.host, source.port)
    if workers == 1:
        _ingest_process(settings, 0, shared=False)
        return 0
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_ingest_process, args=(settings, i, True), name=f"ingest-{i}") for i in range(workers)]
    for p in procs:
        p.start()
    stop = stop_on_signals()
    while not stop.is_set() and all(p.is_alive() for p in procs):
        stop.wait(0.5)
    for p in procs:
        if p.is_alive() and p.pid is not None:
            p.terminate()  # SIGTERM: each worker drains and commits
    for p in procs:
        p.join()
    return max((p.exitcode or 0) for p in procs)


def decode_file(settings: Settings, topic: str | None, file: str, *, source: str | None = None) -> int:
    """Print what a payload decodes to, one JSON line per reading, or its rejection; 1 when rejected.

    With ``source``, as that configured source's adapter and rules would decode it.
    """
    from ingest.decode import Limits, decode, decode_from_source

    if not topic:
        raise SmartcityError(f"--topic is required: the topic names the device (e.g. {topics.CITY_EXAMPLE})")
    try:
        payload = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as exc:
        raise SmartcityError(f"cannot read payload file {file}: {exc}") from exc
    limits = Limits(
        max_payload_bytes=settings.ingest_max_payload_bytes,
        future_tolerance_s=settings.ingest_future_tolerance_s,
        max_age_s=settings.ingest_max_age_days * 86400,
    )
    if source is None:
        decoded = decode(topic, payload, datetime.now(UTC), limits)
    else:
        configured = {s.name: s for s in load_sources(settings)}
        if source not in configured:
            known = ", ".join(sorted(configured)) or "none (set SMARTCITY_INGEST_SOURCES_FILE)"
            raise SmartcityError(f"no configured source is named {source!r}; configured: {known}")
        decoded = decode_from_source(configured[source], topic, payload, datetime.now(UTC), limits)
        if decoded.topic is None and decoded.rejection is None:
            print(json.dumps({"skipped": "this topic carries no readings for the adapter"}))
            return 0
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


# -- analytics ----------------------------------------------------------------------
def analytics_config(settings: Settings):  # type: ignore[no-untyped-def]
    from analytics.jobs import AnalyticsConfig

    return AnalyticsConfig(
        dsn=settings.database_dsn(),
        workers=settings.analytics_workers,
        dask_address=settings.analytics_dask_address or None,
        timezone=settings.city_timezone,
    )


def _alerts_client(settings: Settings):  # type: ignore[no-untyped-def]
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    username, password = settings.mqtt_credentials()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="smartcity-analytics", protocol=mqtt.MQTTv5)
    client.username_pw_set(username, password)
    client.connect_async(settings.mqtt_host, settings.mqtt_port)
    client.loop_start()
    return client


def run_analytics(settings: Settings, *, once: bool) -> int:
    """The analytics service: ``analytics_loop`` until SIGTERM or Ctrl-C (or one pass)."""
    return analytics_loop(settings, stop_on_signals(), once=once)


def analytics_loop(settings: Settings, stop: threading.Event, *, once: bool = False, devices: str = "%") -> int:
    """``analytics.service.loop`` wired to the settings and an alerts client of the broker."""
    from analytics import service

    config = dataclasses.replace(analytics_config(settings), devices=devices)
    schedule = service.Schedule(
        district=settings.district,
        interval_s=settings.analytics_interval_s,
        forecast_interval_s=settings.analytics_forecast_interval_s,
    )
    client = _alerts_client(settings)
    try:
        return service.loop(config, schedule, stop, once=once, publish=lambda t, p: client.publish(t, p, qos=1))
    finally:
        client.loop_stop()
        client.disconnect()


# -- dashboard ----------------------------------------------------------------------
def run_dashboard(settings: Settings) -> int:
    """Serve the dashboard with waitress (a production WSGI server) until stopped.

    Raises:
        SmartcityError: it would listen beyond this machine without operator accounts.
    """
    import waitress

    from dashboard.app import DashboardConfig, create_app
    from smartcity import operators, sta_server

    accounts = operators.load(settings)
    if not _loopback(settings.dashboard_host) and not accounts:
        raise SmartcityError(
            f"SMARTCITY_DASHBOARD_HOST={settings.dashboard_host} would open the dashboard to the network without "
            "operator accounts: add one with 'smartcity operator add NAME' first"
        )
    app = create_app(
        DashboardConfig(
            dsn=settings.database_dsn(),
            district=settings.district,
            timezone=settings.city_timezone,
            secret_key=settings.dashboard_secret_key(),
            operators=accounts,
            secure_cookies=settings.dashboard_secure_cookies,
        )
    )
    close_sta = sta_server.serve(app.server, settings, accounts)
    print(f"dashboard: http://{settings.dashboard_host}:{settings.dashboard_port}/", flush=True)
    print(f"SensorThings API: {sta_server.base_url(settings)}", flush=True)
    try:
        waitress.serve(
            app.server, host=settings.dashboard_host, port=settings.dashboard_port, threads=8, ident="smartcity"
        )
    finally:
        close_sta()
    return 0


def _loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")
