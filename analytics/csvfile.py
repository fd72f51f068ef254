"""Any CSV with a time column and a value column, as a regular series: for students and analysts.

The edge for ``smartcity analytics detect|forecast --csv``: read, find the columns
(or take the names given), parse, and resample to the file's own step. Nothing is lost
without a word: every quirk met is counted in :attr:`CsvSeries.notes` (the command prints
them on stderr), and every problem that stops the read is a ``CsvError`` naming the file,
the column and what was expected.

- Hours written 01:00..24:00 (the Korean convention, AirKorea's ``2026010124`` too):
  24:00 is the next day's 00:00.
- Times without an offset are read in ``timezone`` (the city's by default), not as UTC.
- Repeated timestamps are averaged, missing steps left as gaps, unreadable times and
  values dropped, each with its count; a run of one value repeated for many steps (a
  logger's fill-in) is reported.
- A pandas index written out (``Unnamed: 0``) or a row counter is never taken for the values.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analytics.errors import CsvError

_TIME_NAMES = ("timestamp", "time", "datetime", "date_time", "date", "ts", "ymdh", "시간", "일시", "측정일시")
_HOUR_24 = re.compile(r"^\s*(\d{4}[-/.]\d{1,2}[-/.]\d{1,2})[ T]24(:00(:00)?)?\s*$")
_COMPACT = re.compile(r"^\s*(\d{8})(\d{2})\s*$")  # YYYYMMDDHH, hours 01..24
_INDEX_NAMES = ("index", "idx", "id", "row", "no", "no.", "번호", "순번")  # a counter under these names is no value
FILL_RUN_STEPS = 12  # this many equal values in a row are reported as a likely fill-in


@dataclass
class CsvSeries:
    """The series on a regular index, the columns chosen, and what was met on the way."""

    series: pd.Series
    time_column: str
    value_column: str
    notes: list[str] = field(default_factory=list)


def read_series(path: Path, *, time_column: str | None = None, value_column: str | None = None,
                timezone: str = "Asia/Seoul") -> pd.Series:  # fmt: skip
    """The file's values on a regular DatetimeIndex (UTC; its median step; gaps are NaN)."""
    return read_csv_series(path, time_column=time_column, value_column=value_column, timezone=timezone).series


def read_csv_series(
    path: Path, *, time_column: str | None = None, value_column: str | None = None, timezone: str = "Asia/Seoul"
) -> CsvSeries:
    """As :func:`read_series`, with the columns chosen and the notes.

    Raises:
        CsvError: unreadable file, no time or numeric column, unparseable times, an
            unknown time zone, too few rows.
    """
    try:
        frame = pd.read_csv(path, sep=None, engine="python", encoding_errors="replace", dtype=str,
                            keep_default_na=False)  # fmt: skip
    except FileNotFoundError as exc:
        raise CsvError(f"{path}: no such file") from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, csv.Error) as exc:
        raise CsvError(f"{path}: not a readable CSV file ({exc})") from exc
    notes: list[str] = []
    columns = {str(c).strip(): c for c in frame.columns}
    time_key = time_column or next((c for c in columns if c.lower() in _TIME_NAMES), None)
    if time_key is None or time_key not in columns:
        raise CsvError(
            f"{path}: no time column {'named ' + repr(time_column) if time_column else 'found'}; "
            f"columns are {list(columns)}; name one with --time-column"
        )
    numeric = [c for c in columns if c != time_key and _is_values(frame[columns[c]], c)]
    value_key = value_column or ("value" if "value" in numeric else (numeric[0] if len(numeric) == 1 else None))
    if value_key is None or value_key not in columns:
        raise CsvError(
            f"{path}: which column holds the values? numeric columns are {numeric}; name one with --value-column"
        )
    times = _times(frame[columns[time_key]], timezone, path, time_key, notes)
    cells = frame[columns[value_key]].astype(str).str.strip()
    values = pd.to_numeric(cells.where(cells != ""), errors="coerce")
    blank = cells.isin(["", "-", "NA", "NaN", "nan", "null"])
    unreadable = int((values.isna() & ~blank).sum())
    if unreadable:
        notes.append(f"{unreadable} cells of {value_key!r} are not numbers and were left out")
    if int(blank.sum()):
        notes.append(f"{int(blank.sum())} cells of {value_key!r} are empty")
    keep = times.notna().to_numpy()
    series = pd.Series(values.to_numpy(dtype=float), index=pd.DatetimeIndex(times))[keep]
    repeated = int(series.index.duplicated().sum())
    if repeated:
        notes.append(f"{repeated} rows repeat an earlier timestamp; their values were averaged")
    series = series.groupby(level=0).mean().sort_index()
    if len(series) < 6:
        raise CsvError(f"{path}: {len(series)} usable rows; at least 6 are needed")
    step = pd.Series(series.index).diff().median()
    if not isinstance(step, pd.Timedelta) or step <= pd.Timedelta(0):
        raise CsvError(f"{path}: column {time_key!r} has no regular step")
    regular = series.resample(step).mean()
    missing = int(regular.isna().sum()) - int(series.isna().sum())
    if missing > 0:
        notes.append(f"{missing} steps of {step} have no row (gaps kept as gaps)")
    off_grid = int((~series.index.isin(regular.index)).sum())
    if off_grid:
        notes.append(f"{off_grid} rows fall between the {step} steps and were averaged into them")
    run = _longest_run(regular)
    if run >= FILL_RUN_STEPS:
        notes.append(f"one value repeats for {run} steps in a row: a filled stretch?")
    return CsvSeries(regular, time_key, value_key, notes)


