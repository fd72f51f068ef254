"""``smartcity up``: the whole city in one command, stopped cleanly by Ctrl-C.

Starts the local stack, migrates, loads the default district if missing, writes a few
weeks of history when the database holds no reading yet, then runs
ingest, the simulator, the analytics loop and the dashboard as child processes of
this one, each the same ``smartcity`` command a user could run alone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from smartcity import db, operators, simulation, stack, twin_commands
from smartcity.errors import SmartcityError
from smartcity.settings import Settings

CHILDREN = (
    ("ingest", ["ingest", "run"]),
    ("analytics", ["analytics", "loop"]),
    ("storage", ["storage", "run"]),  # rollups every 10 s; archive passes as the settings say
    ("dashboard", ["dashboard"]),
    ("sim", ["sim", "run"]),
)


def run_city(settings: Settings, *, duration_s: float | None = None) -> int:
    """Run everything until Ctrl-C/SIGTERM (or ``duration_s``). Returns non-zero if a service failed."""
    if not settings.dsn:
        for line in stack.up(settings):
            print(line, flush=True)
    applied = db.migrate(settings.database_dsn())
    if applied:
        print(f"database: applied {', '.join(applied)}", flush=True)
    twin_commands.load_district(settings, district=settings.district, only_if_missing=True)
    simulation.fill_history_if_empty(settings)  # a city with a past: forecasts and episodes from the first pass
    operator_note = _demo_operator(settings)

    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    procs: dict[str, subprocess.Popen[bytes]] = {}
    log_dir = settings.home / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["SMARTCITY_HOME"] = str(settings.home)
    # The demo's lifecycle: an archive pass every 10 minutes instead of hourly (its retention
    # stays the configured one; a demo's history is younger than it unless set lower).
    env.setdefault("SMARTCITY_STORAGE_ARCHIVE_INTERVAL_S", "600")
    for name, args in CHILDREN:
        with (log_dir / f"{name}.log").open("ab") as out:
            procs[name] = subprocess.Popen(
                [sys.executable, "-m", "smartcity.cli", *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,  # Ctrl-C reaches us only; we stop children in order
            )
    url = f"http://{settings.dashboard_host}:{settings.dashboard_port}/"
    if _wait_http(url + "healthz", 30, procs["dashboard"]):
        print(
            f"\nThe city is live: open {url}\n{operator_note}(logs in {log_dir}; Ctrl-C stops everything)\n", flush=True
        )
    failed = _supervise(settings, procs, stop, duration_s=duration_s, log_dir=log_dir)
    # Producers first, ingest last, so what was published is committed before exit.
    for name in ("sim", "dashboard", "analytics", "storage", "ingest"):
        proc = procs[name]
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    if failed:
        raise SmartcityError(failed)
    print("city stopped; 'smartcity stack down' stops the database and broker", flush=True)
    return 0


def _supervise(
    settings: Settings,
    procs: dict[str, subprocess.Popen[bytes]],
    stop: threading.Event,
    *,
    duration_s: float | None,
    log_dir: Path,
) -> str:
    """Watch the services until ``stop`` (or ``duration_s``), playing the demo's scenarios as
    they fall due; returns why a service failed, or an empty string."""
    failed = ""
    started = time.monotonic()
    played = 0
    while not stop.is_set():
        due = scenario_due(
            time.monotonic() - started,
            played,
            first_s=settings.demo_scenario_first_s,
            every_s=settings.demo_scenario_every_s,
        )
        if due is not None:
            played += 1
            threading.Thread(target=_play, args=(settings, due), name=f"demo-{due}", daemon=True).start()
        for name, proc in procs.items():
            if proc.poll() is not None:
                failed = f"{name} exited with code {proc.returncode}; see {log_dir / (name + '.log')}"
                stop.set()
        if duration_s is not None and time.monotonic() - started > duration_s:
            stop.set()
        stop.wait(0.5)
    return failed


# The demo's attract loop: the simulator's scenarios in turn, so a visitor sees the city react.
DEMO_SCENARIOS = ("rush_hour", "yellow_dust", "flood", "heat_wave")


def scenario_due(elapsed_s: float, played: int, *, first_s: float, every_s: float) -> str | None:
    """The scenario to start ``elapsed_s`` after the city went live, ``played`` having started
    already: the first at ``first_s``, the next every ``every_s``; None when none is due (or
    ``every_s`` is 0: the demo plays none)."""
    if every_s <= 0 or elapsed_s < first_s + played * every_s:
        return None
    return DEMO_SCENARIOS[played % len(DEMO_SCENARIOS)]


def _play(settings: Settings, name: str) -> None:
    """Ask the running simulator for ``name`` (from a thread: the supervisor's loop goes on)."""
    duration_s = settings.demo_scenario_duration_s
    print(f"demo: scenario {name} for {duration_s / 60:.0f} min", flush=True)
    try:
        simulation.trigger_scenario(settings, name, duration_s=duration_s, wait_s=10.0)
    except SmartcityError as exc:
        print(f"demo: scenario {name} not started: {exc}", flush=True)


def _demo_operator(settings: Settings) -> str:
    """On the local stack, an operator account the first time, so the demo's actions work.

    Its password is shown once and kept in ``<home>/demo-operator.txt`` (0600), for the
    person who runs the demo on this machine; elsewhere operators are added by hand.
    """
    if settings.environment != "local" or operators.load(settings):
        return ""
    password = operators.add(settings, "operator")
    note = settings.home / "demo-operator.txt"
    fd = os.open(note, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(f"operator {password}\n")
    return f"Operator sign-in (acknowledging anomalies): operator / {password} (kept in {note})\n"


def _wait_http(url: str, timeout_s: float, proc: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    return False
