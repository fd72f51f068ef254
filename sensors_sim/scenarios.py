"""Named city scenarios a teacher or the exhibit can trigger: pure overrides of the drivers.

A scenario changes the shared drivers (traffic intensity, temperature, rain, yellow
dust) over a window of simulated time, so every device that depends on a driver
reacts together, as in a real city: a flood raises every stream, yellow dust every
PM station. Scenarios are the simulator's weather-override hook.

    rush_hour    traffic at its peak: counters and noise up, speeds down, NO2 up
    yellow_dust  황사 over the whole city: PM10 and PM2.5 up at every station
    heat_wave    폭염: +9 °C and at least 33 °C, so building cooling load climbs
    flood        집중호우: 45 mm/h of rain, streams rise, particulates wash out
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from sensors_sim.errors import ScenarioError

NAMES = ("rush_hour", "yellow_dust", "heat_wave", "flood")
HEAT_WAVE_DELTA_C = 9.0
HEAT_WAVE_MIN_C = 33.0
FLOOD_RAIN_MM_H = 45.0
DEFAULT_DURATION_S = 1800.0


@dataclass(frozen=True)
class Active:
    """One scenario in force over [started_s, ended_s) of simulated epoch seconds."""

    name: str
    started_s: float
    ended_s: float

    def __post_init__(self) -> None:
        if self.name not in NAMES:
            raise ScenarioError(f"unknown scenario {self.name!r}; known: {', '.join(NAMES)}")
        if not self.ended_s > self.started_s:
            raise ScenarioError(f"scenario {self.name} must end after it starts ({self.started_s}..{self.ended_s})")


@dataclass(frozen=True)
class Drivers:
    """What every device depends on, one value per time."""

    traffic: np.ndarray  # 0..1 intensity
    temperature_c: np.ndarray
    rain_mm_h: np.ndarray
    rain_last_6h_mm: np.ndarray
    dust: np.ndarray  # bool


def apply(drivers: Drivers, times_s: np.ndarray, active: Sequence[Active]) -> Drivers:
    """The drivers with every active scenario's override in its window (a new object)."""
    out = drivers
    for scenario in active:
        inside = (times_s >= scenario.started_s) & (times_s < scenario.ended_s)
        if scenario.name == "flood":
            # The last six hours of rain include the flood's own rain before each time.
            fallen = np.zeros(len(times_s))
            for lag_h in np.arange(0.0, 6.0, 0.5):
                lagged = times_s - lag_h * 3600
                fallen += 0.5 * FLOOD_RAIN_MM_H * ((lagged >= scenario.started_s) & (lagged < scenario.ended_s))
            out = replace(
                out,
                rain_mm_h=np.where(inside, np.maximum(out.rain_mm_h, FLOOD_RAIN_MM_H), out.rain_mm_h),
                rain_last_6h_mm=out.rain_last_6h_mm + fallen,
            )
        if not inside.any():
            continue
        if scenario.name == "rush_hour":
            out = replace(out, traffic=np.where(inside, 1.0, out.traffic))
        elif scenario.name == "yellow_dust":
            out = replace(out, dust=out.dust | inside)
        elif scenario.name == "heat_wave":
            # Whatever the season, a heat wave is hot: at least HEAT_WAVE_MIN_C, so cooling load climbs.
            hot = np.maximum(out.temperature_c + HEAT_WAVE_DELTA_C, HEAT_WAVE_MIN_C)
            out = replace(out, temperature_c=np.where(inside, hot, out.temperature_c))
    return out


def request_body(name: str, duration_s: float) -> bytes:
    """The control message asking the simulator for scenario ``name`` (``none`` ends them).

    Raises:
        ScenarioError: an unknown name or a duration outside (0, 604800] seconds.
    """
    import orjson

    if name not in (*NAMES, "none"):
        raise ScenarioError(f"unknown scenario {name!r}; known: {', '.join(NAMES)}, or none to end them")
    if isinstance(duration_s, bool) or not 0 < duration_s <= 7 * 86400:
        raise ScenarioError(f"duration must be in (0, 604800] seconds, got {duration_s}")
    return orjson.dumps({"scenario": name, "duration_s": duration_s})


def parse_request(payload: bytes, now_s: float) -> Active | None:
    """A control message (JSON ``{"scenario": NAME, "duration_s": S}``) as an Active window.

    ``{"scenario": "none"}`` ends every scenario: returns None.

    Raises:
        ScenarioError: not JSON, an unknown name, or a duration that is not a positive number.
    """
    import orjson

    try:
        request = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise ScenarioError(f"scenario request is not JSON: {exc}") from exc
    if not isinstance(request, dict) or not isinstance(request.get("scenario"), str):
        raise ScenarioError('scenario request must be an object like {"scenario": "flood", "duration_s": 600}')
    name = request["scenario"]
    if name == "none":
        return None
    duration_s = request.get("duration_s", DEFAULT_DURATION_S)
    if isinstance(duration_s, bool) or not isinstance(duration_s, int | float) or not 0 < duration_s <= 7 * 86400:
        raise ScenarioError(f"duration_s must be a number of seconds in (0, 604800], got {duration_s!r}")
    return Active(name, now_s, now_s + float(duration_s))
