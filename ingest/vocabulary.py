"""Unit conversion onto the contract's vocabulary (:data:`contract.vocabulary.METRICS`).

Every reading stored by smartcity uses a metric name from the contract; the unit is part
of the name (``pm25_ugm3``, ``noise_dba``). Foreign payloads are mapped onto these names
and units here, at the ingest edge.
"""

from __future__ import annotations

from collections.abc import Callable

from contract.vocabulary import METRICS, Metric
from ingest.errors import UnitError

__all__ = ["CONVERSIONS", "METRICS", "Metric", "to_canonical"]

# Molar volume of an ideal gas at 25 °C and 1 atm, in litres: ppb = µg/m³ × 24.45 / M.
_MOLAR_VOLUME_L = 24.45


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

# Units accepted on input besides each metric's own (the contract's), with the function
# to the canonical unit: foreign units are mapped here, at the ingest edge.
CONVERSIONS: dict[str, dict[str, Callable[[float], float]]] = {
    "pm10_ugm3": _PARTICLES,
    "pm25_ugm3": _PARTICLES,
    "no2_ppb": _gas(46.0055, "ppb"),
    "o3_ppb": _gas(47.997, "ppb"),
    "so2_ppb": _gas(64.066, "ppb"),
    "co_ppm": _gas(28.010, "ppm"),
    "co2_ppm": {"ppb": lambda v: v / 1000.0},
    "temperature_c": {"K": lambda v: v - 273.15, "degF": lambda v: (v - 32.0) * 5.0 / 9.0},
    "humidity_pct": {"%": lambda v: v, **_PERCENT},
    "noise_dba": {"dB": lambda v: v},
    "speed_kmh": {"m/s": lambda v: v * 3.6},
    "occupancy_pct": _PERCENT,
    "power_kw": {"W": lambda v: v / 1000.0, "MW": lambda v: v * 1000.0},
    "energy_kwh": {"Wh": lambda v: v / 1000.0, "MWh": lambda v: v * 1000.0, "J": lambda v: v / 3.6e6},
    "water_level_m": {"cm": lambda v: v / 100.0},
    "light_power_w": {"kW": lambda v: v * 1000.0},
    "voltage_v": {"kV": lambda v: v * 1000.0},
    "current_a": {"mA": lambda v: v / 1000.0},
    "battery_pct": {"%": lambda v: v},
}


def to_canonical(metric: Metric, value: float, unit: str | None) -> float:
    """``value`` in ``unit`` expressed in the metric's canonical unit.

    Raises:
        UnitError: the unit is neither canonical nor convertible.
    """
    if unit is None or unit == metric.unit:
        return value
    conversions = CONVERSIONS.get(metric.name, {})
    convert = conversions.get(unit)
    if convert is None:
        accepted = ", ".join([metric.unit, *conversions])
        raise UnitError(f"unit {unit!r} cannot be converted to {metric.name} ({metric.unit}); accepted: {accepted}")
    return convert(value)
