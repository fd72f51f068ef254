"""analytics: forecasts and anomaly episodes. Models and detectors are pure;
``jobs`` reads and writes the database, ``parallel`` spreads the work.
"""

__all__ = [
    "aggregate",
    "backtest",
    "csvfile",
    "detect",
    "episodes",
    "errors",
    "evaluate",
    "forecast",
    "jobs",
    "models",
    "outliers",
    "parallel",
    "passes",
    "queries",
    "realdata",
    "score",
    "service",
]
