"""The kinds of city device and the metrics each reports."""

from __future__ import annotations

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
KINDS: tuple[str, ...] = tuple(sorted(METRICS_BY_KIND))

# The metric that stands for each kind (the map's colour, the wall's headline).
PRIMARY_METRIC: dict[str, str] = {
    "air": "pm25_ugm3",
    "noise": "noise_dba",
    "traffic": "vehicle_count",
    "parking": "parking_occupied",
    "energy": "power_kw",
    "water": "water_level_m",
    "light": "light_on",
    "footfall": "footfall_count",
}
# Metrics whose values can go wrong (cumulative counters, capacities and switches are left alone).
VARIABLE_METRICS_BY_KIND: dict[str, tuple[str, ...]] = {
    "air": ("pm25_ugm3", "pm10_ugm3", "no2_ppb"),
    "noise": ("noise_dba",),
    "traffic": ("vehicle_count", "speed_kmh"),
    "parking": ("parking_occupied",),
    "energy": ("power_kw",),
    "water": ("water_level_m",),
    "light": ("light_power_w",),
    "footfall": ("footfall_count",),
}