def _is_values(column: pd.Series, name: str) -> bool:
    """A column of numbers that is not an index written out (``Unnamed: 0``) or a row counter."""
    if name.startswith("Unnamed:") or name == "":
        return False
    numbers = pd.to_numeric(column, errors="coerce")
    if numbers.notna().mean() <= 0.5:
        return False
    if name.lower() not in _INDEX_NAMES:
        return True
    counter = np.arange(len(column))
    return not (len(column) > 2 and (np.array_equal(numbers, counter) or np.array_equal(numbers, counter + 1)))


def _times(raw: pd.Series, timezone: str, path: Path, name: str, notes: list[str]) -> pd.Series:
    text = raw.astype(str).str.strip()
    compact = text.str.extract(_COMPACT)
    is_compact = compact[0].notna()
    if is_compact.any():
        hours = compact[1].astype(float)
        base = pd.to_datetime(compact[0], format="%Y%m%d", errors="coerce")
        text = text.where(~is_compact, (base + pd.to_timedelta(hours, unit="h")).dt.strftime("%Y-%m-%d %H:%M:%S"))
    midnight = text.str.extract(_HOUR_24)[0]
    late = midnight.notna()
    if late.any():
        next_day = pd.to_datetime(midnight[late].str.replace(r"[/.]", "-", regex=True), errors="coerce") + pd.Timedelta(
            days=1
        )
        text = text.where(~late, next_day.dt.strftime("%Y-%m-%d 00:00:00"))
        notes.append(f"{int(late.sum())} times written as 24:00 were read as the next day's 00:00")
    parsed = pd.to_datetime(text, errors="coerce", format="mixed")
    try:
        utc = _to_utc(parsed, text, timezone, notes)
    except (KeyError, ValueError) as exc:
        raise CsvError(
            f"{path}: time zone {timezone!r} is unknown ({exc}); give an IANA name such as Asia/Seoul"
        ) from None
    bad = int(utc.isna().sum())
    if bad > len(utc) // 2:
        raise CsvError(f"{path}: column {name!r} is not times ({bad} of {len(utc)} rows unreadable)")
    if bad:
        notes.append(f"{bad} rows of {name!r} are not readable times and were left out")
    return utc


def _longest_run(series: pd.Series) -> int:
    """The longest run of one (non-missing) value repeated step after step."""
    values = series.to_numpy(dtype=float)
    if len(values) < 2:
        return len(values)
    same = np.concatenate([[False], (values[1:] == values[:-1]) & ~np.isnan(values[1:])])
    longest = current = 1
    for equal in same[1:]:
        current = current + 1 if equal else 1
        longest = max(longest, current)
    return longest


def _to_utc(parsed: pd.Series, text: pd.Series, timezone: str, notes: list[str]) -> pd.Series:
    """Naive times read in ``timezone``; times with an offset kept as they say."""
    offset = text.str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$", regex=True)
    naive = ~offset & parsed.notna()
    out = pd.Series(pd.NaT, index=parsed.index, dtype="datetime64[ns, UTC]")
    if offset.any():
        out[offset] = pd.to_datetime(text[offset], errors="coerce", utc=True, format="mixed")
    if naive.any():
        plain = pd.to_datetime(text[naive], errors="coerce", format="mixed")
        if getattr(plain.dt, "tz", None) is not None:
            plain = plain.dt.tz_localize(None)
        local = plain.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
        out[naive] = local.dt.tz_convert("UTC")
        notes.append(f"{int(naive.sum())} times without an offset were read as {timezone}")
    return out


def steps_per_day(series: pd.Series) -> int:
    """How many steps of the series make a day (at least 1)."""
    step = pd.Timedelta(series.index[1] - series.index[0])
    return max(1, int(pd.Timedelta(days=1) / step))
