"""Colours and scales for the map: pure functions of values."""

from __future__ import annotations

import math

from contract.kinds import PRIMARY_METRIC as PRIMARY

# The value at which each kind's primary metric (the contract's) is "high".
HIGH_LEVEL: dict[str, float] = {
    "air": 75.0,  # Korean PM2.5 "very bad" threshold, µg/m³
    "noise": 80.0,
    "traffic": 60.0,
    "parking": 400.0,
    "energy": 200.0,
    "water": 2.0,
    "light": 1.0,
    "footfall": 30.0,
}
# (metric, high level) by kind
PRIMARY_METRIC: dict[str, tuple[str, float]] = {kind: (metric, HIGH_LEVEL[kind]) for kind, metric in PRIMARY.items()}

BUILDING_COLORS: dict[str, list[int]] = {
    "commercial": [96, 140, 210],
    "apartment": [150, 160, 180],
    "residential": [120, 128, 140],
    "public": [80, 200, 170],
    "school": [200, 180, 90],
}


def ramp(share: float) -> list[int]:
    """Green (0) through yellow to red (1), for a share in [0, 1]; grey for missing."""
    if share is None or (isinstance(share, float) and math.isnan(share)):
        return [110, 110, 110, 200]
    s = min(1.0, max(0.0, share))
    if s < 0.5:
        return [int(60 + 390 * s), 200, 80, 230]
    return [255, int(200 - 340 * (s - 0.5)), 60, 230]
