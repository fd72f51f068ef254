"""ingest: MQTT in, TimescaleDB out. Decoders are pure (``decode``, ``formats``); the
worker and the writers are the edge; ``registry`` and ``bulk`` own the device and
reading tables with ``writer``.
"""

__all__ = [
    "adapters",
    "announce",
    "bulk",
    "decode",
    "errors",
    "formats",
    "metrics",
    "models",
    "queries",
    "registry",
    "sources",
    "topics",
    "vocabulary",
    "worker",
    "writer",
]
