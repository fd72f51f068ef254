"""Checks on real labelled data: NAB's traffic windows and the UCI air-quality series.

Readers for the two formats (the shipped copies live in ``tests/data/series``) and
the two checks the issue names: window recall and false alarms per week on NAB
realTraffic, and forecast MASE against seasonal naive on UCI's hourly pollutants.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analytics import score
from analytics.csvfile import read_series, steps_per_day
from analytics.detect import detect
from analytics.evaluate import holdout

UCI_SERIES = ("CO_GT", "NOx_GT", "NO2_GT", "C6H6_GT", "T", "RH")


@dataclass(frozen=True)
class NabResult:
    windows: int
    found: int
    false_alarms: int
    weeks: float

    @property
    def window_recall(self) -> float:
        return self.found / self.windows if self.windows else float("nan")

    @property
    def false_alarms_per_week(self) -> float:
        return self.false_alarms / self.weeks if self.weeks else float("nan")


def nab_traffic(folder: Path) -> NabResult:
    """Detect on every realTraffic series; a window is found when an episode starts inside it."""
    return nab(folder, folder / "combined_windows_realTraffic.json")


def nab(folder: Path, windows_file: Path, *, category: str = "") -> NabResult:
    """Detect on every series of ``folder`` that ``windows_file`` (NAB's combined windows)
    labels; a window is found when an episode starts inside it, an episode starting
    outside every window is a false alarm. ``category``: the key prefix in the windows
    file (``realTraffic``), or any.

    Dropouts are left out: NAB's labels are about the values, and its stamps are irregular.
    NAB's times and labels are naive and share one clock, read here as UTC.
    """
    windows = score.windows_from_labels(
        {k: v for k, v in json.loads(windows_file.read_text()).items() if k.startswith(category)}
    )
    total = found = false_alarms = 0
    weeks = 0.0
    for name, spans in sorted(windows.items()):
        if not (folder / name).exists():
            continue
        series = read_series(folder / name, timezone="UTC")
        # NAB's probationary period: the first 15% of a file (at most 750 rows) is for learning
        # and is not scored
        learnt = series.index[min(int(0.15 * len(series)), 750)]
        episodes = detect(series, steps_per_day=steps_per_day(series))
        starts = [e.start for e in episodes if e.kind != "dropout" and e.start >= learnt]
        scored = [(a.tz_localize("UTC"), b.tz_localize("UTC")) for a, b in spans if b.tz_localize("UTC") >= learnt]
        hit, false = score.window_recall(starts, scored)
        total, found, false_alarms = total + len(scored), found + hit, false_alarms + false
        weeks += (series.index[-1] - learnt) / pd.Timedelta(days=7)
    return NabResult(total, found, false_alarms, weeks)


def read_uci(path: Path) -> pd.DataFrame:
    """The UCI file as an hourly frame; its -200 (missing) become NaN."""
    frame = pd.read_csv(path)
    times = pd.to_datetime(frame["Date"] + " " + frame["Time"], format="%d/%m/%Y %H:%M:%S", errors="coerce")
    frame = frame.loc[times.notna().to_numpy()].set_index(pd.DatetimeIndex(times.dropna()))
    values = frame[list(UCI_SERIES)].apply(pd.to_numeric, errors="coerce").where(lambda v: v != -200)
    hourly: pd.DataFrame = values.resample("1h").mean()
    return hourly


def uci_mase(path: Path, *, origins: int = 12, history_days: int = 28, horizon_steps: int = 24) -> float:
    """Median MASE (against seasonal naive) of day-ahead forecasts from ``origins`` dates spread
    over the year, on every UCI series with a complete day to forecast."""
    frame = read_uci(path)
    need = history_days * 24
    points = np.linspace(need, len(frame) - horizon_steps, origins).astype(int)
    results = []
    for column in UCI_SERIES:
        series = frame[column]
        for origin in points:
            if series.iloc[origin - need : origin].isna().mean() > 0.2:
                continue
            held = holdout(
                series.iloc[origin - need : origin + horizon_steps], horizon_steps=horizon_steps, season_steps=24
            )
            if held is not None and np.isfinite(held["mase"]):
                results.append(held["mase"])
    return float(np.median(results)) if results else float("nan")


# -- the real series for forecast backtests (``bench/analytics.py``, ``../shared/data/series``) ---------
def read_beijing(path: Path, column: str = "PM2.5") -> pd.Series:
    """One Beijing multi-site station's hourly ``column``; the time is written in parts
    (``year, month, day, hour``, Beijing time, UTC+8 without DST)."""
    frame = pd.read_csv(path)
    times = pd.to_datetime(frame[["year", "month", "day", "hour"]]) - pd.Timedelta(hours=8)
    series = pd.Series(pd.to_numeric(frame[column], errors="coerce").to_numpy(), index=times.dt.tz_localize("UTC"))
    return series.groupby(level=0).mean().resample("1h").mean()


def forecast_series(folder: Path) -> dict[str, pd.Series]:
    """Every real hourly series of ``folder`` (the layout of ``../shared/data/series``) that
    is there, by name. Times are UTC where the source states its zone."""
    out: dict[str, pd.Series] = {}
    uci = folder / "uci_air_quality" / "AirQualityUCI.csv"
    if uci.exists():
        frame = read_uci(uci)
        for column in ("CO_GT", "NOx_GT", "NO2_GT", "C6H6_GT"):
            out[f"uci_air/{column}"] = frame[column]
    for path in sorted((folder / "uci_beijing_multisite_air").glob("PRSA_Data_*.csv")):
        station = path.name.split("_")[2]
        out[f"beijing/{station}/PM2.5"] = read_beijing(path, "PM2.5")
    traffic = folder / "uci_metro_interstate_traffic" / "Metro_Interstate_Traffic_Volume.csv"
    if traffic.exists():
        volume = read_series(traffic, time_column="date_time", value_column="traffic_volume", timezone="US/Central")
        out["i94/traffic_volume"] = volume.resample("1h").mean()
    for path in sorted((folder / "uci_appliances_energy").glob("energydata_*.csv")):
        series = read_series(path, time_column="date", value_column="Appliances", timezone="Europe/Brussels")
        out["appliances/Appliances"] = series.resample("1h").mean()
    for path in sorted((folder / "wamis_jingwan_river").glob("wl_*.csv")):
        out["jingwan/water_level_m"] = read_series(path, time_column="ymdh", value_column="wl", timezone="Asia/Seoul")
    return out
