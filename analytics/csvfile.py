"""Any CSV with a time column and a value column, as a regular series: for students and analysts.

The edge for ``smartcity analytics detect|forecast --csv``: read, find the columns
(or take the names given), parse, and resample to the file's own step. Every problem
is a ``CsvError`` whose message names the file, the column and what was expected.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analytics.errors import CsvError

_TIME_NAMES = ("timestamp", "time", "datetime", "date_time", "date", "ts", "시간", "일시")


def read_series(path: Path, *, time_column: str | None = None, value_column: str | None = None) -> pd.Series:
    """The file's values on a regular DatetimeIndex (its median step; gaps are NaN).

    Raises:
        CsvError: unreadable file, no time or numeric column, unparseable times, too few rows.
    """
    try:
        frame = pd.read_csv(path, sep=None, engine="python", encoding_errors="replace")
    except FileNotFoundError as exc:
        raise CsvError(f"{path}: no such file") from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise CsvError(f"{path}: not a readable CSV file ({exc})") from exc
    columns = {str(c).strip(): c for c in frame.columns}
    time_key = time_column or next((c for c in columns if c.lower() in _TIME_NAMES), None)
    if time_key is None or time_key not in columns:
        raise CsvError(
            f"{path}: no time column {'named ' + repr(time_column) if time_column else 'found'}; "
            f"columns are {list(columns)}; name one with --time-column"
        )
    numeric = [
        c for c in columns if c != time_key and pd.to_numeric(frame[columns[c]], errors="coerce").notna().mean() > 0.5
    ]
    value_key = value_column or ("value" if "value" in numeric else (numeric[0] if len(numeric) == 1 else None))
    if value_key is None or value_key not in columns:
        raise CsvError(
            f"{path}: which column holds the values? numeric columns are {numeric}; name one with --value-column"
        )
    times = pd.to_datetime(frame[columns[time_key]], errors="coerce", utc=True, format="mixed")
    bad = int(times.isna().sum())
    if bad > len(times) // 2:
        raise CsvError(f"{path}: column {time_key!r} is not times ({bad} of {len(times)} rows unreadable)")
    values = pd.to_numeric(frame[columns[value_key]], errors="coerce")
    series = pd.Series(values.to_numpy(dtype=float), index=pd.DatetimeIndex(times)).loc[times.notna().to_numpy()]
    series = series.groupby(level=0).mean().sort_index()
    if len(series) < 6:
        raise CsvError(f"{path}: {len(series)} usable rows; at least 6 are needed")
    step = pd.Series(series.index).diff().median()
    if not isinstance(step, pd.Timedelta) or step <= pd.Timedelta(0):
        raise CsvError(f"{path}: column {time_key!r} has no regular step")
    return series.resample(step).mean()


def steps_per_day(series: pd.Series) -> int:
    """How many steps of the series make a day (at least 1)."""
    step = pd.Timedelta(series.index[1] - series.index[0])
    return max(1, int(pd.Timedelta(days=1) / step))
