"""One live report per device: the simulator's signals at one moment, with the planned
anomalies in force applied. Its own module so that ``signals`` and ``anomalies`` (which
builds on ``signals``) never import each other."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from sensors_sim import anomalies, weather
from sensors_sim import scenarios as scenarios_
from sensors_sim.signals import generate

__all__ = ["sample"]


def sample(
    fleet: pd.DataFrame,
    when: datetime,
    *,
    seed: int,
    interval_s: float,
    scenarios: Sequence[scenarios_.Active] = (),
    truth: pd.DataFrame | None = None,
) -> list[tuple[str, str, dict[str, float]]]:
    """One report per device at ``when``: (device_id, kind, {metric: value}), in fleet order.

    With ``truth`` (planned anomalies, see ``anomalies.plan``), the anomalies in force at
    ``when`` are applied; a dropped-out metric is left out of its device's report.
    """
    times_s = np.array([weather.epoch_s(when.astimezone(UTC))])
    blocks = generate(fleet, times_s, seed=seed, interval_s=interval_s, scenarios=scenarios)
    if truth is not None and not truth.empty:
        anomalies.apply(blocks, times_s, truth, seed=seed, interval_s=interval_s)
    by_device: dict[str, tuple[str, dict[str, float]]] = {}
    for block in blocks:
        for i, device_id in enumerate(block.device_ids):
            by_device[device_id] = (
                block.kind,
                {m: float(v[i, 0]) for m, v in block.values.items() if not np.isnan(v[i, 0])},
            )
    return [(str(d), *by_device[str(d)]) for d in fleet["device_id"]]
