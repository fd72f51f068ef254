"""The storage lifecycle against the real database: rollups equal a recomputation from
raw after late and redelivered readings; archiving survives a crash between writing and
dropping; one history query answers the same whatever tier holds the hours; a backup
restores every reading; completeness with known answers."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from ingest.decode import decode
from ingest.writer import Message, Writer
from smartcity import db
from smartcity.settings import Settings
from storage import archive, backup, completeness, history, queries, rollups

pytestmark = pytest.mark.integration

TZ = "Asia/Seoul"


def _messages(device: str, times: list[datetime], values: list[float], now: datetime) -> list[Message]:
    out = []
    for i, (when, value) in enumerate(zip(times, values, strict=True)):
        topic = f"city/store/air/{device}"
        body = json.dumps({"time": when.isoformat(), "metrics": {"pm25_ugm3": value}}).encode()
        out.append(Message(i, 1, topic, body, now, decode(topic, body, now)))
    return out


def _recomputed(conn: psycopg.Connection[tuple[object, ...]], device: str) -> pd.DataFrame:
    rows = conn.execute(
        "SELECT date_trunc('hour', time, 'UTC') AS bucket, count(*), avg(value), min(value), max(value), sum(value)"
        " FROM readings WHERE device_id = %s GROUP BY 1 ORDER BY 1",
        (device,),
    ).fetchall()
    return pd.DataFrame(rows, columns=["bucket", "n", "mean", "min", "max", "sum"])


def _rolled(conn: psycopg.Connection[tuple[object, ...]], device: str) -> pd.DataFrame:
    rows = conn.execute(
        "SELECT bucket, n, mean, min, max, sum FROM rollup_hourly WHERE device_id = %s ORDER BY bucket", (device,)
    ).fetchall()
    return pd.DataFrame(rows, columns=["bucket", "n", "mean", "min", "max", "sum"])


def test_rollups_merged_from_many_batches_equal_a_recomputation(dsn: str, unique: str) -> None:
    """Batches land in any order over seven hours, some redelivered, with rollup runs in
    between: the hours and city days merged from what each batch logged equal the readings
    recomputed, the last value included."""
    rng = np.random.default_rng(11)
    devices = [f"mix-{unique}-{i}" for i in range(3)]
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    sent: list[list[Message]] = []
    with psycopg.connect(dsn) as wconn, psycopg.connect(dsn) as jconn:
        writer = Writer(wconn)
        for step in range(16):
            batch = []
            for device in devices:
                minutes = rng.choice(420, size=int(rng.integers(1, 6)), replace=False)
                values = [round(float(v), 3) for v in rng.normal(20, 5, len(minutes))]
                batch += _messages(device, [now - timedelta(minutes=int(m)) for m in minutes], values, now)
            if step % 5 == 4:  # a broker redelivering an earlier batch with this one
                batch += sent[int(rng.integers(0, len(sent)))]
            sent.append(batch)
            assert not writer.write(batch).rejected
            wconn.commit()
            if step % 3 == 2:
                rollups.work_off(jconn, TZ)
        rollups.work_off(jconn, TZ)
        assert writer.redelivered_batches >= 3  # both paths ran: merged aggregates and recomputed hours
        for device in devices:
            rolled, raw = _rolled(jconn, device), _recomputed(jconn, device)
            pd.testing.assert_frame_equal(rolled, raw, check_dtype=False)
            last = jconn.execute(
                "SELECT h.bucket FROM rollup_hourly h CROSS JOIN LATERAL ("
                "  SELECT r.value, r.time FROM readings r WHERE r.device_id = h.device_id AND r.metric = h.metric"
                "  AND r.time >= h.bucket AND r.time < h.bucket + interval '1 hour' ORDER BY r.time DESC LIMIT 1) AS r"
                " WHERE h.device_id = %s AND (h.last <> r.value OR h.last_time <> r.time)",
                (device,),
            ).fetchall()
            assert last == []
            days = jconn.execute(
                "SELECT day, n, sum, min, max, last, last_time FROM rollup_daily WHERE device_id = %s ORDER BY day",
                (device,),
            ).fetchall()
            raw_days = jconn.execute(
                "SELECT (time AT TIME ZONE %s)::date AS day, count(*), sum(value), min(value), max(value),"
                " (array_agg(value ORDER BY time DESC))[1], max(time) FROM readings WHERE device_id = %s"
                " GROUP BY 1 ORDER BY 1",
                (TZ, device),
            ).fetchall()
            assert [d[:2] + d[3:] for d in days] == [r[:2] + r[3:] for r in raw_days]  # days merged or recomputed
            assert np.allclose([d[2] for d in days], [r[2] for r in raw_days], rtol=1e-12)


def test_working_off_stops_once_a_run_finds_less_than_a_full_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """A backlog is worked off run after run; a run taking less than the limit ends the round
    (with ingest writing all the while, the log is never empty: no busy loop)."""
    runs = iter([4, 4, 3, 4, 4])
    calls: list[int] = []

    def run(conn: object, city_tz: str, *, read_span: object = None, limit: int) -> int:
        calls.append(limit)
        return next(runs)

    monkeypatch.setattr(rollups, "bring_up_to_date", run)
    assert rollups.work_off(None, TZ, limit=4) == 11  # type: ignore[arg-type]
    assert calls == [4, 4, 4]


def test_what_a_batch_logs_is_its_readings_aggregates_exactly(dsn: str, unique: str) -> None:
    """The log rows ingest packs itself (ingest._pgbinary) read back as the batch's own
    aggregates: awkward values, microsecond times, one and several metrics, two hours."""
    device = f"pack-{unique}"
    now = datetime.now(UTC).replace(minute=30, second=0, microsecond=0)
    first, second = now - timedelta(hours=2, minutes=1, microseconds=7), now - timedelta(minutes=3, microseconds=1)
    bodies = [
        (first, {"pm25_ugm3": 1e-300, "temperature_c": -40.25}),
        (first + timedelta(microseconds=5), {"pm25_ugm3": 999.5}),
        (second, {"temperature_c": -0.0, "humidity_pct": 100.0, "pm25_ugm3": 0.1}),
    ]
    messages = []
    for i, (when, metrics) in enumerate(bodies):
        topic = f"city/store/air/{device}"
        body = json.dumps({"time": when.isoformat(), "metrics": metrics}).encode()
        messages.append(Message(i, 1, topic, body, now, decode(topic, body, now)))
    with psycopg.connect(dsn) as wconn:
        assert not Writer(wconn).write(messages).rejected
        wconn.commit()
        rows = wconn.execute(
            "SELECT hour, late, u.* FROM rollup_log, unnest(metrics, n, sum, min, max, last, last_time)"
            " AS u(metric, n, sum, min, max, last, last_time) WHERE device_id = %s ORDER BY hour, metric",
            (device,),
        ).fetchall()
    hour = first.replace(minute=0, second=0, microsecond=0)
    later = second.replace(minute=0, second=0, microsecond=0)
    assert rows == [
        (hour, 3, "pm25_ugm3", 2, 1e-300 + 999.5, 1e-300, 999.5, 999.5, first + timedelta(microseconds=5)),
        (hour, 3, "temperature_c", 1, -40.25, -40.25, -40.25, -40.25, first),
        (later, 0, "humidity_pct", 1, 100.0, 100.0, 100.0, 100.0, second),
        (later, 0, "pm25_ugm3", 1, 0.1, 0.1, 0.1, 0.1, second),
        (later, 0, "temperature_c", 1, -0.0, -0.0, -0.0, -0.0, second),
    ]


def test_late_and_redelivered_readings_reaggregate_their_buckets(dsn: str, unique: str) -> None:
    device = f"roll-{unique}"
    now = datetime.now(UTC).replace(minute=30, second=0, microsecond=0)
    hours_ago = [now - timedelta(hours=3) + timedelta(minutes=5 * i) for i in range(36)]  # three hours, 5-min steps
    with psycopg.connect(dsn) as wconn, psycopg.connect(dsn) as jconn:
        writer = Writer(wconn)
        writer.write(_messages(device, hours_ago, [float(i) for i in range(36)], now))
        assert rollups.work_off(jconn, TZ) > 0
        first = _rolled(jconn, device)
        assert len(first) == 4 and first["n"].sum() == 36
        # late readings into the first hour, and the whole first batch redelivered
        late = [hours_ago[0] + timedelta(minutes=1), hours_ago[0] + timedelta(minutes=2)]
        assert not writer.write(_messages(device, late, [100.0, 0.5], now)).rejected
        writer.write(_messages(device, hours_ago, [float(i) for i in range(36)], now))
        rollups.work_off(jconn, TZ)
        rolled, raw = _rolled(jconn, device), _recomputed(jconn, device)
        assert rolled["n"].sum() == 38
        pd.testing.assert_frame_equal(rolled.reset_index(drop=True), raw.reset_index(drop=True), check_dtype=False)
        first_hour = rolled.iloc[0]
        assert first_hour["max"] == 100.0 and first_hour["min"] == 0.0
        late_counted = jconn.execute("SELECT sum(late) FROM rollup_hourly WHERE device_id = %s", (device,)).fetchone()
        # arrivals over 10 min after their time: 34 of the first batch, the 2 late ones, the 34 again redelivered
        assert late_counted == (34 + 2 + 34,)
        daily = history.daily(
            jconn, device, "pm25_ugm3", (now - timedelta(days=2)).date(), (now + timedelta(days=1)).date()
        )
        assert daily["n"].sum() == 38
        assert np.isclose(daily["sum"].sum(), raw["sum"].sum())


@pytest.fixture(scope="module")
def own_dsn(dsn: str) -> Iterator[str]:
    """A database of this module's own in the test cluster: archiving drops whole days, and
    a restore replaces the whole database."""
    yield from _own_database(dsn)


def _own_database(dsn: str) -> Iterator[str]:
    name = f"storage_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(make_conninfo(dsn, dbname="postgres"), autocommit=True) as conn:
        conn.execute(queries.create_database(name))
    mine = make_conninfo(dsn, dbname=name)
    try:
        db.migrate(mine)
        yield mine
    finally:
        with psycopg.connect(make_conninfo(dsn, dbname="postgres"), autocommit=True) as conn:
            conn.execute(queries.drop_database(name))


DAY0 = datetime(2026, 2, 1, tzinfo=UTC)


def _fill(dsn: str, devices: int = 3, days: int = 4) -> None:
    """Readings every 10 minutes for ``days`` days from DAY0, through the ingest writer."""
    now = datetime.now(UTC)
    with psycopg.connect(dsn) as conn:
        writer = Writer(conn)
        for d in range(devices):
            times = [DAY0 + timedelta(minutes=10 * i) for i in range(days * 144)]
            values = [round(20 + 10 * np.sin(i / 30 + d), 1) for i in range(len(times))]
            for first in range(0, len(times), 500):
                assert not writer.write(
                    _messages(f"arc-{d}", times[first : first + 500], values[first : first + 500], now)
                ).rejected
    with psycopg.connect(dsn) as conn:
        rollups.work_off(conn, TZ)


def _history(dsn: str, where: archive.Archive, device: str) -> pd.DataFrame:
    with psycopg.connect(dsn) as conn:
        return history.readings(
            conn, where, device, "pm25_ugm3", DAY0 - timedelta(hours=6), end=DAY0 + timedelta(days=5)
        )


def _archive_at(place: str, tmp_path: Path) -> archive.Archive:
    """A local folder, or an fsspec object store (its in-memory one: the same code path as s3://)."""
    return archive.Archive(tmp_path / "archive" if place == "folder" else f"memory://city-{uuid.uuid4().hex}/archive")


@pytest.mark.parametrize("place", ["folder", "object store"])
def test_archive_crash_before_drop_resumes_and_queries_span_both_tiers(
    dsn: str, own_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, place: str
) -> None:
    where = _archive_at(place, tmp_path)
    if place == "folder":  # the later tests read what this one leaves in the module's database
        _crash_and_resume(own_dsn, where, monkeypatch)
        return
    fresh = _own_database(dsn)
    try:
        _crash_and_resume(next(fresh), where, monkeypatch)
    finally:
        fresh.close()


def _crash_and_resume(own_dsn: str, where: archive.Archive, monkeypatch: pytest.MonkeyPatch) -> None:
    _fill(own_dsn)
    kept_everything = {d: _history(own_dsn, where, f"arc-{d}") for d in range(3)}
    assert len(kept_everything[0]) == 4 * 144

    # a crash between writing the archive and dropping the chunk
    monkeypatch.setattr(queries, "DROP_DAY", "SELECT no_such_function(%s, %s)")
    with psycopg.connect(own_dsn) as conn, pytest.raises(psycopg.errors.UndefinedFunction):
        archive.archive_day(conn, where, DAY0.date())
    assert where.files(DAY0.date())  # written ...
    with psycopg.connect(own_dsn) as conn:
        assert conn.execute("SELECT dropped_at FROM archive_days WHERE day = %s", (DAY0.date(),)).fetchone() == (None,)
    for d in range(3):  # ... but still read from the database, once
        pd.testing.assert_frame_equal(_history(own_dsn, where, f"arc-{d}"), kept_everything[d])

    # the next run resumes: the first two days archived and dropped
    monkeypatch.undo()
    with psycopg.connect(own_dsn) as conn:
        done = archive.run(conn, where, older_than=DAY0 + timedelta(days=2))
        assert done["days"] == 2 and done["skipped"] == 0 and done["readings"] == 2 * 144 * 3
        hot = conn.execute("SELECT count(*) FROM readings").fetchone()
    assert hot == (2 * 144 * 3,)
    for d in range(3):  # a query spanning archived and hot hours equals the one on the database that kept all
        pd.testing.assert_frame_equal(_history(own_dsn, where, f"arc-{d}"), kept_everything[d])

    # a late redelivery of an archived reading and a new late reading for an archived day
    now = datetime.now(UTC)
    with psycopg.connect(own_dsn) as conn:
        writer = Writer(conn)
        writer.write(
            _messages("arc-0", [DAY0, DAY0 + timedelta(minutes=5)], [float(kept_everything[0]["value"][0]), 99.0], now)
        )
    merged = _history(own_dsn, where, "arc-0")
    assert len(merged) == 4 * 144 + 1  # the redelivered one counts once
    with psycopg.connect(own_dsn) as conn:
        rollups.work_off(conn, TZ, history.reader(conn, where))
        first_hour = conn.execute(
            "SELECT n, max FROM rollup_hourly WHERE device_id = 'arc-0' AND bucket = %s", (DAY0,)
        ).fetchone()
        assert first_hour == (7, 99.0)  # recomputed from the archive and the late readings together
        archive.run(conn, where, older_than=DAY0 + timedelta(days=2))  # merges the late ones into the archive
        assert conn.execute(
            "SELECT count(*) FROM readings WHERE time < %s", (DAY0 + timedelta(days=2),)
        ).fetchone() == (0,)
    assert len(_history(own_dsn, where, "arc-0")) == 4 * 144 + 1


def test_dashboard_long_views_and_completeness_read_the_rollups(own_dsn: str) -> None:
    """After the raw days are archived and dropped, a device's and the district's year still
    come from the daily rollups; the operations page and the wall render them."""
    from dashboard import panels
    from dashboard import queries as dashboard_queries

    views = dashboard_queries.long_views(own_dsn, [("arc-1", "pm25_ugm3"), ("nobody", "pm25_ugm3")])
    year = views[("arc-1", "pm25_ugm3")]
    assert len(year) >= 4 and int(year["n"].sum()) == 4 * 144
    assert views[("nobody", "pm25_ugm3")].empty
    district = dashboard_queries.district_long_view(own_dsn, "store", "pm25_ugm3")
    assert int(district["n"].sum()) == 3 * 4 * 144 + 1 and int(district["devices"].max()) == 3
    figure = panels.long_view_figure("arc-1 · 12 months", year)
    assert [t.name for t in figure.data] == [None, "daily min–max", "daily mean"]
    assert "no history yet" in panels.long_view_figure("x", views[("nobody", "pm25_ugm3")]).layout.title.text
    scored, overall = dashboard_queries.completeness(own_dsn, None, hours=24 * 400)
    assert set(scored["device_id"]) >= {"arc-0", "arc-1", "arc-2"}
    items = panels.completeness_items(scored, overall, 24)
    assert items[1].id == "ops-completeness-headline" and "% of expected readings" in str(items[1].children)


def test_archive_is_compact_and_exact(own_dsn: str, tmp_path: Path) -> None:
    where = archive.Archive(tmp_path / "archive")
    frame = pd.DataFrame({"device_id": ["a"] * 288 + ["b"] * 288,
                          "time": pd.date_range("2026-01-01", periods=288, freq="5min", tz="UTC").append(
                              pd.date_range("2026-01-01", periods=288, freq="5min", tz="UTC")),
                          "value": np.round(np.random.default_rng(1).normal(30, 5, 576), 1)})  # fmt: skip
    path = where.file(DAY0.date(), "pm25_ugm3")
    archive.write_table(frame, where, path)
    back = archive.read_day(where, DAY0.date())
    assert back["time"].tolist() == frame["time"].tolist()
    assert back["value"].tolist() == frame["value"].tolist()
    assert back["device_id"].tolist() == frame["device_id"].tolist()


def test_backup_restores_every_reading(own_dsn: str, tmp_path: Path) -> None:
    from smartcity._postgres import find_bindir

    where = archive.Archive(tmp_path / "archive")
    where.root.mkdir()
    (where.root / "marker.txt").write_text("kept", encoding="utf-8")
    with psycopg.connect(own_dsn) as conn:
        before = conn.execute("SELECT count(*), sum(value) FROM readings").fetchone()
    made = backup.backup(own_dsn, where, tmp_path / "backup", bindir=find_bindir())
    assert made["hot_readings"] == before[0]  # type: ignore[index]
    with psycopg.connect(own_dsn) as conn:  # damage after the backup: gone after the restore
        conn.execute("DELETE FROM readings")
    shutil.rmtree(where.root)
    done = backup.restore(own_dsn, where, tmp_path / "backup", bindir=find_bindir())
    assert done["equal"], done
    with psycopg.connect(own_dsn) as conn:
        assert conn.execute("SELECT count(*), sum(value) FROM readings").fetchone() == before
        assert conn.execute("SELECT count(*) FROM timescaledb_information.hypertables").fetchone()[0] >= 3  # type: ignore[index]
    assert (where.root / "marker.txt").read_text(encoding="utf-8") == "kept"


def test_an_object_store_archive_is_copied_out_and_back_whole(tmp_path: Path) -> None:
    where = _archive_at("object store", tmp_path)
    times = pd.to_datetime(["2026-01-01 00:00", "2026-01-01 00:05"], utc=True)
    frame = pd.DataFrame({"device_id": ["a", "b"], "time": times,
                          "value": [1.5, 2.5]})  # fmt: skip
    archive.write_table(frame, where, where.file(DAY0.date(), "pm25_ugm3"))
    archive.write_table(frame, where, where.file(DAY0.date(), "no2_ppb"))
    assert [f.rsplit("/", 2)[-2] for f in where.files(DAY0.date())] == ["metric=no2_ppb", "metric=pm25_ugm3"]
    assert not where.fs.glob(f"{where.base}/**/*.tmp")  # temporaries renamed or removed
    assert archive.copy_out(where, tmp_path / "copy") == 2
    where.fs.rm(where.file(DAY0.date(), "no2_ppb"))
    where.fs.pipe_file(f"{where.base}/stray.txt", b"not in the backup")
    archive.replace_with(where, tmp_path / "copy")
    assert not where.exists(f"{where.base}/stray.txt")
    back = archive.read_day(where, DAY0.date())
    assert sorted(back["metric"].unique()) == ["no2_ppb", "pm25_ugm3"]
    assert back[back["metric"] == "no2_ppb"]["value"].tolist() == [1.5, 2.5]


def test_completeness_scores_known_answers() -> None:
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    hours = pd.DataFrame({
        "device_id": ["full"] * 24 + ["half"] * 12 + ["fast"] * 24,
        "bucket": [start + timedelta(hours=h) for h in [*range(24), *range(12), *range(24)]],
        "received": [12] * 24 + [12] * 12 + [24] * 24,
        "late": [0] * 24 + [1] * 12 + [0] * 24,
    })  # fmt: skip
    devices = pd.DataFrame({
        "device_id": ["full", "half", "fast", "silent", "new"], "kind": ["air"] * 5, "district": ["d"] * 5,
        "registered_at": [start - timedelta(days=9)] * 4 + [start + timedelta(hours=18)],
        "usual_per_hour": [12, 12, 12, 12, 12], "dead_lettered": [0, 3, 0, 0, 0],
    })  # fmt: skip
    scored = completeness.score(hours, devices, start, end, declared_cadence_s={"silent": 600})
    got = scored.set_index("device_id")
    assert got.loc["full", "completeness_pct"] == 100.0 and got.loc["full", "expected"] == 288
    assert got.loc["half", "completeness_pct"] == 50.0 and got.loc["half", "late"] == 12
    assert got.loc["half", "dead_lettered"] == 3
    assert got.loc["fast", "completeness_pct"] == 100.0  # twice as often is complete, not 200 %
    assert got.loc["silent", "completeness_pct"] == 0.0 and got.loc["silent", "expected"] == 144  # declared 10 min
    assert got.loc["new", "expected"] == 6 * 12  # registered 6 hours before the end
    assert list(scored["device_id"][:3]) == ["new", "silent", "half"]  # worst first
    assert completeness.overall_pct(scored) == round(100 * (288 + 144 + 288) / (288 * 3 + 144 + 72), 2)


def test_latest_values_come_back_after_a_database_crash(settings: Settings) -> None:
    """The latest-value table is unlogged (ingest writes it a quarter faster): a crash empties
    it, and the next writer rebuilds every series' newest value, whether its hour is rolled
    up already or still waiting in the rollup log."""
    if settings.dsn:
        pytest.skip("crashing a database needs the local stack")
    from bench._stack import private_stack
    from smartcity import _postgres, stack

    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with private_stack(f"crash-{uuid.uuid4().hex[:6]}") as own, psycopg.connect(own.database_dsn()) as wconn:
        writer = Writer(wconn)
        writer.write(_messages("rolled", [now - timedelta(days=2, minutes=m) for m in range(3)], [1.0, 2.0, 3.0], now))
        writer.write(_messages("both", [now - timedelta(days=1)], [4.0], now))
        with psycopg.connect(own.database_dsn()) as jconn:
            assert rollups.work_off(jconn, TZ) > 0
        writer.write(_messages("both", [now - timedelta(minutes=5)], [5.0], now))  # newer, not rolled up yet
        writer.write(_messages("pending", [now - timedelta(minutes=1)], [6.0], now))
        wconn.commit()
        before = wconn.execute("SELECT device_id, metric, time, value FROM latest_readings ORDER BY 1, 2").fetchall()
        assert [(d, v) for d, _, _, v in before] == [("both", 5.0), ("pending", 6.0), ("rolled", 1.0)]
        wconn.close()
        _postgres.down(own, mode="immediate")
        stack.up(own)
        with psycopg.connect(own.database_dsn()) as after:
            assert after.execute("SELECT count(*) FROM latest_readings").fetchone() == (0,)  # the crash emptied it
            assert after.execute("SELECT count(*) FROM readings").fetchone() == (6,)  # the readings are kept
            assert Writer(after).rebuilt_latest == 3
            rebuilt = after.execute("SELECT device_id, metric, time, value FROM latest_readings ORDER BY 1, 2")
            assert rebuilt.fetchall() == before
            assert Writer(after).rebuilt_latest == 0  # once: a second writer finds it whole


def test_latest_values_are_kept_through_the_move_to_a_row_per_device(dsn: str, tmp_path: Path) -> None:
    """A database migrated before sql/012, with latest values in the old table: after the
    migration the view shows the same rows, -0.0 and microseconds included."""
    name = f"upgrade_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(make_conninfo(dsn, dbname="postgres"), autocommit=True) as conn:
        conn.execute(queries.create_database(name))
    mine = make_conninfo(dsn, dbname=name)
    try:
        for migration in sorted(db.SQL_DIR.glob("0*.sql")):
            if migration.name < "012":
                shutil.copy(migration, tmp_path / migration.name)
        db.migrate(mine, tmp_path)
        with psycopg.connect(mine) as conn:
            conn.execute(
                "INSERT INTO latest_readings VALUES ('d1', 'pm25_ugm3', '2026-12-06 10:00:00.123456+00', 1.5),"
                " ('d1', 'no2_ppb', '2026-12-06 10:01:00+00', 2.5), ('d2', 'power_kw', '2026-12-06 09:00:00+00', -0.0)"
            )
            before = conn.execute("SELECT * FROM latest_readings ORDER BY 1, 2").fetchall()
        assert "012_latest_per_device.sql" in db.migrate(mine)
        with psycopg.connect(mine) as conn:
            assert (
                conn.execute("SELECT device_id, metric, time, value FROM latest_readings ORDER BY 1, 2").fetchall()
                == before
            )
            assert conn.execute("SELECT metrics FROM latest_values WHERE device_id = 'd1'").fetchone() == (
                ["no2_ppb", "pm25_ugm3"],
            )
    finally:
        with psycopg.connect(make_conninfo(dsn, dbname="postgres"), autocommit=True) as conn:
            conn.execute(queries.drop_database(name))
