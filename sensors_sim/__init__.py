"""sensors_sim: the simulated city. Signals, anomalies and scenarios are pure;
``publisher`` speaks MQTT, ``backfill`` hands history to a reading sink.
"""

__all__ = [
    "anomalies",
    "backfill",
    "calendar",
    "control",
    "errors",
    "publisher",
    "queries",
    "reports",
    "scenarios",
    "signals",
    "weather",
]
