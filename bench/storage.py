"""Storage lifecycle figures (issue 17), measured in one run on this machine, against the
raw readings table measured in the same run.

1. A realistic city's history (the simulator's backfill: ``--per-kind`` devices of every
   kind, ``--days`` days at 5-minute steps) in the raw hypertable: bytes per reading.
2. Rollups brought up to date; ``rollup_equals_raw``: every hourly and daily row equals a
   recomputation from raw.
3. Every day archived to Parquet and dropped: ``archive_bytes_per_reading``,
   ``archive_ratio``; ``archive_roundtrip_equal``: every value and timestamp read back
   (at least a million readings) equals what the database held.
4. ``rollup_lag_s``: the oldest unrolled hour's age, sampled while two writer processes
   commit ``--load-rate`` readings/s for ``--load-s`` s with ingest's own statements (binary
   COPY into the hypertable, the latest values upserted, the touched hours' aggregates
   logged) from a fleet of ``--load-devices``, and the lifecycle loop runs at its default
   settings; then the same writers flat out (``load_max_readings_per_s``,
   ``rollup_lag_at_max_s``); then the same rate from ``--stress-devices`` (``stress_*``).
5. ``year_query_p95_ms``: a device's and a district's 12 months of daily values, from a
   year of daily rollups for ``--year-devices`` devices (built directly).
6. ``backup_restore_s`` and ``restore_equal`` for a ``--backup-readings`` city
   (readings generated in the database).

Usage: .venv/bin/python bench/storage.py [--json] [--per-kind N] [--days N] [--backup-readings N]
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import statistics
import struct
import sys
import tempfile
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._stack import private_stack, report  # noqa: E402
from ingest._pgbinary import FLOAT8_OID, HEADER, INT4_OID, TEXT_OID, TIMESTAMPTZ_OID, TRAILER  # noqa: E402
from smartcity import simulation  # noqa: E402
from smartcity._postgres import find_bindir  # noqa: E402
from smartcity.settings import Settings  # noqa: E402
from storage import archive, backup, history, rollups  # noqa: E402
from storage import queries as storage_queries  # noqa: E402

TZ = "Asia/Seoul"


def raw_bytes_per_reading(conn: psycopg.Connection[tuple[object, ...]]) -> tuple[int, float]:
    readings = conn.execute("SELECT count(*) FROM readings").fetchone()[0]  # type: ignore[index]
    size = conn.execute("SELECT total_bytes FROM hypertable_detailed_size('readings')").fetchone()[0]  # type: ignore[index]
    return int(readings), float(size) / max(1, int(readings))


def digest(rows: list[tuple[object, ...]]) -> str:
    h = hashlib.sha256()
    for metric, device, when, value in rows:
        h.update(f"{metric}|{device}|{when.isoformat()}|{float(value)!r}\n".encode())  # type: ignore[attr-defined]
    return h.hexdigest()


def rollup_mismatches(conn: psycopg.Connection[tuple[object, ...]], devices: str = "%") -> int:
    """Rollup rows of the devices matching the LIKE pattern ``devices`` that differ from a
    recomputation from the readings (while nothing of them is archived)."""
    hourly = conn.execute(
        """SELECT count(*) FROM (
             SELECT device_id, metric, date_trunc('hour', time, 'UTC') AS bucket, count(*) AS n, sum(value) AS s,
                    min(value) AS lo, max(value) AS hi, max(time) AS t
             FROM readings WHERE device_id LIKE %(devices)s GROUP BY 1, 2, 3) r
           FULL JOIN (SELECT * FROM rollup_hourly WHERE device_id LIKE %(devices)s) h USING (device_id, metric, bucket)
           WHERE h.n IS DISTINCT FROM r.n OR abs(h.sum - r.s) > 1e-6 * greatest(1, abs(r.s))
              OR h.min IS DISTINCT FROM r.lo OR h.max IS DISTINCT FROM r.hi OR h.last_time IS DISTINCT FROM r.t""",
        {"devices": devices},
    ).fetchone()[0]  # type: ignore[index]
    daily = conn.execute(
        """SELECT count(*) FROM (
             SELECT device_id, metric, (time AT TIME ZONE %(tz)s)::date AS day, count(*) AS n, sum(value) AS s
             FROM readings WHERE device_id LIKE %(devices)s GROUP BY 1, 2, 3) r
           FULL JOIN (SELECT * FROM rollup_daily WHERE device_id LIKE %(devices)s) d USING (device_id, metric, day)
           WHERE d.n IS DISTINCT FROM r.n OR abs(d.sum - r.s) > 1e-6 * greatest(1, abs(r.s))""",
        {"tz": TZ, "devices": devices},
    ).fetchone()[0]  # type: ignore[index]
    return int(hourly) + int(daily)


def lifecycle_figures(settings: Settings, per_kind: int, days: int, folder: Path) -> dict[str, float]:
    dsn = settings.database_dsn()
    simulation.run_backfill(settings, days=days, per_kind=per_kind, devices=None, anomaly_rate=0.2, seed=7)
    out: dict[str, float] = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE readings")
    with psycopg.connect(dsn) as conn:
        n, per_reading = raw_bytes_per_reading(conn)
        out |= {"readings": n, "raw_bytes_per_reading": round(per_reading, 1)}
        started = time.perf_counter()
        rollups.work_off(conn, TZ)
        out["rollup_all_s"] = round(time.perf_counter() - started, 1)
        out["rollup_equals_raw"] = rollup_mismatches(conn) == 0
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)  # today stays hot
        before = conn.execute(
            "SELECT metric, device_id, time, value FROM readings WHERE time < %s ORDER BY 1, 2, 3", (today,)
        ).fetchall()
        where = archive.Archive(folder / "archive")
        started = time.perf_counter()
        done = archive.run(conn, where, older_than=today)
        out["archive_s"] = round(time.perf_counter() - started, 1)
        left = conn.execute("SELECT count(*) FROM readings").fetchone()[0]  # type: ignore[index]
    days_archived = sorted({w.date() for _, _, w, _ in before})  # type: ignore[attr-defined]
    after = []
    for day in days_archived:
        frame = archive.read_day(where, day)
        after += list(frame[["metric", "device_id", "time", "value"]].itertuples(index=False, name=None))
    after.sort(key=lambda r: (r[0], r[1], r[2]))
    out |= {
        "archived_readings": int(done["readings"]), "raw_left_after_archive": int(left),
        "archive_bytes_per_reading": round(done["bytes"] / max(1, done["readings"]), 2),
        "archive_ratio": round(per_reading / (done["bytes"] / max(1, done["readings"])), 1),
        "archive_roundtrip_readings": len(before),
        "archive_roundtrip_equal": len(before) == len(after)
        and digest(before) == digest([(m, d, t.to_pydatetime(), v) for m, d, t, v in after]),
    }  # fmt: skip
    return out


METRICS = ("pm25_ugm3", "pm10_ugm3", "no2_ppb", "o3_ppb", "temperature_c", "humidity_pct")
PG_EPOCH_US = 946_684_800_000_000  # PostgreSQL's binary timestamps count from 2000-01-01
HOUR_US = 3_600_000_000


def _array(oid: int, kind: str, values: np.ndarray) -> tuple[np.dtype[Any], np.ndarray]:
    """A binary COPY array field per row of ``values`` (rows x elements, no NULLs)."""
    count = values.shape[1]
    dtype = np.dtype([("head", ">i4", (5,)), ("items", [("len", ">i4"), ("value", kind)], (count,))])
    out = np.zeros(len(values), dtype=dtype)
    out["head"] = (1, 0, oid, count, 1)  # one dimension, no NULLs, element type, length, lower bound
    out["items"]["len"] = np.dtype(kind).itemsize
    out["items"]["value"] = values
    return dtype, out


def _text_array(items: tuple[str, ...]) -> bytes:
    head = struct.pack(">5i", 1, 0, TEXT_OID, len(items), 1)
    return head + b"".join(struct.pack(">i", len(i.encode())) + i.encode() for i in items)


def _binary_rows(fields: list[tuple[str, Any, object]], count: int) -> bytes:
    """``count`` rows of binary COPY, each field (name, numpy type, values) with its length word."""
    layout: list[tuple[str, Any]] = [("fields", ">i2")]
    for name, kind, _ in fields:
        layout += [(f"{name}_len", ">i4"), (name, kind)]
    rows = np.zeros(count, dtype=np.dtype(layout))
    rows["fields"] = len(fields)
    for name, kind, values in fields:
        rows[f"{name}_len"] = np.dtype(kind).itemsize
        rows[name] = values
    return rows.tobytes()


def ingest_load(dsn: str, fleet: tuple[int, int], rate: float, seconds: float, done: Any) -> None:
    """Ingest's own transaction at ``rate`` readings/s, from its own statements
    (``ingest.queries``): binary COPY of a batch of six-reading messages into the hypertable,
    the latest values staged and upserted, each reading's hour aggregates logged. The rows are encoded by
    numpy rather than decoded from MQTT: on two cores Python cannot decode 100,000 readings/s
    beside the database, and the database side of ingest is what the rollups compete with
    (bench/ingest.py measures decoding). Each of ``devices`` reports every
    ``devices * 6 / rate`` s (a city-sized fleet, not a few devices hammering the same rows)."""
    from ingest import queries as ingest_queries

    offset, devices = fleet
    names = np.array([f"load-{offset + i:07d}".encode() for i in range(devices)])
    width = f"S{len(names[0])}"
    per_batch = 500  # messages a batch, as ingest's batches hold at this rate
    metric_array = _text_array(METRICS)
    latest_metrics = _text_array(tuple(sorted(METRICS)))  # the latest values' arrays follow sorted metrics
    sent, step = 0, 0
    with psycopg.connect(dsn) as conn:
        conn.execute(ingest_queries.CREATE_STAGING)
        conn.execute(ingest_queries.CREATE_LATEST_STAGING)
        conn.commit()
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            who = names[(step * per_batch + np.arange(per_batch)) % devices]
            times = int(time.time() * 1e6) - np.arange(per_batch) - PG_EPOCH_US
            values = 10.0 + np.arange(per_batch) % 13
            hour = times // HOUR_US * HOUR_US
            body = b"".join(
                _binary_rows([("t", ">i8", times), ("d", width, who), ("m", f"S{len(m)}", m.encode()),
                              ("v", ">f8", values)], per_batch)
                for m in METRICS
            )  # fmt: skip
            each = np.repeat(values[:, None], len(METRICS), axis=1)
            stamps = np.repeat(times[:, None], len(METRICS), axis=1)
            latest = _binary_rows(  # a row per device, a metric an element (ingest._pgbinary.latest_rows)
                [("d", width, who), ("m", f"S{len(latest_metrics)}", latest_metrics),
                 ("t", *_array(TIMESTAMPTZ_OID, ">i8", stamps)), ("v", *_array(FLOAT8_OID, ">f8", each)),
                 ("oldest", ">i8", times), ("newest", ">i8", times)],
                per_batch,
            )  # fmt: skip
            # what ingest logs of a batch it stored:
            deltas = _binary_rows(  # the aggregates of each message's readings, a metric an element
                [("d", width, who), ("h", ">i8", hour), ("late", ">i4", 0),
                 ("m", f"S{len(metric_array)}", metric_array), ("n", *_array(INT4_OID, ">i4", np.ones_like(each))),
                 ("sum", *_array(FLOAT8_OID, ">f8", each)), ("min", *_array(FLOAT8_OID, ">f8", each)),
                 ("max", *_array(FLOAT8_OID, ">f8", each)), ("last", *_array(FLOAT8_OID, ">f8", each)),
                 ("last_time", *_array(TIMESTAMPTZ_OID, ">i8", stamps))],
                per_batch,
            )  # fmt: skip
            with conn.transaction(), conn.cursor() as cur:
                with cur.copy(ingest_queries.COPY_READINGS) as copy:
                    copy.write(HEADER + body + TRAILER)
                with cur.copy(ingest_queries.COPY_LATEST) as copy:
                    copy.write(HEADER + latest + TRAILER)
                cur.execute(ingest_queries.UPSERT_LATEST)
                with cur.copy(ingest_queries.COPY_ROLLUP_DELTAS) as copy:
                    copy.write(HEADER + deltas + TRAILER)
            sent += per_batch * len(METRICS)
            step += 1
            ahead = sent / rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
        writing_s = time.monotonic() - started
    done.put((sent, writing_s))


def lag_figures(
    settings: Settings, rate: float, seconds: float, devices: int, *, flat_out: bool = True
) -> dict[str, Any]:
    """Two ingest writers (processes) commit ``rate`` readings/s between them from a fleet of
    ``devices`` while the lifecycle loop runs at its default settings (a round of rollups,
    then ``storage_rollup_interval_s``); the log's oldest row's age is sampled every second.
    Then, with ``flat_out``, the same writers unthrottled: ``load_max_readings_per_s``."""
    from smartcity import storage_commands

    dsn = settings.database_dsn()
    spawn = multiprocessing.get_context("spawn")

    half = devices // 2

    def load(per_writer: float) -> tuple[float, list[float]]:
        done = spawn.Queue()
        writers = [spawn.Process(target=ingest_load, args=(dsn, (k * half, half), per_writer, seconds, done))
                   for k in range(2)]  # fmt: skip
        for w in writers:
            w.start()
        lags = []
        with psycopg.connect(dsn, autocommit=True) as conn:
            while any(w.is_alive() for w in writers):
                lag, _ = conn.execute(storage_queries.ROLLUP_LAG).fetchone()  # type: ignore[misc]
                lags.append(float(lag))
                time.sleep(1.0)
        # the writers' own time: a spawned process takes a second or two to start writing
        sent, writing_s = zip(*(done.get() for _ in writers), strict=True)
        return sum(sent) / max(writing_s), lags

    stop = threading.Event()
    loop_settings = settings.model_copy(update={"storage_archive_interval_s": 1e9})  # no archiving meanwhile
    lifecycle = threading.Thread(target=storage_commands.loop, args=(loop_settings, stop), daemon=True)
    lifecycle.start()
    achieved, lags = load(rate / 2)
    with psycopg.connect(dsn, autocommit=True) as conn:
        drain_started, deadline = time.monotonic(), time.monotonic() + 120
        while conn.execute(storage_queries.ROLLUP_LAG).fetchone()[1] and time.monotonic() < deadline:  # type: ignore[index]
            time.sleep(0.5)
        drained_s = time.monotonic() - drain_started
        drained = not conn.execute(storage_queries.ROLLUP_LAG).fetchone()[1]  # type: ignore[index]
        # the hours merged from ingest's logged aggregates equal the readings recomputed
        equal_after_load = drained and rollup_mismatches(conn, "load-%") == 0
    unthrottled, flat_out_lags = load(float("inf")) if flat_out else (0.0, [0.0])
    stop.set()
    lifecycle.join(120)
    figures = {
        "load_readings_per_s": round(achieved),
        "load_devices": devices,
        "rollup_lag_s": round(max(lags), 1),
        "rollup_lag_median_s": round(statistics.median(lags), 1),
        "rollup_lag_by_minute_s": [round(max(lags[i : i + 60]), 1) for i in range(0, len(lags), 60)],
        "rollup_drain_after_load_s": round(drained_s, 1),
        "rollup_equals_raw_after_load": equal_after_load,
        "load_max_readings_per_s": round(unthrottled),
        "rollup_lag_at_max_s": round(max(flat_out_lags), 1),
    }
    if not flat_out:
        del figures["load_max_readings_per_s"], figures["rollup_lag_at_max_s"]
    return figures


def year_figures(settings: Settings, devices: int, requests: int) -> dict[str, float]:
    dsn = settings.database_dsn()
    first = date.today() - timedelta(days=365)
    with psycopg.connect(dsn) as conn:
        conn.execute(
            """INSERT INTO devices (device_id, kind, district) SELECT format('yr-%%s', i), 'air', 'year'
               FROM generate_series(1, %s::int) AS i ON CONFLICT DO NOTHING""",
            (devices,),
        )
        conn.execute(
            """INSERT INTO rollup_daily (device_id, metric, day, n, mean, min, max, last, last_time, sum)
               SELECT format('yr-%%s', i), 'pm25_ugm3', %s::date + d, 288, 20 + 10 * sin(d / 20.0 + i), 1, 90, 22,
                      (%s::date + d)::timestamptz, 288 * (20 + 10 * sin(d / 20.0 + i))
               FROM generate_series(1, %s::int) AS i, generate_series(0, 365) AS d""",
            (first, first, devices),
        )
        conn.commit()
        conn.execute("ANALYZE rollup_daily")
        device_ms, district_ms = [], []
        for k in range(requests):
            t0 = time.perf_counter()
            frame = history.daily(conn, f"yr-{1 + (k * 37) % devices}", "pm25_ugm3", first, date.today())
            device_ms.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            district = history.district_daily(conn, "year", "pm25_ugm3", first, date.today())
            district_ms.append((time.perf_counter() - t0) * 1000)
    if len(frame) < 365 or len(district) < 365:
        raise RuntimeError(f"the year queries returned {len(frame)} and {len(district)} days")
    both = device_ms + district_ms
    return {"year_devices": devices, "year_query_p95_ms": round(float(np.percentile(both, 95)), 1),
            "year_device_p95_ms": round(float(np.percentile(device_ms, 95)), 1),
            "year_district_p95_ms": round(float(np.percentile(district_ms, 95)), 1)}  # fmt: skip


def backup_figures(settings: Settings, readings: int, folder: Path) -> dict[str, float]:
    dsn = settings.database_dsn()
    per_device = readings // 1000
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    with psycopg.connect(dsn) as conn:
        conn.execute("TRUNCATE readings")
        for first in range(0, 1000, 100):
            conn.execute(
                """INSERT INTO readings (time, device_id, metric, value)
                   SELECT %s - make_interval(secs => s * 300), format('bk-%%s', i), 'pm25_ugm3',
                          round((20 + 10 * sin(s / 40.0 + i))::numeric, 1)
                   FROM generate_series(%s::int, %s::int) AS i, generate_series(0, %s::int - 1) AS s""",
                (end, first, first + 99, per_device),
            )
            conn.commit()
        count = conn.execute("SELECT count(*) FROM readings").fetchone()[0]  # type: ignore[index]
    where = archive.Archive(folder / "archive")
    started = time.perf_counter()
    made = backup.backup(dsn, where, folder / "backup", bindir=find_bindir())
    backup_s = time.perf_counter() - started
    started = time.perf_counter()
    done = backup.restore(dsn, where, folder / "backup", bindir=find_bindir())
    restore_s = time.perf_counter() - started
    size = sum(p.stat().st_size for p in (folder / "backup").rglob("*") if p.is_file())
    return {"backup_readings": int(count), "backup_s": round(backup_s, 1), "backup_restore_s": round(restore_s, 1),
            "backup_bytes_per_reading": round(size / max(1, int(count)), 2), "restore_equal": bool(done["equal"]),
            "backup_manifest_readings": made["hot_readings"]}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--per-kind", type=int, default=38, help="devices of every kind (8 kinds)")
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--load-rate", type=float, default=100_000)
    parser.add_argument("--load-s", type=float, default=120)
    parser.add_argument(
        "--load-devices", type=int, default=20_000,
        help="the fleet the load comes from: twice the issue's city of 10,000 sensors, each sending six readings"
        " every 1.2 s at 100,000 readings/s",
    )  # fmt: skip
    parser.add_argument(
        "--stress-devices", type=int, default=200_000,
        help="a second load from a fleet this large (0: none), reported as stress_*: a run's work grows with the"
        " series reporting between two runs, up to the whole fleet's",
    )  # fmt: skip
    parser.add_argument("--year-devices", type=int, default=300)
    parser.add_argument("--backup-readings", type=int, default=10_000_000)
    args = parser.parse_args()
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as scratch, private_stack("bench-storage") as settings:
        folder = Path(scratch)
        figures |= lifecycle_figures(settings, args.per_kind, args.days, folder)
        figures |= lag_figures(settings, args.load_rate, args.load_s, args.load_devices)
        if args.stress_devices:
            stress = lag_figures(settings, args.load_rate, args.load_s, args.stress_devices, flat_out=False)
            figures |= {f"stress_{key}": value for key, value in stress.items()}
        figures |= year_figures(settings, args.year_devices, 40)
        if args.backup_readings:
            figures |= backup_figures(settings, args.backup_readings, folder)
    report(figures, as_json=args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
