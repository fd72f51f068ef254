"""The map's sky and light by the city's clock: where the sun is, and what that looks like.

Pure functions of a time and a place. The sun's position is NOAA's general solar position
approximation (fractional-year series for the equation of time and the declination, good to
a fraction of a degree, plenty for lighting a map); the look blends a night, a twilight and
a day palette by the sun's elevation, so the city dims through dusk instead of switching.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

__all__ = ["parse_clock", "sensor_glow", "sky", "sun_position"]

TWILIGHT_DEG = 6.0  # civil twilight: the sun up to 6° below the horizon still lights the sky


@dataclass(frozen=True)
class _Palette:
    background: tuple[int, int, int]
    ambient: tuple[int, int, int]
    ambient_intensity: float


_NIGHT = _Palette((10, 14, 28), (185, 195, 230), 0.55)
_DUSK = _Palette((74, 70, 100), (235, 200, 215), 0.75)
_DAY = _Palette((196, 204, 210), (255, 255, 255), 0.9)


def sun_position(when: datetime, lat_deg: float, lon_deg: float) -> tuple[float, float]:
    """The sun's elevation above the horizon and its azimuth clockwise from north, in degrees,
    seen from ``lat_deg``/``lon_deg`` at ``when`` (aware; a naive time is taken as UTC)."""
    t = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    hour = t.hour + t.minute / 60 + t.second / 3600
    days = 366 if (t.year % 4 == 0 and t.year % 100 != 0) or t.year % 400 == 0 else 365
    g = 2 * math.pi / days * (t.timetuple().tm_yday - 1 + (hour - 12) / 24)
    eq_time_min = 229.18 * (
        0.000075
        + 0.001868 * math.cos(g)
        - 0.032077 * math.sin(g)
        - 0.014615 * math.cos(2 * g)
        - 0.040849 * math.sin(2 * g)
    )
    decl = (
        0.006918 - 0.399912 * math.cos(g) + 0.070257 * math.sin(g) - 0.006758 * math.cos(2 * g)
        + 0.000907 * math.sin(2 * g) - 0.002697 * math.cos(3 * g) + 0.00148 * math.sin(3 * g)
    )  # fmt: skip
    solar_min = hour * 60 + eq_time_min + 4 * lon_deg
    hour_angle = math.radians(solar_min / 4 - 180)
    lat = math.radians(lat_deg)
    cos_zenith = math.sin(lat) * math.sin(decl) + math.cos(lat) * math.cos(decl) * math.cos(hour_angle)
    elevation = 90 - math.degrees(math.acos(max(-1.0, min(1.0, cos_zenith))))
    azimuth = math.degrees(
        math.atan2(math.sin(hour_angle), math.cos(hour_angle) * math.sin(lat) - math.tan(decl) * math.cos(lat))
    )
    return elevation, (azimuth + 180) % 360


def _mix(a: tuple[int, ...], b: tuple[int, ...], share: float) -> list[int]:
    return [round(x + (y - x) * share) for x, y in zip(a, b, strict=True)]


def sky(when: datetime, lat_deg: float, lon_deg: float) -> dict[str, Any]:
    """The map's look at ``when``: ``phase`` (day, twilight or night), the sun, the
    ``background`` colour behind the city (its ground, seen from above) and deck.gl's ``light``
    (ambient and sun)."""
    elevation, azimuth = sun_position(when, lat_deg, lon_deg)
    # 0 at night (6° below the horizon and lower), 0.5 at sunrise or sunset, 1 by day (6° up)
    share = min(1.0, max(0.0, (elevation + TWILIGHT_DEG) / (2 * TWILIGHT_DEG)))
    low, high, part = (_NIGHT, _DUSK, share * 2) if share < 0.5 else (_DUSK, _DAY, share * 2 - 1)
    phase = "night" if share == 0 else "day" if share == 1 else "twilight"
    ambient = {
        "color": _mix(low.ambient, high.ambient, part),
        "intensity": round(low.ambient_intensity + (high.ambient_intensity - low.ambient_intensity) * part, 3),
    }
    light: dict[str, Any] = {"ambient": ambient}
    az, el = math.radians(azimuth), math.radians(max(elevation, 0.0))
    if elevation > 0:
        warm = min(1.0, elevation / 20)  # a low sun is orange, a high one white
        light["sun"] = {
            "color": _mix((255, 160, 90), (255, 250, 240), warm),
            "intensity": round(0.6 + 1.4 * math.sin(el), 3),
            # the way the light travels (x east, y north, z up): away from the sun, downwards
            "direction": [round(-math.sin(az) * math.cos(el), 4), round(-math.cos(az) * math.cos(el), 4),
                          round(-max(math.sin(el), 0.05), 4)],
        }  # fmt: skip
    else:  # moonlight of a sort: a weak cool light from high in the south, so shapes still read
        light["sun"] = {"color": [140, 160, 220], "intensity": 0.5, "direction": [0.2, 0.5, -1.0]}
    return {
        "phase": phase,
        "sun_elevation_deg": round(elevation, 2),
        "sun_azimuth_deg": round(azimuth, 2),
        "background": _mix(low.background, high.background, part),
        "light": light,
    }


def sensor_glow(look: dict[str, Any] | None) -> float:
    """The ambient response that keeps a sensor's colour as bright under ``look``'s light as by
    day (the inverse of the ambient intensity, at most 2)."""
    if not look:
        return 1.0
    intensity = float(look["light"]["ambient"]["intensity"])
    return min(2.0, 1.0 / max(intensity, 0.5))


_CLOCK = re.compile(r"([0-9]{1,2}):([0-9]{2})")  # ASCII digits: int() would read others too


def parse_clock(text: str | None, timezone: str, today: datetime | None = None) -> datetime | None:
    """``HH:MM`` (a URL's ``?sky=`` preview) as that time today in the city's ``timezone``;
    None for anything else, so a bad value shows the sky of now."""
    found = _CLOCK.fullmatch((text or "").strip())
    if not found:
        return None
    hours, minutes = int(found.group(1)), int(found.group(2))
    if hours > 23 or minutes > 59:
        return None
    zone = ZoneInfo(timezone)
    day = (today or datetime.now(UTC)).astimezone(zone).date()
    return datetime.combine(day, time(hours, minutes), tzinfo=zone)
