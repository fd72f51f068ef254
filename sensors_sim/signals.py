"""What each kind of device measures at a given time: pure, vectorised, deterministic.

Shapes follow a real district: traffic and noise peak in the 08:00 and 18:00 rush
hours, fall at night and on weekends; PM rises with traffic and at night under
inversions; energy follows office hours and temperature; street lights run at night.
Every metric name and unit is from the project vocabulary (``pm25_ugm3``, ...).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from sensors_sim.errors import FleetError

KST = timedelta(hours=9)

METRICS_BY_KIND: dict[str, tuple[str, ...]] = {
    "air": ("pm10_ugm3", "pm25_ugm3", "no2_ppb", "o3_ppb", "co_ppm", "temperature_c", "humidity_pct"),
    "noise": ("noise_dba",),
    "traffic": ("vehicle_count", "speed_kmh"),
    "parking": ("parking_occupied", "parking_total"),
    "energy": ("power_kw", "energy_kwh"),
    "water": ("water_level_m",),
    "light": ("light_power_w", "light_on"),
    "footfall": ("footfall_count",),
}


def _gauss(hour: float, peak: float, width: float) -> float:
    return float(np.exp(-0.5 * ((hour - peak) / width) ** 2))


def rush(hour: float, weekend: bool) -> float:
    """Traffic intensity 0..1 over the day (local hour)."""
    if weekend:
        return 0.15 + 0.55 * _gauss(hour, 14.0, 3.5)
    return 0.1 + 0.9 * max(_gauss(hour, 8.0, 1.2), _gauss(hour, 18.0, 1.5)) + 0.35 * _gauss(hour, 13.0, 3.0)


def temperature_c(when: datetime) -> float:
    """City air temperature: a seasonal and a daily cycle (Goyang, late autumn mean ~8 °C)."""
    local = when + KST
    day_of_year = local.timetuple().tm_yday
    hour = local.hour + local.minute / 60
    seasonal = 12.5 - 14.0 * np.cos(2 * np.pi * (day_of_year - 15) / 365.25)
    return float(seasonal + 4.5 * np.sin(2 * np.pi * (hour - 9) / 24))


def sample(
    fleet: pd.DataFrame, when: datetime, *, seed: int, interval_s: float
) -> list[tuple[str, str, dict[str, float]]]:
    """One report per device at ``when``: (device_id, kind, {metric: value}).

    Args:
        fleet: columns ``device_id`` and ``kind``.
        when: aware time of the reports.
        seed: the same seed and time give the same values.
        interval_s: reporting interval; counts scale with it.

    Raises:
        FleetError: a device of a kind the simulator does not know.
    """
    unknown = set(fleet["kind"]) - set(METRICS_BY_KIND)
    if unknown:
        raise FleetError(f"unknown device kinds {sorted(unknown)}; known: {sorted(METRICS_BY_KIND)}")
    when = when.astimezone(UTC)
    step = int(when.timestamp() // max(interval_s, 1e-3))
    rng = np.random.default_rng([seed, step])
    local = when + KST
    hour = local.hour + local.minute / 60 + local.second / 3600
    weekend = local.weekday() >= 5
    traffic = rush(hour, weekend)
    temp = temperature_c(when)
    night = hour < 6.5 or hour > 18.0
    office = (0.35 + 0.65 * _gauss(hour, 14.0, 3.5)) * (0.5 if weekend else 1.0)
    out: list[tuple[str, str, dict[str, float]]] = []
    n = len(fleet)
    noise = rng.standard_normal((n, 8))
    # Per-device constants: derived from the id, so stable across runs and fleets.
    offsets = np.array([(hash_id(d) % 1000) / 1000.0 for d in fleet["device_id"]])
    for i, (device_id, kind) in enumerate(zip(fleet["device_id"], fleet["kind"], strict=True)):
        z = noise[i]
        o = offsets[i]
        values: dict[str, float]
        if kind == "air":
            pm25 = max(1.0, 14 + 16 * traffic + 6 * (1.0 if night else 0.0) + 6 * o + 2.5 * z[0])
            values = {
                "pm10_ugm3": round(pm25 * 1.7 + 3 * z[1], 1),
                "pm25_ugm3": round(pm25, 1),
                "no2_ppb": round(max(1.0, 10 + 28 * traffic + 3 * z[2]), 1),
                "o3_ppb": round(max(1.0, 30 - 12 * traffic + 10 * _gauss(hour, 15, 3) + 3 * z[3]), 1),
                "co_ppm": round(max(0.05, 0.3 + 0.5 * traffic + 0.05 * z[4]), 3),
                "temperature_c": round(temp + 0.8 * o + 0.2 * z[5], 2),
                "humidity_pct": round(float(np.clip(62 - 1.5 * (temp - 8) + 4 * z[6], 5, 100)), 1),
            }
        elif kind == "noise":
            values = {"noise_dba": round(float(np.clip(42 + 28 * traffic + 4 * o + 2 * z[0], 20, 120)), 1)}
        elif kind == "traffic":
            per_min = 5 + 55 * traffic * (0.7 + 0.6 * o)
            count = max(0.0, per_min * interval_s / 60 + np.sqrt(per_min * interval_s / 60 + 1) * z[0])
            values = {
                "vehicle_count": float(round(count)),
                "speed_kmh": round(float(np.clip(62 - 38 * traffic + 4 * z[1], 3, 110)), 1),
            }
        elif kind == "parking":
            total = float(80 + int(o * 400))
            share = np.clip(0.2 + 0.7 * office + 0.05 * z[0], 0, 1)
            values = {"parking_occupied": float(round(total * share)), "parking_total": total}
        elif kind == "energy":
            base_kw = 20 + 180 * o
            power = base_kw * (0.45 + 0.55 * office) * (1 + 0.02 * max(0.0, abs(temp - 18) - 4)) + 2 * z[0]
            power = max(0.5, power)
            # cumulative energy: a smooth function of time, so it never runs backwards
            hours_since_epoch = when.timestamp() / 3600
            values = {
                "power_kw": round(power, 2),
                "energy_kwh": round(base_kw * 0.7 * hours_since_epoch / 1000 + 1e4 * o, 3),
            }
        elif kind == "water":
            values = {"water_level_m": round(0.6 + 0.3 * o + 0.02 * z[0], 3)}
        elif kind == "light":
            on = 1.0 if night else 0.0
            values = {"light_power_w": round(on * (95 + 10 * o + 1.5 * z[0]), 1), "light_on": on}
        else:  # footfall
            visitors = (120 * _gauss(hour, 11, 1.5) + 160 * _gauss(hour, 15, 2)) * (1.4 if weekend else 1.0)
            values = {"footfall_count": float(max(0, round(visitors * interval_s / 3600 + 2 * z[0])))}
        out.append((str(device_id), str(kind), {k: float(v) for k, v in values.items()}))
    return out


def hash_id(device_id: str) -> int:
    """A stable (process-independent) small hash of a device id."""
    h = 2166136261
    for ch in device_id.encode():
        h = ((h ^ ch) * 16777619) & 0xFFFFFFFF
    return h
