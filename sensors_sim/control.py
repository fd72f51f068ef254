"""Students driving their assigned simulated sensor: requests, overrides, and their labels (pure).

A student publishes on ``class/<class>/<student>/control`` a JSON request
``{"action": "set" | "spike" | "stuck" | "release", "metric": M, "value": V, "duration_s": S}``.
``set`` holds a metric at a value for S seconds (default 600); ``spike`` sends one report
at V (default: five times the current value, plus 50); ``stuck`` repeats the current
values for S seconds; ``release`` gives the sensor back to the simulation. Only the
sensor the class assigned to the student can be driven; every change is labelled in
the ground truth like a planned anomaly (set: level_shift, spike: spike, stuck: stuck).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson
import pandas as pd

from contract.kinds import METRICS_BY_KIND
from sensors_sim.anomalies import LIMITS, TRUTH_COLUMNS
from sensors_sim.errors import ControlError

ACTIONS = ("set", "spike", "stuck", "release")
DEFAULT_DURATION_S = 600.0
_LABEL = {"set": "level_shift", "spike": "spike", "stuck": "stuck"}


@dataclass
class Override:
    device_id: str
    action: str
    metric: str | None
    value: float | None
    started_s: float
    until_s: float
    frozen: dict[str, float] = field(default_factory=dict)
    used: bool = False


def parse(payload: bytes, *, device_id: str, kind: str, now_s: float) -> Override | None:
    """An override from a control request for ``device_id`` (of ``kind``); None for ``release``.

    Raises:
        ControlError: not JSON, an unknown action or metric, a value that is not a number or
            outside what the sensor can report, a bad duration.
    """
    try:
        request = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise ControlError(f"control request is not JSON: {exc}") from exc
    if not isinstance(request, dict):
        raise ControlError('control request must be an object like {"action": "spike", "metric": "pm25_ugm3"}')
    action = request.get("action")
    if action not in ACTIONS:
        raise ControlError(f"action must be one of {', '.join(ACTIONS)}, got {action!r}")
    if action == "release":
        return None
    metrics = METRICS_BY_KIND.get(kind, ())
    metric = request.get("metric", metrics[0] if metrics else None)
    if metric not in metrics:
        raise ControlError(f"{device_id} ({kind}) reports {', '.join(metrics)}; got metric {metric!r}")
    value = request.get("value")
    if action == "set" and value is None:
        raise ControlError('"set" needs a "value"')
    if value is not None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ControlError(f"value must be a number, got {value!r}")
        low, high = LIMITS.get(str(metric), (float("-inf"), float("inf")))
        if not low <= value <= high:
            raise ControlError(f"{metric} must stay within {low:g}..{high:g} (what the sensor can report), got {value}")
    duration_s = request.get("duration_s", DEFAULT_DURATION_S)
    if isinstance(duration_s, bool) or not isinstance(duration_s, int | float) or not 0 < duration_s <= 86400:
        raise ControlError(f"duration_s must be a number of seconds in (0, 86400], got {duration_s!r}")
    return Override(device_id, str(action), str(metric), None if value is None else float(value), now_s,
                    now_s + float(duration_s))  # fmt: skip


def apply(override: Override, values: dict[str, float], now_s: float) -> dict[str, float]:
    """The report's values with the override in force (a new dict)."""
    out = dict(values)
    if override.action == "stuck":
        if not override.frozen:
            override.frozen = dict(values)
        out.update({m: v for m, v in override.frozen.items() if m in out})
    elif override.metric in out:
        if override.action == "set" and override.value is not None:
            out[override.metric] = override.value
        elif override.action == "spike" and not override.used:
            current = out[override.metric]
            out[override.metric] = override.value if override.value is not None else current * 5 + 50
            override.used = True
    return out


def finished(override: Override, now_s: float) -> bool:
    return now_s >= override.until_s or (override.action == "spike" and override.used)


def label(override: Override, interval_s: float) -> pd.DataFrame:
    """The ground-truth row of a student's change (TRUTH_COLUMNS, epoch seconds)."""
    end = override.started_s if override.action == "spike" else override.until_s - interval_s
    metric = override.metric or ""
    return pd.DataFrame(
        [(override.device_id, metric, _LABEL[override.action], override.started_s, max(end, override.started_s), 0.0)],
        columns=TRUTH_COLUMNS,
    )
