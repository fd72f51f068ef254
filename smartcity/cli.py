"""The ``smartcity`` command line: the one place that wires the packages together."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence

from analytics.errors import AnalyticsError
from classroom.errors import ClassroomError
from dashboard.errors import DashboardError
from ingest.errors import IngestError
from sensors_sim.errors import SimError
from smartcity.errors import SmartcityError
from smartcity.settings import Settings, load_settings
from storage.errors import StorageError
from twin.errors import TwinError

log = logging.getLogger("smartcity")

Handler = Callable[[Settings, argparse.Namespace], int]


def _stack(settings: Settings, args: argparse.Namespace) -> int:
    from smartcity import stack

    if args.action == "up":
        for line in stack.up(settings):
            print(line)
    elif args.action == "down":
        for line in stack.down(settings):
            print(line)
    else:
        state = stack.status(settings)
        if args.json:
            print(json.dumps(state.as_dict()))
        else:
            print(f"database: {'running' if state.database_running else 'stopped'}  dsn: {state.database_dsn}")
            print(
                f"broker:   {'running' if state.broker_running else 'stopped'}  "
                f"{state.broker_host}:{state.broker_port} (demo listener {state.broker_demo_port or 'off'})"
            )
        return 0 if state.database_running and state.broker_running else 3
    return 0


def _db(settings: Settings, args: argparse.Namespace) -> int:
    from smartcity import db

    applied = db.migrate(settings.database_dsn())
    print(f"applied {len(applied)} migration(s){': ' + ', '.join(applied) if applied else ''}")
    return 0


def _ingest(settings: Settings, args: argparse.Namespace) -> int:
    from smartcity import services

    if args.action == "decode":
        return services.decode_file(settings, args.topic, args.file, source=args.source)
    return services.run_ingest(settings, workers=args.workers)


def _sim(settings: Settings, args: argparse.Namespace) -> int:
    from smartcity import simulation

    if args.action == "backfill":
        return simulation.run_backfill(
            settings, days=args.days, devices=args.devices, seed=args.seed, anomaly_rate=args.anomaly_rate,
            per_kind=args.per_kind, end=args.end,
        )  # fmt: skip
    if args.action == "truth":
        return simulation.export_truth(settings, run_id=args.run or "", csv_path=args.csv)
    if args.action == "scenario":
        if not args.scenario:
            raise SmartcityError("sim scenario needs a name: rush_hour, yellow_dust, heat_wave, flood or none")
        return simulation.trigger_scenario(settings, args.scenario, duration_s=args.duration or 1800.0)
    if args.scenario:
        raise SmartcityError(f"unexpected argument {args.scenario!r}: only 'sim scenario' takes a name")
    flaky = simulation.Flakiness(
        jitter_s=args.jitter,
        offline_share=args.offline_share,
        late_share=args.late_share,
        duplicate_share=args.duplicate_share,
    )
    return simulation.run_sim(
        settings,
        devices=args.devices,
        speed=args.speed,
        seed=args.seed,
        duration_s=args.duration,
        payload_format=args.format,
        malformed_share=args.malformed_share,
        anomaly_rate=args.anomaly_rate,
        flaky=flaky,
    )


def _twin(settings: Settings, args: argparse.Namespace) -> int:
    from smartcity import twin_commands

    options = {"encoding": args.encoding, "crs": args.crs, "mapping": args.map, "way_kind": args.way_kind}
    if args.action == "load-default":
        return twin_commands.load_district(settings, district=args.district or settings.district)
    if args.action == "lookup":
        return twin_commands.lookup(settings, " ".join(args.target), as_json=args.json)
    if args.action == "export":
        if not args.layer or not args.target:
            raise SmartcityError("twin export needs --layer and an output file (.geojson, .gpkg or .shp)")
        return twin_commands.export_layer(
            settings, args.layer, district=args.district or settings.district, out=args.target[0]
        )
    if not args.target or not args.layer:
        raise SmartcityError(f"twin {args.action} needs a layer file and --layer buildings|parcels|ways|areas")
    if args.action == "validate":
        return twin_commands.validate_layer(
            settings, args.target[0], args.layer, as_json=args.json, district=args.district, **options
        )
    return twin_commands.import_layer(
        settings, args.target[0], args.layer, district=args.district or settings.district, as_json=args.json,
        **options,
    )  # fmt: skip


def _class(settings: Settings, args: argparse.Namespace) -> int:
    from pathlib import Path

    from smartcity import classroom

    if args.action == "sync":
        print(f"class: the broker has {classroom.sync(settings)} class account(s)")
        return 0
    if args.action == "list":
        for m in classroom.members(settings, args.target):
            device = f"  drives {m['sim_device_id']}" if m["sim_device_id"] else ""
            print(
                f"{m['username']:32s} {m['role']:8s} {m['state']:8s} expires {m['expires_at']:%Y-%m-%d %H:%M}{device}"
            )
        return 0
    if not args.target:
        raise SmartcityError(f"class {args.action} needs a class id (or an account, for revoke)")
    if args.action == "revoke":
        print(f"class: revoked {classroom.revoke(settings, args.target)} account(s) of {args.target}")
        return 0
    if args.action == "export":
        csv_path, html_path = classroom.export(settings, args.target, Path(args.out))
        print(f"class: credentials sheet written to {csv_path} and {html_path} (keep them private)")
        return 0
    names = [n for n in (args.names or "").split(",") if n]
    if args.action == "create":
        created = classroom.create_class(
            settings, args.target, students=args.students, names=names, days=args.days, name=args.title or ""
        )
    else:
        created = classroom.add_students(settings, args.target, students=args.students, names=names)
    for c in created:
        print(f"{c.username:32s} {c.password}  {c.role}" + (f"  drives {c.sim_device_id}" if c.sim_device_id else ""))
    return 0


def _analytics(settings: Settings, args: argparse.Namespace) -> int:
    from smartcity import analytics_commands, services

    if args.action in ("detect", "forecast", "evaluate") and not args.csv:
        raise SmartcityError(f"analytics {args.action} needs --csv PATH (a file with a time and a value column)")
    if args.action == "score":
        return analytics_commands.score(settings, args)
    if args.action == "detect":
        return analytics_commands.detect_csv(settings, args)
    if args.action == "forecast":
        return analytics_commands.forecast_csv(settings, args)
    if args.action == "evaluate":
        return analytics_commands.evaluate_csv(settings, args)
    return services.run_analytics(settings, once=args.action == "run")


def _dashboard(settings: Settings, args: argparse.Namespace) -> int:
    from smartcity import services

    return services.run_dashboard(settings)


def _operator(settings: Settings, args: argparse.Namespace) -> int:
    from smartcity import operators

    if args.action == "list":
        for name in sorted(operators.load(settings)):
            print(name)
        return 0
    if not args.name:
        raise SmartcityError(f"operator {args.action} needs a name")
    if args.action == "remove":
        operators.remove(settings, args.name)
        print(f"operator {args.name} removed (signed-in sessions end when the dashboard restarts)")
        return 0
    given = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
    password = operators.add(settings, args.name, given)
    print(f"operator {args.name} added" + ("" if given else f"; password: {password}"))
    return 0


def _devices(settings: Settings, args: argparse.Namespace) -> int:
    from smartcity import devices_commands

    district = args.district or settings.district
    if args.action == "import":
        if not args.target:
            raise SmartcityError("devices import needs a file (CSV or GeoJSON)")
        return devices_commands.import_file(settings, args.target, crs=args.crs, district=district,
                                            dry_run=args.dry_run)  # fmt: skip
    if args.action == "list":
        return devices_commands.list_devices(settings, district=district, unplaced=args.unplaced, as_json=args.json)
    if args.action == "show":
        if not args.target:
            raise SmartcityError("devices show needs a device id or an external id")
        return devices_commands.show_device(settings, args.target)
    return devices_commands.export(settings, district=district, out=args.target or "-", fmt=args.format)


def _storage(settings: Settings, args: argparse.Namespace) -> int:
    from smartcity import services, storage_commands

    if args.action == "status":
        return storage_commands.status(settings, as_json=args.json)
    if args.action == "rollup":
        return storage_commands.rollup(settings, since=args.since)
    if args.action == "archive":
        return storage_commands.archive_old(settings, older_than_days=args.older_than_days)
    return storage_commands.loop(settings, services.stop_on_signals())


def _report(settings: Settings, args: argparse.Namespace) -> int:
    from smartcity import storage_commands

    return storage_commands.report_completeness(settings, hours=args.hours, district=args.district, as_csv=args.csv)


def _backup(settings: Settings, args: argparse.Namespace) -> int:
    from smartcity import storage_commands

    return storage_commands.make_backup(settings, args.folder)


def _restore(settings: Settings, args: argparse.Namespace) -> int:
    from smartcity import storage_commands

    return storage_commands.restore(settings, args.folder, yes=args.yes)


def _up(settings: Settings, args: argparse.Namespace) -> int:
    from smartcity import supervisor

    return supervisor.run_city(settings, duration_s=args.duration)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smartcity", description="Smart-city AIoT and digital-twin platform.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("stack", help="the private database cluster and broker")
    p.add_argument("action", choices=["up", "down", "status"])
    p.add_argument("--json", action="store_true", help="status as one JSON object")
    p.set_defaults(handler=_stack)

    p = sub.add_parser("db", help="database schema")
    p.add_argument("action", choices=["migrate"])
    p.set_defaults(handler=_db)

    p = sub.add_parser("ingest", help="land MQTT readings in TimescaleDB")
    p.set_defaults(handler=_ingest, action="run", workers=1)
    actions = p.add_subparsers(dest="action")
    run = actions.add_parser("run", help="consume the broker until stopped (the default)")
    run.add_argument("--workers", type=int, default=1, help="processes on a shared subscription")
    dec = actions.add_parser("decode", help="print what a payload decodes to, or why it is refused")
    dec.add_argument("--topic", required=True, help="topic the payload was published on; it names the device")
    dec.add_argument("file", nargs="?", default="-", help="payload file, - for standard input")
    dec.add_argument("--source", help="decode as this configured source would (SMARTCITY_INGEST_SOURCES_FILE)")

    p = sub.add_parser(
        "sim",
        help="simulated city devices",
        description="run: publish live; backfill: write history; scenario NAME: trigger a scenario "
        "in the running simulator; truth: export the labelled anomalies.",
    )
    p.add_argument("action", choices=["run", "backfill", "scenario", "truth"])
    p.add_argument("scenario", nargs="?", help="scenario: rush_hour, yellow_dust, heat_wave, flood, or none")
    p.add_argument("--devices", type=int, default=None)
    p.add_argument("--format", choices=["canonical", "senml"], default="canonical", help="run: payload format")
    p.add_argument("--malformed-share", type=float, default=0.0, help="run: share of deliberately broken messages")
    p.add_argument("--days", type=float, default=7.0, help="backfill: days of history up to now")
    p.add_argument("--anomaly-rate", type=float, default=0.2, help="labelled anomalies per device and day")
    p.add_argument(
        "--per-kind", type=int, default=None,
        help="backfill: this many devices of every kind (<kind>-<i>) instead of the district's fleet",
    )  # fmt: skip
    p.add_argument("--end", default=None, help="backfill: history up to this UTC time (ISO 8601) instead of now")
    p.add_argument("--jitter", type=float, default=0.0, help="run: stamp reports up to this many seconds early")
    p.add_argument("--offline-share", type=float, default=0.0, help="run: share of device-hours offline")
    p.add_argument("--late-share", type=float, default=0.0, help="run: share of messages delivered 60 s late")
    p.add_argument("--duplicate-share", type=float, default=0.0, help="run: share of messages delivered twice")
    p.add_argument("--run", help="truth: the run to export (default: all)")
    p.add_argument("--csv", default="-", help="truth: CSV file to write, - for standard output")
    p.add_argument("--speed", type=float, default=1.0, help="simulated seconds per wall second")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument(
        "--duration", type=float, default=None, help="run: stop after this many wall seconds; scenario: its length"
    )
    p.set_defaults(handler=_sim)

    p = sub.add_parser(
        "twin",
        help="the geospatial digital twin",
        description="load-default: build a shipped district (goyang, yeoksam); validate/import FILE: check and "
        "store an official layer; export FILE: write a stored layer; lookup PNU|ADDRESS: find a parcel.",
    )
    p.add_argument("action", choices=["load-default", "validate", "import", "export", "lookup"])
    p.add_argument("target", nargs="*", help="layer file, output file, or PNU / lot-number address")
    p.add_argument("--layer", choices=["buildings", "parcels", "ways", "areas"])
    p.add_argument("--district", help="district id (default: the settings' district)")
    p.add_argument("--encoding", help="attribute encoding, when detection is not wanted (e.g. cp949)")
    p.add_argument("--crs", help="the layer's CRS when the file has none or a wrong one (e.g. EPSG:5186)")
    p.add_argument("--map", action="append", default=[], metavar="OURS=THEIRS", help="map a column (repeatable)")
    p.add_argument("--way-kind", choices=["street", "stream"], help="ways: the kind of every line")
    p.add_argument("--json", action="store_true", help="validate/import/lookup: print JSON")
    p.set_defaults(handler=_twin)

    p = sub.add_parser(
        "class",
        help="classes of students publishing into the city",
        description="create ID: a class with a teacher and students; add-students ID; list [ID]; "
        "revoke ID|ACCOUNT; export ID --out DIR (CSV and a printable HTML sheet); sync: rewrite the broker's accounts.",
    )
    p.add_argument("action", choices=["create", "add-students", "list", "revoke", "export", "sync"])
    p.add_argument("target", nargs="?", help="class id, or an account (class.member) for revoke")
    p.add_argument("--students", type=int, default=None, help="create/add-students: how many (student01, ...)")
    p.add_argument("--names", help="create/add-students: comma-separated student names instead")
    p.add_argument("--days", type=float, default=1.0, help="create: days until the accounts expire")
    p.add_argument("--title", help="create: the class's name")
    p.add_argument("--out", default=".", help="export: folder for the sheet")
    p.set_defaults(handler=_class)

    p = sub.add_parser("analytics", help="forecasts and anomalies")
    p.add_argument("action", choices=["run", "loop", "score", "detect", "forecast", "evaluate"])
    p.add_argument("--csv", help="detect/forecast/evaluate: a CSV file with a time column and a value column")
    p.add_argument("--time-column", help="detect/forecast/evaluate: the time column's name (found when left out)")
    p.add_argument("--value-column", help="detect/forecast/evaluate: the value column's name (found when left out)")
    p.add_argument("--horizon", type=int, default=24, help="forecast/evaluate: steps ahead (the file's own step)")
    p.add_argument("--timezone", help="--csv: the zone of times without an offset (the city's by default)")
    p.add_argument("--format", choices=["csv", "json"], default="csv", help="detect/forecast/evaluate: output format")
    p.add_argument("--origins", type=int, default=20, help="evaluate: forecast origins spread over the file")
    p.add_argument("--history-days", type=float, default=28.0, help="evaluate: days of history each origin sees")
    p.add_argument("--run", help="score: the simulator run to score (the latest by default)")
    p.add_argument("--devices", default="%", help="score: a LIKE pattern of device ids")
    p.add_argument("--json", action="store_true", help="score: print the figures as JSON")
    p.set_defaults(handler=_analytics)

    p = sub.add_parser("dashboard", help="serve the dashboard")
    p.set_defaults(handler=_dashboard)

    p = sub.add_parser("operator", help="the dashboard's operator accounts")
    p.add_argument("action", choices=["add", "list", "remove"])
    p.add_argument("name", nargs="?")
    p.add_argument("--password-stdin", action="store_true", help="add: read the password from standard input")
    p.set_defaults(handler=_operator)

    p = sub.add_parser(
        "devices",
        help="the device registry",
        description="import FILE: register a CSV or GeoJSON of devices (placed by x/y, lon/lat, lot-number "
        "address or pnu), all or nothing; list [--unplaced]; show ID|EXTERNAL_ID; export [FILE] (CSV or GeoJSON).",
    )
    p.add_argument("action", choices=["import", "list", "show", "export"])
    p.add_argument("target", nargs="?", help="import: the file; show: an id; export: the output file (- for stdout)")
    p.add_argument("--crs", help="import: the CRS of x/y columns (e.g. EPSG:5186)")
    p.add_argument("--district", help="the twin's district (the settings' by default)")
    p.add_argument("--dry-run", action="store_true", help="import: check and place, write nothing")
    p.add_argument("--unplaced", action="store_true", help="list: only devices without a place")
    p.add_argument("--json", action="store_true", help="list: JSON instead of a table")
    p.add_argument("--format", choices=["csv", "geojson"], default="csv", help="export: file format")
    p.set_defaults(handler=_devices)

    p = sub.add_parser(
        "storage",
        help="rollups, the archive, retention",
        description="status: rows, bytes per reading per tier, chunks, archive, rollup lag; rollup [--since T]: "
        "bring the rollups up to date; archive [--older-than-days N]: archive and drop old raw days; run: the loop.",
    )
    p.add_argument("action", choices=["status", "rollup", "archive", "run"])
    p.add_argument("--json", action="store_true", help="status: one JSON line")
    p.add_argument("--since", help="rollup: re-mark every hour with readings from this time (after a bulk load)")
    p.add_argument("--older-than-days", type=float, help="archive: the age (the settings' retention by default)")
    p.set_defaults(handler=_storage)

    p = sub.add_parser("report", help="reports: completeness of every device's data")
    p.add_argument("what", choices=["completeness"])
    p.add_argument("--hours", type=float, default=24.0, help="the window, ending now")
    p.add_argument("--district", help="only this district's devices")
    p.add_argument("--csv", action="store_true", help="every device as CSV on standard output")
    p.set_defaults(handler=_report)

    p = sub.add_parser("backup", help="back up the database and the archive into a new folder")
    p.add_argument("folder")
    p.set_defaults(handler=_backup)

    p = sub.add_parser("restore", help="replace the database and the archive with a backup")
    p.add_argument("folder")
    p.add_argument("--yes", action="store_true", help="yes, replace what is there")
    p.set_defaults(handler=_restore)

    p = sub.add_parser("up", help="start the whole city: stack, twin, simulator, ingest, analytics, dashboard")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    p.set_defaults(handler=_up)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = load_settings()
        handler: Handler = args.handler
        return handler(settings, args)
    except (SmartcityError, ClassroomError, IngestError, TwinError, AnalyticsError, DashboardError, SimError,
            StorageError) as exc:  # fmt: skip
        print(f"smartcity: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
