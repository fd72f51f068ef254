"""What each kind of device measures: pure, vectorised over devices and times, deterministic.

Shapes follow a real district: traffic and noise peak in the 08:00 and 18:00 rush
hours, fall at night, on weekends and on Korean public holidays; PM rises with traffic,
with a spatial field shared by nearby stations, with yellow dust over the whole city,
and falls in rain; stream levels follow the last hours of rain; energy follows office
hours and temperature; street lights run at night. Every metric name and unit is from
the project vocabulary.

Noise comes from a counter-based hash of (seed, device, time step, channel), so a value
is the same whether a day is generated at once (backfill) or step by step (live).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from contract.kinds import METRICS_BY_KIND
from sensors_sim import scenarios as scenarios_
from sensors_sim import weather
from sensors_sim.calendar import is_day_off
from sensors_sim.errors import FleetError


def fleet_of_every_kind(per_kind: int, prefix: str = "") -> pd.DataFrame:
    """``per_kind`` devices of every kind, named ``<kind>-<prefix><i>``: the analytics
    benchmark's scored scenario (``sim backfill --per-kind``), away from any district."""
    kinds = sorted(METRICS_BY_KIND)
    return pd.DataFrame(
        {
            "device_id": [f"{k}-{prefix}{i}" for k in kinds for i in range(per_kind)],
            "kind": [k for k in kinds for _ in range(per_kind)],
        }
    )


# Goyang Smart City Center area, for positions in km when the fleet has coordinates.
_CENTER_LON, _CENTER_LAT = 126.83, 37.65
_KM_PER_DEG_LAT = 111.0
_KM_PER_DEG_LON = 88.0


@dataclass(frozen=True)
class Block:
    """Generated values of one kind: device ids and metric -> array (devices x times)."""

    kind: str
    device_ids: list[str]
    values: dict[str, np.ndarray]


def hash_id(device_id: str) -> int:
    """A stable (process-independent) 32-bit hash of a device id (FNV-1a)."""
    h = 2166136261
    for ch in device_id.encode():
        h = ((h ^ ch) * 16777619) & 0xFFFFFFFF
    return h


def _mix(x: np.ndarray) -> np.ndarray:
    # splitmix64 finaliser on uint64 arrays (wrapping arithmetic is intended)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return np.asarray(x ^ (x >> np.uint64(31)))


