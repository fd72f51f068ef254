"""The metrics smartcity stores: one name per quantity, the unit in the name, and the
range a working sensor can report. Every part reads this table; none keeps its own."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Metric:
    """A measured quantity: its canonical unit and the range a working sensor can report."""

    name: str
    unit: str
    min_value: float
    max_value: float
    description: str


METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("pm10_ugm3", "ug/m3", 0, 2000, "particulate matter under 10 µm"),
        Metric("pm25_ugm3", "ug/m3", 0, 1000, "particulate matter under 2.5 µm"),
        Metric("no2_ppb", "ppb", 0, 2000, "nitrogen dioxide"),
        Metric("o3_ppb", "ppb", 0, 1000, "ozone"),
        Metric("so2_ppb", "ppb", 0, 2000, "sulphur dioxide"),
        Metric("co_ppm", "ppm", 0, 1000, "carbon monoxide"),
        Metric("co2_ppm", "ppm", 0, 50000, "carbon dioxide"),
        Metric("temperature_c", "Cel", -60, 80, "air temperature"),
        Metric("humidity_pct", "%RH", 0, 100, "relative humidity"),
        Metric("noise_dba", "dBA", 0, 150, "A-weighted sound level"),
        Metric("vehicle_count", "count", 0, 100000, "vehicles passing in the reporting interval"),
        Metric("speed_kmh", "km/h", 0, 300, "mean vehicle speed"),
        Metric("occupancy_pct", "%", 0, 100, "share of time a detector is occupied"),
        Metric("parking_occupied", "count", 0, 100000, "occupied parking spaces"),
        Metric("parking_total", "count", 0, 100000, "parking spaces in service"),
        Metric("power_kw", "kW", -100000, 100000, "electric power"),
        Metric("energy_kwh", "kWh", 0, 1e12, "cumulative electric energy"),
        Metric("water_level_m", "m", -20, 100, "stream water level above gauge zero"),
        Metric("light_power_w", "W", 0, 10000, "street light power"),
        Metric("light_on", "bool", 0, 1, "street light switched on (1) or off (0)"),
        Metric("footfall_count", "count", 0, 1000000, "people counted in the reporting interval"),
        Metric("voltage_v", "V", 0, 100000, "electric potential"),
        Metric("current_a", "A", -100000, 100000, "electric current"),
        Metric("battery_pct", "%EL", 0, 100, "remaining battery"),
    ]
}

# Where a simulated fault stays: odd, but what a working sensor can report (inside the
# ranges above, which a test checks), so ingest stores it and analytics sees it.
FAULT_BOUNDS: dict[str, tuple[float, float]] = {
    "pm25_ugm3": (0.0, 900.0),
    "pm10_ugm3": (0.0, 1800.0),
    "no2_ppb": (0.0, 1800.0),
    "noise_dba": (20.0, 140.0),
    "vehicle_count": (0.0, 90000.0),
    "speed_kmh": (0.0, 250.0),
    "parking_occupied": (0.0, 90000.0),
    "power_kw": (0.0, 90000.0),
    "water_level_m": (0.0, 45.0),
    "light_power_w": (0.0, 9000.0),
    "footfall_count": (0.0, 90000.0),
}
