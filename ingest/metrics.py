"""Prometheus text exposition of an ingest worker's counters, over a tiny HTTP server."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def render(values: dict[str, float], rejected_by_reason: dict[str, int], *, worker: str) -> str:
    """The exposition text for one worker's counters (pure)."""
    lines = []
    help_text = {
        "messages": ("counter", "MQTT messages taken off the broker and committed"),
        "readings": ("counter", "readings decoded from committed messages"),
        "inserted": ("counter", "readings newly stored (redeliveries excluded)"),
        "rejected": ("counter", "messages refused and kept as dead letters"),
        "batches": ("counter", "committed batches"),
        "redelivered_batches": ("counter", "batches that held messages already stored"),
        "last_batch_ms": ("gauge", "time to write and commit the last batch, in milliseconds"),
        "backlog_messages": ("gauge", "messages received and not yet committed"),
    }
    for name, (kind, text) in help_text.items():
        if name not in values:
            continue
        metric = f"smartcity_ingest_{name}" + ("_total" if kind == "counter" else "")
        lines += [
            f"# HELP {metric} {text}",
            f"# TYPE {metric} {kind}",
            f'{metric}{{worker="{worker}"}} {values[name]:g}',
        ]
    lines += [
        "# HELP smartcity_ingest_dead_letters_total refused messages by reason",
        "# TYPE smartcity_ingest_dead_letters_total counter",
    ]
    lines += [
        f'smartcity_ingest_dead_letters_total{{worker="{worker}",reason="{reason}"}} {count}'
        for reason, count in sorted(rejected_by_reason.items())
    ]
    return "\n".join(lines) + "\n"


def serve(host: str, port: int, snapshot: Callable[[], str]) -> ThreadingHTTPServer:
    """Serve ``snapshot()`` at /metrics from a daemon thread; returns the server (call shutdown())."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/metrics":
                self.send_error(404, "only /metrics is served here")
                return
            body = snapshot().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # scrapes are not news
            return

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="ingest-metrics", daemon=True).start()
    return server
