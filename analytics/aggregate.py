"""Series of groups of devices (a district, a building) from their devices' series: pure.

A group's series is named like a device (``district:goyang``, ``building:B-17``) so it is
forecast, stored and read the same way. Counts, power and energy add up over a group's
devices; concentrations, temperatures, levels and speeds are averaged.
"""

from __future__ import annotations

import pandas as pd

ADDITIVE_METRICS = frozenset(
    {
        "vehicle_count",
        "footfall_count",
        "parking_occupied",
        "parking_total",
        "power_kw",
        "energy_kwh",
        "light_power_w",
        "current_a",
    }
)
GROUP_COLUMNS = ["device_id", "group"]


def memberships(devices: pd.DataFrame) -> pd.DataFrame:
    """(device_id, group) pairs from rows of (device_id, district, building_id): every device
    belongs to its district's group and, when it has one, to its building's."""
    districts = pd.DataFrame(
        {"device_id": devices["device_id"], "group": "district:" + devices["district"].astype(str)}
    )
    placed = devices[devices["building_id"].notna()]
    buildings = pd.DataFrame(
        {"device_id": placed["device_id"], "group": "building:" + placed["building_id"].astype(str)}
    )
    return pd.concat([districts, buildings], ignore_index=True)[GROUP_COLUMNS]


def aggregate(rows: pd.DataFrame, groups: pd.DataFrame, *, min_devices: int = 2) -> pd.DataFrame:
    """Bucketed rows (device_id, metric, bucket, value) of each group and metric.

    Each bucket's value is the mean over the group's devices that reported in it; for an
    additive metric it is that mean times the number of the group's devices with the
    metric, so a device that missed an hour counts at its peers' mean rather than as zero
    (a gap is not a drop in the district's traffic). Groups with fewer than
    ``min_devices`` devices of a metric are left out: a building with one meter has its
    meter's forecast.
    """
    columns = ["device_id", "metric", "bucket", "value"]
    joined = rows[columns].merge(groups, on="device_id")
    if joined.empty:
        return pd.DataFrame(columns=columns)
    size = joined.groupby(["group", "metric"])["device_id"].nunique().rename("devices").reset_index()
    size = size[size["devices"] >= min_devices]
    mean = joined.groupby(["group", "metric", "bucket"], as_index=False)["value"].mean()
    out = mean.merge(size, on=["group", "metric"])
    additive = out["metric"].isin(ADDITIVE_METRICS)
    out.loc[additive, "value"] = out.loc[additive, "value"] * out.loc[additive, "devices"]
    out = out.rename(columns={"group": "device_id"})[columns]
    ordered: pd.DataFrame = out.sort_values(["device_id", "metric", "bucket"], ignore_index=True)
    return ordered