def normal(device_hashes: np.ndarray, steps: np.ndarray, channel: int, seed: int) -> np.ndarray:
    """Standard normal noise (devices x steps), a pure function of its arguments."""
    with np.errstate(over="ignore"):
        base = device_hashes.astype(np.uint64)[:, None] * np.uint64(0x9E3779B97F4A7C15)
        key = base + steps.astype(np.uint64)[None, :] * np.uint64(0xD1B54A32D192ED03)
        key = key + np.uint64((seed * 1_000_003 + channel * 7919) & 0xFFFFFFFF)
        a = _mix(key)
        b = _mix(a ^ np.uint64(0xA5A5A5A5A5A5A5A5))
    u1 = ((a >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)
    u2 = ((b >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)
    return np.asarray(np.sqrt(-2.0 * np.log(u1)) * np.cos(2 * np.pi * u2))


def _gauss(hours: np.ndarray, peak: float, width: float) -> np.ndarray:
    return np.asarray(np.exp(-0.5 * ((hours - peak) / width) ** 2))


def rush(hours: np.ndarray, day_off: np.ndarray) -> np.ndarray:
    """Traffic intensity 0..1 by local hour, for working days and days off."""
    work = 0.1 + 0.9 * np.maximum(_gauss(hours, 8.0, 1.2), _gauss(hours, 18.0, 1.5)) + 0.35 * _gauss(hours, 13.0, 3.0)
    rest = 0.15 + 0.55 * _gauss(hours, 14.0, 3.5)
    return np.where(day_off, rest, work)


def generate(
    fleet: pd.DataFrame,
    times_s: np.ndarray,
    *,
    seed: int,
    interval_s: float,
    scenarios: Sequence[scenarios_.Active] = (),
) -> list[Block]:
    """Values of every device at every time.

    Args:
        fleet: ``device_id`` and ``kind``; ``lon_deg``/``lat_deg`` when known (spatial field).
        times_s: epoch seconds (UTC), ascending.
        seed: the same seed gives the same values.
        interval_s: the reporting interval; counts scale with it.
        scenarios: named scenarios overriding the shared drivers in their windows.

    Raises:
        FleetError: a device of a kind the simulator does not know.
    """
    unknown = set(fleet["kind"]) - set(METRICS_BY_KIND)
    if unknown:
        raise FleetError(f"unknown device kinds {sorted(unknown)}; known: {sorted(METRICS_BY_KIND)}")
    times_s = np.asarray(times_s, dtype=np.float64)
    steps = np.floor(times_s / max(interval_s, 1e-3)).astype(np.int64)
    local = times_s + weather.KST_OFFSET_S
    hours = (local % 86400) / 3600.0
    day_ordinals = np.floor(local / 86400).astype(np.int64) + date(1970, 1, 1).toordinal()
    off_by_day = {int(d): is_day_off(date.fromordinal(int(d))) for d in np.unique(day_ordinals)}
    day_off = np.array([off_by_day[int(d)] for d in day_ordinals])
    drivers = scenarios_.Drivers(
        traffic=rush(hours, day_off),
        temperature_c=weather.temperature_c(times_s),
        rain_mm_h=weather.rain_mm_h(times_s, seed),
        rain_last_6h_mm=weather.rain_last_6h_mm(times_s, seed),
        dust=weather.dust(times_s, seed),
    )
    if scenarios:
        drivers = scenarios_.apply(drivers, times_s, scenarios)
    traffic, temp, rain = drivers.traffic, drivers.temperature_c, drivers.rain_mm_h
    rain6, dusty = drivers.rain_last_6h_mm, drivers.dust
    night = (hours < 6.5) | (hours > 18.0)
    office = (0.35 + 0.65 * _gauss(hours, 14.0, 3.5)) * np.where(day_off, 0.5, 1.0)
    blocks = []
    for kind, group in fleet.groupby("kind", sort=True):
        ids = [str(d) for d in group["device_id"]]
        hashes = np.array([hash_id(d) for d in ids], dtype=np.uint64)
        o = ((hashes % np.uint64(1000)).astype(np.float64) / 1000.0)[:, None]

        def z(channel: int, hashes: np.ndarray = hashes) -> np.ndarray:
            return normal(hashes, steps, channel, seed)

        values = _kind_values(
            str(kind), group, o=o, noise=z, hours=hours, traffic=traffic, temp=temp, rain=rain, rain6=rain6,
            dusty=dusty, night=night, office=office, interval_s=interval_s, times_s=times_s,
        )  # fmt: skip
        blocks.append(Block(str(kind), ids, {m: np.asarray(v, dtype=np.float64) for m, v in values.items()}))
    return blocks


def _positions_km(group: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    if {"lon_deg", "lat_deg"} <= set(group.columns):
        x = (group["lon_deg"].astype(float).to_numpy() - _CENTER_LON) * _KM_PER_DEG_LON
        y = (group["lat_deg"].astype(float).to_numpy() - _CENTER_LAT) * _KM_PER_DEG_LAT
        return np.nan_to_num(x)[:, None], np.nan_to_num(y)[:, None]
    zeros = np.zeros((len(group), 1))
    return zeros, zeros


def _kind_values(
    kind: str,
    group: pd.DataFrame,
    *,
    o: np.ndarray,
    noise: Callable[[int], np.ndarray],
    hours: np.ndarray,
    traffic: np.ndarray,
    temp: np.ndarray,
    rain: np.ndarray,
    rain6: np.ndarray,
    dusty: np.ndarray,
    night: np.ndarray,
    office: np.ndarray,
    interval_s: float,
    times_s: np.ndarray,
) -> dict[str, np.ndarray]:
    t_h = times_s / 3600.0
    if kind == "air":
        x, y = _positions_km(group)
        # A smooth field drifting over the district: nearby stations see the same air.
        field = np.sin(0.55 * x + 0.08 * t_h) + np.cos(0.45 * y - 0.06 * t_h)
        washout = 1.0 / (1.0 + 0.25 * rain)
        pm25 = (14 + 16 * traffic + 6 * night + 5 * field + 3 * o) * washout
        pm25 = np.where(dusty, pm25 * 2.5 + 25, pm25) + 1.5 * noise(0)
        pm25 = np.maximum(1.0, pm25)
        pm10 = np.where(dusty, pm25 * 3.2, pm25 * 1.7) + 3 * noise(1)
        return {
            "pm10_ugm3": np.round(np.maximum(1.0, pm10), 1),
            "pm25_ugm3": np.round(pm25, 1),
            "no2_ppb": np.round(np.maximum(1.0, 10 + 28 * traffic + 3 * noise(2)), 1),
            "o3_ppb": np.round(np.maximum(1.0, 30 - 12 * traffic + 10 * _gauss(hours, 15, 3) + 3 * noise(3)), 1),
            "co_ppm": np.round(np.maximum(0.05, 0.3 + 0.5 * traffic + 0.05 * noise(4)), 3),
            "temperature_c": np.round(temp + 0.8 * o + 0.2 * noise(5), 2),
            "humidity_pct": np.round(np.clip(62 - 1.5 * (temp - 8) + 25 * (rain > 0) + 4 * noise(6), 5, 100), 1),
        }
    if kind == "noise":
        return {"noise_dba": np.round(np.clip(42 + 28 * traffic + 4 * o + 2 * noise(0), 20, 120), 1)}
    if kind == "traffic":
        per_min = 5 + 55 * traffic * (0.7 + 0.6 * o)
        expected = per_min * interval_s / 60
        count = np.maximum(0.0, expected + np.sqrt(expected + 1) * noise(0))
        return {
            "vehicle_count": np.round(count),
            "speed_kmh": np.round(np.clip(62 - 38 * traffic - 3 * (rain > 0) + 4 * noise(1), 3, 110), 1),
        }
    if kind == "parking":
        total = np.floor(80 + o * 400) * np.ones_like(traffic)
        share = np.clip(0.2 + 0.7 * office + 0.05 * noise(0), 0, 1)
        return {"parking_occupied": np.round(total * share), "parking_total": total}
    if kind == "energy":
        base_kw = 20 + 180 * o
        power = base_kw * (0.45 + 0.55 * office) * (1 + 0.02 * np.maximum(0.0, np.abs(temp - 18) - 4)) + 2 * noise(0)
        return {
            "power_kw": np.round(np.maximum(0.5, power), 2),
            # cumulative: a smooth function of time, so it never runs backwards
            "energy_kwh": np.round(base_kw * 0.7 * t_h / 1000 + 1e4 * o, 3),
        }
    if kind == "water":
        return {"water_level_m": np.round(0.6 + 0.3 * o + 0.06 * rain6 + 0.02 * noise(0), 3)}
    if kind == "light":
        on = night.astype(float) * np.ones_like(o)
        return {"light_power_w": np.round(on * (95 + 10 * o + 1.5 * noise(0)), 1), "light_on": on}
    visitors = 120 * _gauss(hours, 11, 1.5) + 160 * _gauss(hours, 15, 2)
    return {"footfall_count": np.maximum(0.0, np.round(visitors * interval_s / 3600 + 2 * noise(0)))}
