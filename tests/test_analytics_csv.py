"""CSV quirks through `smartcity analytics detect|forecast --csv`: known answers, nothing lost silently."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analytics.csvfile import read_csv_series
from tests.fixtures.cli import run_cli as _run


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_hours_01_to_24_keep_the_24_00_row_as_the_next_midnight(tmp_path: Path) -> None:
    rows = [f"2026-01-0{1 + (h - 1) // 24} {(h - 1) % 24 + 1:02d}:00,{h}" for h in range(1, 49)]
    path = _write(tmp_path / "korean-hours.csv", ["측정일시,pm25", *rows])
    read = read_csv_series(path, timezone="Asia/Seoul")
    assert len(read.series) == 48 and read.series.notna().all(), "no row lost"
    # 2026-01-01 24:00 in Seoul is 2026-01-02 00:00 KST = 2026-01-01 15:00 UTC, and holds hour 24's value
    assert read.series[pd.Timestamp("2026-01-01 15:00", tz="UTC")] == 24.0
    assert read.series.index[-1] == pd.Timestamp("2026-01-02 15:00", tz="UTC")
    assert any("2 times written as 24:00" in n for n in read.notes)
    code, out, err = _run("analytics", "forecast", "--csv", str(path), "--horizon", "3")
    assert code == 0 and "24:00" in err and "48 steps" in err
    assert len(out.strip().splitlines()) == 4  # header and three steps


def test_airkorea_compact_hours_are_read(tmp_path: Path) -> None:
    rows = [f"202601{1 + (h - 1) // 24:02d}{(h - 1) % 24 + 1:02d},{h}" for h in range(1, 25)]
    read = read_csv_series(_write(tmp_path / "airkorea.csv", ["dataTime,value", *rows]), time_column="dataTime")
    assert len(read.series) == 24 and read.series.iloc[-1] == 24.0
    assert read.series.index[-1] == pd.Timestamp("2026-01-01 15:00", tz="UTC")


def test_naive_times_are_read_in_the_given_zone_and_offsets_are_kept(tmp_path: Path) -> None:
    rows = [f"2026-03-01 {h:02d}:00,{h}" for h in range(8)]
    path = _write(tmp_path / "naive.csv", ["time,value", *rows])
    assert read_csv_series(path).series.index[0] == pd.Timestamp("2026-02-28 15:00", tz="UTC")  # the city's zone
    assert read_csv_series(path, timezone="UTC").series.index[0] == pd.Timestamp("2026-03-01 00:00", tz="UTC")
    aware = _write(tmp_path / "aware.csv", ["time,value", *[f"2026-03-01T{h:02d}:00+09:00,{h}" for h in range(8)]])
    read = read_csv_series(aware, timezone="UTC")
    assert read.series.index[0] == pd.Timestamp("2026-02-28 15:00", tz="UTC")
    assert not any("without an offset" in n for n in read.notes)
    with pytest.raises(Exception, match="Mars/Base"):
        read_csv_series(path, timezone="Mars/Base")


def test_duplicates_gaps_bad_cells_and_fills_are_counted(tmp_path: Path) -> None:
    rows = [f"2026-03-01 {h // 60:02d}:{h % 60:02d},{(h * 7) % 13}" for h in range(0, 600, 10)]
    rows[5] = rows[5].rsplit(",", 1)[0] + ",abc"  # one unreadable value
    del rows[20:23]  # three missing steps
    rows += [rows[0].rsplit(",", 1)[0] + ",100", rows[1]]  # two repeated timestamps
    rows += [f"2026-03-01 10:{m:02d},5" for m in range(0, 60, 10)] + [f"2026-03-01 11:{m:02d},5" for m in
                                                                      range(0, 60, 10)]  # fmt: skip
    read = read_csv_series(_write(tmp_path / "messy.csv", ["timestamp,level", *rows]), timezone="UTC")
    notes = " | ".join(read.notes)
    assert "1 cells of 'level' are not numbers" in notes
    assert "3 steps of 0 days 00:10:00 have no row" in notes
    assert "2 rows repeat an earlier timestamp" in notes
    assert "repeats for 12 steps" in notes
    assert read.series[pd.Timestamp("2026-03-01 00:00", tz="UTC")] == pytest.approx((0 + 100) / 2)


def test_an_index_written_out_is_never_taken_for_the_values(tmp_path: Path) -> None:
    rows = [f"{i},2026-03-01 {i:02d}:00,{20 + i % 3}" for i in range(12)]
    path = _write(tmp_path / "pandas.csv", [",time,temperature", *rows])
    read = read_csv_series(path)
    assert read.value_column == "temperature"
    counter = _write(tmp_path / "counter.csv", ["row,time,temperature", *rows])
    assert read_csv_series(counter).value_column == "temperature"


def test_irregular_rows_are_averaged_into_the_step_and_reported(tmp_path: Path) -> None:
    rows = [f"2026-03-01 {h:02d}:00,1" for h in range(12)] + ["2026-03-01 05:17,3"]
    read = read_csv_series(_write(tmp_path / "irregular.csv", ["time,value", *rows]), timezone="UTC")
    assert read.series[pd.Timestamp("2026-03-01 05:00", tz="UTC")] == 2.0
    assert any("fall between" in n for n in read.notes)
