"""``smartcity analytics score|detect|forecast|evaluate``: the analytics commands that print."""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
from pathlib import Path

import pandas as pd
import psycopg

from smartcity.errors import SmartcityError
from smartcity.settings import Settings


def score(settings: Settings, args: argparse.Namespace) -> int:
    from analytics.jobs import evaluate_run

    try:
        with psycopg.connect(settings.database_dsn(), connect_timeout=5) as conn:
            run_id, figures = evaluate_run(conn, run_id=args.run, devices=args.devices, timezone=settings.city_timezone)
    except psycopg.OperationalError as exc:
        raise SmartcityError(f"database unavailable: {exc}") from exc
    data = {"run": run_id, **figures.as_dict()}
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2, default=_plain))
        return 0
    print(f"run {run_id}: {figures.windows} labelled windows, {figures.episodes} episodes")
    print(f"  precision {figures.precision:.3f}  recall {figures.recall:.3f}  F1 {figures.f1_overall:.3f}")
    delay = "-" if figures.median_delay_s is None else f"{figures.median_delay_s:.0f} s"
    print(f"  median detection delay {delay}; kind named right {figures.kind_accuracy}")
    print(f"  {'kind':<12} {'windows':>7} {'episodes':>8} {'recall':>7} {'precision':>9} {'F1':>6}")
    for kind, row in figures.by_kind.items():
        cells = [_cell(row[k]) for k in ("recall", "precision", "f1")]
        print(f"  {kind:<12} {row['windows']:>7.0f} {row['episodes']:>8.0f} {cells[0]:>7} {cells[1]:>9} {cells[2]:>6}")
    print(
        f"forecasts on {figures.forecast_series} series (last day held out): MASE vs seasonal naive "
        f"{figures.mase_vs_seasonal_naive:.3f} (median), 80% interval coverage {figures.pi80_coverage:.3f}, "
        f"95% {figures.pi95_coverage:.3f}; models chosen {figures.models}"
    )
    return 0


def detect_csv(settings: Settings, args: argparse.Namespace) -> int:
    from analytics.csvfile import steps_per_day
    from analytics.detect import detect

    series = _read(settings, args)
    found = detect(series, steps_per_day=steps_per_day(series))
    frame = pd.DataFrame(
        [(e.start.isoformat(), e.end.isoformat(), e.kind, e.severity, e.explanation) for e in found],
        columns=["started_at", "ended_at", "kind", "severity", "explanation"],
    )
    _emit(frame, args.format)
    return 0


def forecast_csv(settings: Settings, args: argparse.Namespace) -> int:
    from analytics.csvfile import steps_per_day
    from analytics.forecast import forecast

    if args.horizon < 1:
        raise SmartcityError(f"--horizon must be at least 1 step (got {args.horizon})")
    series = _read(settings, args)
    per_day = steps_per_day(series)
    fc = forecast(series, horizon_steps=args.horizon, season_steps=per_day if per_day > 1 else None)
    frame = fc.rename_axis("time").reset_index()
    frame["time"] = frame["time"].map(lambda t: t.isoformat())
    _emit(frame, args.format)
    return 0


def evaluate_csv(settings: Settings, args: argparse.Namespace) -> int:
    """Rolling-origin backtest of the file's series: a row per origin on stdout, the summary
    (beside seasonal naive and a plain Holt-Winters on the same origins) on stderr."""
    from analytics.backtest import backtest
    from analytics.csvfile import steps_per_day

    if args.horizon < 1:
        raise SmartcityError(f"--horizon must be at least 1 step (got {args.horizon})")
    if not 1 <= args.origins <= 1000:
        raise SmartcityError(f"--origins must be between 1 and 1000 (got {args.origins})")
    if not math.isfinite(args.history_days) or not 2 <= args.history_days <= 366:
        raise SmartcityError(f"--history-days must be between 2 and 366 (got {args.history_days})")
    series = _read(settings, args)
    per_day = steps_per_day(series)
    if per_day < 2:
        raise SmartcityError(f"{args.csv}: the file's step is a day or longer; evaluate needs steps within a day")
    result = backtest(
        series, name=str(args.csv), origins=args.origins, horizon_steps=args.horizon,
        history_steps=round(args.history_days * per_day), season_steps=per_day,
    )  # fmt: skip
    frame = result.origins.assign(origin=result.origins["origin"].map(lambda t: t.isoformat()))
    _emit(frame.round(6), args.format)
    print(
        f"{args.csv}: {len(frame)} origins, {args.horizon} steps ahead: MAE ratio to seasonal naive "
        f"{result.mae_ratio:.3f} (plain Holt-Winters {result.hw_mae_ratio:.3f}); interval coverage "
        f"80% {result.pi80_coverage:.3f}, 95% {result.pi95_coverage:.3f}",
        file=sys.stderr,
    )
    return 0


def _read(settings: Settings, args: argparse.Namespace) -> pd.Series:
    """The --csv file as a series; what was met on the way goes to stderr, one line each."""
    from analytics.csvfile import read_csv_series

    read = read_csv_series(Path(args.csv), time_column=args.time_column, value_column=args.value_column,
                           timezone=args.timezone or settings.city_timezone)  # fmt: skip
    print(f"{args.csv}: times from {read.time_column!r}, values from {read.value_column!r}, "
          f"{len(read.series)} steps", file=sys.stderr)  # fmt: skip
    for note in read.notes:
        print(f"{args.csv}: {note}", file=sys.stderr)
    return read.series


def _emit(frame: pd.DataFrame, fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(frame.to_dict("records"), ensure_ascii=False, default=_plain))
    else:
        buffer = io.StringIO()
        frame.to_csv(buffer, index=False)
        sys.stdout.write(buffer.getvalue())


def _cell(value: float) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.2f}"


def _plain(value: object) -> object:
    if isinstance(value, float) and math.isnan(value):
        return None
    return str(value)
