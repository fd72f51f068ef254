"""The analytics service loop: detect every interval, forecast every forecast interval, and
announce each new anomaly episode as an alert. The broker client comes in as ``publish``."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
import psycopg

from analytics.detect import Episode
from analytics.errors import AnalyticsError
from analytics.jobs import AnalyticsConfig, run_pass
from analytics.parallel import Runner
from contract.topics import alerts_topic

__all__ = ["Schedule", "alert_payload", "loop"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Schedule:
    """How often the loop detects and forecasts, and which district its alerts name."""

    district: str
    interval_s: float = 30.0
    forecast_interval_s: float = 3600.0


def alert_payload(device_id: str, metric: str, episode: Episode) -> bytes:
    """An episode as the alerts topic carries it (JSON)."""
    return orjson.dumps(
        {
            "device_id": device_id,
            "metric": metric,
            "kind": episode.kind,
            "started_at": episode.start.isoformat(),
            "ended_at": episode.end.isoformat(),
            "severity": episode.severity,
            "explanation": episode.explanation,
        }
    )


def loop(
    config: AnalyticsConfig,
    schedule: Schedule,
    stop: threading.Event,
    *,
    publish: Callable[[str, bytes], None],
    once: bool = False,
) -> int:
    """Run passes until ``stop`` (or one pass with ``once``); new episodes go to the anomalies
    table and to ``publish(alerts/<district>/<device>/<metric>, payload)``.

    Raises:
        AnalyticsError: with ``once``, when the database is unavailable.
    """
    runner = Runner(workers=config.workers, dask_address=config.dask_address)

    def announce(device_id: str, metric: str, episode: Episode) -> None:
        log.info("anomaly %s %s %s: %s", device_id, metric, episode.kind, episode.explanation)
        publish(alerts_topic(schedule.district, device_id, metric), alert_payload(device_id, metric, episode))

    last_forecast = -float("inf")
    try:
        while True:
            started = time.monotonic()
            due = once or started - last_forecast >= schedule.forecast_interval_s
            try:
                with psycopg.connect(config.dsn, connect_timeout=5) as conn:
                    result = run_pass(
                        conn, config, datetime.now(UTC), on_episode=announce, forecasts=due, runner=runner
                    )
                if due:
                    last_forecast = started
                log.info(
                    "analytics pass: %d series, %d forecast rows, %d new episodes (%.1f s)",
                    result.series,
                    result.forecasts,
                    len(result.new_episodes),
                    time.monotonic() - started,
                )
            except psycopg.OperationalError as exc:
                if once:
                    raise AnalyticsError(f"database unavailable: {exc}") from exc
                log.warning("analytics pass skipped: database unavailable (%s)", exc)
            except Exception:
                if once:
                    raise
                # one pass's failure (a series no model can handle, a bug) must not stop the wall's alerts
                log.exception("analytics pass failed; the next one runs as planned")
            if once or stop.wait(max(0.0, schedule.interval_s - (time.monotonic() - started))):
                return 0
    finally:
        runner.close()
