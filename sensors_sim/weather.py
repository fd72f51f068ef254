"""The city's shared weather driver: deterministic from (seed, day), vectorised over time.

Rain events (about one day in five) raise stream levels and wash particulates out of
the air; spring yellow-dust episodes (황사, March to May, in three-day blocks) raise PM
at every station at once; temperature follows the season and the hour.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

import numpy as np

KST_OFFSET_S = 9 * 3600
RAIN_DAY_PROBABILITY = 0.22
DUST_BLOCK_PROBABILITY = 0.18


@dataclass(frozen=True)
class DayWeather:
    rain_start_h: float  # local hour the rain starts (KST)
    rain_hours: float  # 0 when it does not rain
    rain_mm_h: float
    dust: bool


@lru_cache(maxsize=4096)
def day_weather(day: date, seed: int) -> DayWeather:
    """The weather of one local day, the same for the same (day, seed)."""
    rng = np.random.default_rng([seed, 101, day.toordinal()])
    rains = rng.random() < RAIN_DAY_PROBABILITY
    start = float(rng.uniform(0, 20))
    hours = float(rng.uniform(2, 9)) if rains else 0.0
    intensity = float(rng.gamma(2.0, 3.0)) if rains else 0.0
    block = np.random.default_rng([seed, 202, day.toordinal() // 3])
    dust = day.month in (3, 4, 5) and bool(block.random() < DUST_BLOCK_PROBABILITY)
    return DayWeather(start, hours, intensity, dust)


def _local(times_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local (KST) day ordinals and hours of epoch seconds."""
    local = times_s + KST_OFFSET_S
    days = np.floor(local / 86400).astype(np.int64)
    hours = (local - days * 86400) / 3600.0
    return days, hours


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_YEAR_ORIGIN_DAYS = date(2000, 1, 1).toordinal() - _EPOCH_ORDINAL


def rain_mm_h(times_s: np.ndarray, seed: int) -> np.ndarray:
    """Rain intensity at each time, mm/h."""
    days, hours = _local(times_s)
    out = np.zeros(len(times_s))
    for d in np.unique(days):
        w = day_weather(date.fromordinal(int(d) + _EPOCH_ORDINAL), seed)
        if w.rain_hours:
            mask = (days == d) & (hours >= w.rain_start_h) & (hours < w.rain_start_h + w.rain_hours)
            out[mask] = w.rain_mm_h
    return out


def rain_last_6h_mm(times_s: np.ndarray, seed: int) -> np.ndarray:
    """Rain fallen over the six hours before each time, mm (stream levels follow it)."""
    total = np.zeros(len(times_s))
    for lag_h in np.arange(0.0, 6.0, 0.5):
        total += 0.5 * rain_mm_h(times_s - lag_h * 3600, seed)
    return total


def dust(times_s: np.ndarray, seed: int) -> np.ndarray:
    """True during a yellow-dust episode."""
    days, _ = _local(times_s)
    out = np.zeros(len(times_s), dtype=bool)
    for d in np.unique(days):
        if day_weather(date.fromordinal(int(d) + _EPOCH_ORDINAL), seed).dust:
            out[days == d] = True
    return out


def temperature_c(times_s: np.ndarray) -> np.ndarray:
    """Air temperature: season and hour (Goyang climate, rounded)."""
    days, hours = _local(times_s)
    # Day of the (local) year from the day itself, so a time gets the same value whatever
    # else is generated with it. 365.2425-day years keep the phase within a day for decades.
    day_of_year = np.mod(days - _YEAR_ORIGIN_DAYS, 365.2425) + 1
    seasonal = 12.5 - 14.0 * np.cos(2 * np.pi * (day_of_year - 15) / 365.25)
    return np.asarray(seasonal + 4.5 * np.sin(2 * np.pi * (hours - 9) / 24))


def epoch_s(when: datetime) -> float:
    return (when - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(seconds=1)
