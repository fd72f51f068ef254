"""The one vocabulary of metrics, with units and physical ranges, and unit conversion.

Every reading stored by smartcity uses a metric name from :data:`METRICS`; the unit is
part of the name (``pm25_ugm3``, ``noise_dba``). Foreign payloads are mapped onto these
names at the ingest edge.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ingest.errors import UnitError

# Molar volume of an ideal gas at 25 °C and 1 atm, in litres: ppb = µg/m³ × 24.45 / M.
_MOLAR_VOLUME_L = 24.45


@dataclass(frozen=True, slots=True)
class Metric:
    """A measured quantity: its canonical unit and the range a working sensor can report."""

    name: str
    unit: str
    min_value: float
    max_value: float
    description: str
    # Other units accepted on input, each with the function to the canonical unit.
    conversions: dict[str, Callable[[float], float]] = field(default_factory=dict)


def _gas(molar_mass_g: float, canonical: str) -> dict[str, Callable[[float], float]]:
    """Conversions for a gas whose canonical unit is ``ppb`` or ``ppm``."""
    if canonical == "ppb":
        return {
            "ppm": lambda v: v * 1000.0,
            "ug/m3": lambda v: v * _MOLAR_VOLUME_L / molar_mass_g,
            "mg/m3": lambda v: v * 1000.0 * _MOLAR_VOLUME_L / molar_mass_g,
        }
    return {
        "ppb": lambda v: v / 1000.0,
        "ug/m3": lambda v: v * _MOLAR_VOLUME_L / molar_mass_g / 1000.0,
        "mg/m3": lambda v: v * _MOLAR_VOLUME_L / molar_mass_g,
    }


_PARTICLES = {"mg/m3": lambda v: v * 1000.0}
_PERCENT = {"fraction": lambda v: v * 100.0, "/": lambda v: v * 100.0}

METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("pm10_ugm3", "ug/m3", 0, 2000, "particulate matter under 10 µm", _PARTICLES),
        Metric("pm25_ugm3", "ug/m3", 0, 1000, "particulate matter under 2.5 µm", _PARTICLES),
        Metric("no2_ppb", "ppb", 0, 2000, "nitrogen dioxide", _gas(46.0055, "ppb")),
        Metric("o3_ppb", "ppb", 0, 1000, "ozone", _gas(47.997, "ppb")),
        Metric("so2_ppb", "ppb", 0, 2000, "sulphur dioxide", _gas(64.066, "ppb")),
        Metric("co_ppm", "ppm", 0, 1000, "carbon monoxide", _gas(28.010, "ppm")),
        Metric("co2_ppm", "ppm", 0, 50000, "carbon dioxide", {"ppb": lambda v: v / 1000.0}),
        Metric(
            "temperature_c",
            "Cel",
            -60,
            80,
            "air temperature",
            {"K": lambda v: v - 273.15, "degF": lambda v: (v - 32.0) * 5.0 / 9.0},
        ),
        Metric("humidity_pct", "%RH", 0, 100, "relative humidity", {"%": lambda v: v, **_PERCENT}),
        Metric("noise_dba", "dBA", 0, 150, "A-weighted sound level", {"dB": lambda v: v}),
        Metric("vehicle_count", "count", 0, 100000, "vehicles passing in the reporting interval"),
        Metric("speed_kmh", "km/h", 0, 300, "mean vehicle speed", {"m/s": lambda v: v * 3.6}),
        Metric("occupancy_pct", "%", 0, 100, "share of time a detector is occupied", _PERCENT),
        Metric("parking_occupied", "count", 0, 100000, "occupied parking spaces"),
        Metric("parking_total", "count", 0, 100000, "parking spaces in service"),
        Metric(
            "power_kw", "kW", -100000, 100000, "electric power", {"W": lambda v: v / 1000.0, "MW": lambda v: v * 1000.0}
        ),
        Metric(
            "energy_kwh",
            "kWh",
            0,
            1e12,
            "cumulative electric energy",
            {"Wh": lambda v: v / 1000.0, "MWh": lambda v: v * 1000.0, "J": lambda v: v / 3.6e6},
        ),
        Metric("water_level_m", "m", -20, 100, "stream water level above gauge zero", {"cm": lambda v: v / 100.0}),
        Metric("light_power_w", "W", 0, 10000, "street light power", {"kW": lambda v: v * 1000.0}),
        Metric("light_on", "bool", 0, 1, "street light switched on (1) or off (0)"),
        Metric("footfall_count", "count", 0, 1000000, "people counted in the reporting interval"),
        Metric("voltage_v", "V", 0, 100000, "electric potential", {"kV": lambda v: v * 1000.0}),
        Metric("current_a", "A", -100000, 100000, "electric current", {"mA": lambda v: v / 1000.0}),
        Metric("battery_pct", "%EL", 0, 100, "remaining battery", {"%": lambda v: v}),
    ]
}


def to_canonical(metric: Metric, value: float, unit: str | None) -> float:
    """``value`` in ``unit`` expressed in the metric's canonical unit.

    Raises:
        UnitError: the unit is neither canonical nor convertible.
    """
    if unit is None or unit == metric.unit:
        return value
    convert = metric.conversions.get(unit)
    if convert is None:
        accepted = ", ".join([metric.unit, *metric.conversions])
        raise UnitError(f"unit {unit!r} cannot be converted to {metric.name} ({metric.unit}); accepted: {accepted}")
    return convert(value)
