"""Many syncs in one service: CPU, lateness and once-only runs of ``brygga serve`` (issue 22, goal 4).

Run: ``.venv/bin/python -m bench.many_syncs [--syncs N] [--minutes M] [--mode one|two|both] [--suffix S] [--write]``;
the two-replica mode needs PostgreSQL on 127.0.0.1:5432 (a fresh database ``brygga_bench_many_state``, or
``brygga_bench_many_state_S`` with ``--suffix S``: two runs on one server must not share it).

A temporary project holds ``--syncs`` syncs (default 300), each SQLite → SQLite with ``schedule: {every: 1m}``:
all read the same 10-row source table and each writes its own target table, after a first ``brygga run
--all``, so every scheduled run finds nothing changed. Then the real ``brygga serve`` runs (one process with
the default SQLite state; or two replicas on one PostgreSQL state database) for ``--minutes`` whole minutes:

- CPU: the serve processes' user and system time (``/proc/PID/stat``) over the window, as % of one core;
- lateness: each scheduled run's ``started_at`` in the runs table minus its slot. Interval schedules are
  aligned to a fixed epoch (``app.engine.scheduling``), so a 1-minute schedule's slot is the whole minute
  the run started in; the scheduler keeps only the last slot claimed (``states.last_slot``);
- once only: scheduled runs per sync per slot, for every slot in the window (0 is a missed run, 2 a
  double run);
- the split between replicas: the runs table does not name the process, but each run takes its sync's
  lease (``leases``: ``holder`` is ``host:pid:token``). The bench puts a trigger of its own on that table,
  logging each lease taken with its holder, and counts them per replica.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import asyncpg
import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from app.store.tables import RUNS
from bench.cli import BRYGGA, user_environment
from bench.postgres import execute, fresh_state_database, suffixed
from bench.results import write_section

GOAL_CPU = 10.0  # % of one core, on average
GOAL_LATE = 1.0  # seconds, p99
ROWS = 10
STATE_DATABASE = "brygga_bench_many_state"
PORT = 18700
TICKS = os.sysconf("SC_CLK_TCK")
LEASE_LOG = """
CREATE TABLE bench_lease_log (
    name text NOT NULL, holder text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE FUNCTION bench_log_lease() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR OLD.holder IS DISTINCT FROM NEW.holder OR OLD.expires_at < now() THEN
        INSERT INTO bench_lease_log (name, holder) VALUES (NEW.name, NEW.holder);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER bench_log_lease AFTER INSERT OR UPDATE ON leases FOR EACH ROW EXECUTE FUNCTION bench_log_lease();
"""
"""Logs who takes each lease: the bench's own table and trigger, in the bench's own state database."""


def sync_name(n: int) -> str:
    return f"sync-{n:03d}"


def make_project(folder: Path, syncs: int, state: str | None) -> None:
    """``syncs`` syncs from one 10-row SQLite table to a table each in another SQLite file."""
    with sqlite3.connect(folder / "source.db") as source:
        source.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, updated_at TEXT)")
        source.executemany(
            "INSERT INTO items VALUES (?, ?, ?)", [(n, f"item {n}", "2024-01-01T00:00:00") for n in range(1, ROWS + 1)]
        )
    with sqlite3.connect(folder / "target.db") as target:
        for n in range(syncs):
            target.execute(f"CREATE TABLE t{n:03d} (id INTEGER PRIMARY KEY, name TEXT)")
    streams = "\n".join(f"      t{n:03d}: {{table: t{n:03d}, key: id}}" for n in range(syncs))
    state_line = f'state: "{state}"\n' if state else ""
    (folder / "brygga.yaml").write_text(
        f"version: 1\n{state_line}systems:\n"
        "  src:\n    connector: sql\n    url: sqlite:///source.db\n"
        "    streams:\n      items: {table: items, key: id, cursor: updated_at}\n"
        f"  dst:\n    connector: sql\n    url: sqlite:///target.db\n    streams:\n{streams}\n"
        "mappings: [mappings/*.yaml]\n",
        encoding="utf-8",
    )
    (folder / "mappings").mkdir()
    for n in range(syncs):
        (folder / "mappings" / f"{sync_name(n)}.yaml").write_text(
            f"source: src.items\ntarget: dst.t{n:03d}\nmode: upsert\nschedule: {{every: 1m}}\n"
            "fields:\n  id: id\n  name: name\n",
            encoding="utf-8",
        )


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14 and 15 of the whole line)


def wait_ready(port: int, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"brygga serve on port {port} exited {process.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/syncs", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"brygga serve on port {port} not ready after {timeout:.0f} s")


class Run(NamedTuple):
    sync: str
    trigger: str
    status: str
    started_at: datetime


async def read_runs(url: str) -> list[Run]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            rows = (
                await connection.execute(select(RUNS.c.sync, RUNS.c.trigger, RUNS.c.status, RUNS.c.started_at))
            ).all()
    finally:
        await engine.dispose()
    return [Run(*row) for row in rows]


async def read_leases(url: str) -> list[tuple[str, str, datetime]]:
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch("SELECT name, holder, at FROM bench_lease_log")
    finally:
        await connection.close()
    return [(row["name"], row["holder"], row["at"]) for row in rows]


class Outcome(NamedTuple):
    mode: str
    syncs: int
    minutes: int
    cpu: float  # % of one core, all serve processes together
    cpu_each: list[float]
    late: list[float]  # seconds, one per scheduled run in the window
    per_slot: Counter[int]  # runs per (sync, slot) → how many (sync, slot) pairs
    statuses: Counter[str]
    replicas: Counter[str]  # lease holder pid → leases taken in the window
    profile: str


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Window(NamedTuple):
    """What the serve processes did in the window: their pids, CPU (% of one core each), slots, a py-spy dump."""

    pids: list[int]
    cpu_each: list[float]
    slots: list[datetime]
    profile: str


def py_spy_dump(pid: int) -> str:
    spy = Path(BRYGGA).parent / "py-spy"
    if not spy.exists():
        return ""
    return subprocess.run([str(spy), "dump", "--pid", str(pid)], capture_output=True, text=True, check=False).stdout


def serve(folder: Path, replicas: int, minutes: int, profile: bool) -> Window:
    """Run ``replicas`` ``brygga serve`` processes in ``folder`` through a window of ``minutes`` whole minutes."""
    environment = user_environment()
    processes = []
    for index in range(replicas):
        with (folder / f"serve{index}.log").open("wb") as log:
            command = [BRYGGA, "serve", "--port", str(PORT + index)]
            processes.append(subprocess.Popen(command, cwd=folder, env=environment, stdout=log, stderr=log))
    try:
        for index, process in enumerate(processes):
            wait_ready(PORT + index, process)
        # the window: from 5 s before a whole minute, for whole minutes; its slots are the minutes in it
        now = time.time()
        begin = (now // 60 + 1) * 60 - 5
        if begin - now < 10:
            begin += 60
        time.sleep(begin - time.time())
        before = [cpu_seconds(process.pid) for process in processes]
        first_slot = datetime.fromtimestamp(begin + 5, UTC)
        spy = ""
        if profile:
            time.sleep(5.5)  # into the first slot's runs
            spy = py_spy_dump(processes[0].pid)
        time.sleep(begin + 60 * minutes - time.time())
        after = [cpu_seconds(process.pid) for process in processes]
        time.sleep(20)  # the last slot's runs end; the window's CPU is already read
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
    cpu_each = [100 * (a - b) / (60.0 * minutes) for a, b in zip(after, before, strict=True)]
    slots = [first_slot + timedelta(minutes=k) for k in range(minutes)]
    return Window([process.pid for process in processes], cpu_each, slots, spy)


def minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def measure(syncs: int, minutes: int, replicas: int, profile: bool, state_database: str = STATE_DATABASE) -> Outcome:
    mode = "one process, SQLite state" if replicas == 1 else "two replicas, PostgreSQL state"
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        if replicas == 1:
            state_url, store_url = None, f"sqlite+aiosqlite:///{folder / 'brygga.db'}"
        else:
            url = asyncio.run(fresh_state_database(state_database))
            asyncio.run(execute(url, LEASE_LOG))
            state_url, store_url = url, url.replace("postgresql://", "postgresql+asyncpg://")
        make_project(folder, syncs, state_url)
        started = time.monotonic()
        subprocess.run([BRYGGA, "run", "--all"], cwd=folder, env=user_environment(), capture_output=True, check=True)
        print(f"{mode}: first load of {syncs} syncs in {time.monotonic() - started:.1f} s", file=sys.stderr)
        window = serve(folder, replicas, minutes, profile)
        runs = asyncio.run(read_runs(store_url))
    in_window = [run for run in runs if run.trigger == "schedule" and minute(run.started_at) in window.slots]
    late = [(run.started_at - minute(run.started_at)).total_seconds() for run in in_window]
    counts = Counter((run.sync, minute(run.started_at)) for run in in_window)
    per_slot: Counter[int] = Counter(counts[sync_name(n), slot] for n in range(syncs) for slot in window.slots)
    replicas_seen: Counter[str] = Counter()
    if state_url is not None:
        names = {str(pid): f"replica {index + 1}" for index, pid in enumerate(window.pids)}
        for name, holder, at in asyncio.run(read_leases(state_url)):
            if name.startswith("sync-") and minute(at) in window.slots:
                replicas_seen[names.get(holder.split(":")[1], holder)] += 1
    statuses = Counter(run.status for run in in_window)
    return Outcome(mode, syncs, minutes, sum(window.cpu_each), window.cpu_each, late, per_slot, statuses,
                   replicas_seen, window.profile)  # fmt: skip


def report(outcomes: list[Outcome]) -> str:
    parts = []
    for outcome in outcomes:
        expected = outcome.syncs * outcome.minutes
        cpu_met = "met" if outcome.cpu < GOAL_CPU else "**not met**"
        p99 = percentile(outcome.late, 0.99) if outcome.late else float("nan")
        late_met = "met" if p99 <= GOAL_LATE else "**not met**"
        each = " + ".join(f"{value:.1f}" for value in outcome.cpu_each) if len(outcome.cpu_each) > 1 else ""
        rows = [
            f"| CPU of `brygga serve`, % of one core (average) | {outcome.cpu:.1f} %{f' ({each})' if each else ''} "
            f"| under {GOAL_CPU:.0f} % | {cpu_met} |",
            f"| lateness of a scheduled start, p50 | {statistics.median(outcome.late):.2f} s | | |"
            if outcome.late
            else "| lateness, p50 | (no runs) | | |",
            f"| lateness of a scheduled start, p99 | {p99:.2f} s | at most {GOAL_LATE:.0f} s | {late_met} |",
            f"| lateness, max | {max(outcome.late, default=float('nan')):.2f} s | | |",
        ]
        missed, doubled = outcome.per_slot.get(0, 0), sum(v for k, v in outcome.per_slot.items() if k > 1)
        once = "met" if missed == 0 and doubled == 0 else "**not met**"
        rows.append(
            f"| scheduled runs (syncs × slots = {expected}) | {len(outcome.late)}: "
            f"{outcome.per_slot.get(1, 0)} slots once, {missed} missed, {doubled} more than once | each once | {once} |"
        )
        if outcome.replicas:
            split = ", ".join(f"{name}: {count}" for name, count in sorted(outcome.replicas.items()))
            spread = "met" if len(outcome.replicas) > 1 else "**not met**"
            rows.append(f"| runs per replica (leases taken) | {split} | over both | {spread} |")
        statuses = ", ".join(f"{name} {count}" for name, count in sorted(outcome.statuses.items()))
        parts.append(
            f"### {outcome.mode}\n\n{outcome.syncs} syncs, {outcome.minutes} whole minutes; "
            f"run statuses: {statuses}.\n\n"
            "| measure | today | goal | |\n| --- | ---: | ---: | --- |\n" + "\n".join(rows) + "\n"
        )
    intro = textwrap.dedent(f"""\
        `brygga serve` (the real process, started by the CLI) with SQLite → SQLite syncs, each `schedule:
        {{every: 1m}}`, nothing changing (a first `brygga run --all` before), Python {sys.version.split()[0]},
        on a 2-core machine shared with other work. CPU is the serve processes' user + system time over the
        window (`/proc/PID/stat`); lateness is a scheduled run's `started_at` (runs table) minus its slot,
        the whole minute (interval schedules are aligned to a fixed epoch); the replicas' split counts the
        sync leases each process took (a trigger of the bench's on the `leases` table). Reproduce:
        `python -m bench.many_syncs --minutes 10 --write` (PostgreSQL on 127.0.0.1 for the replicas).
        """)
    return intro + "\n" + "\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--syncs", type=int, default=300)
    parser.add_argument("--minutes", type=int, default=10)
    parser.add_argument("--mode", choices=("one", "two", "both"), default="both")
    parser.add_argument("--profile", action="store_true", help="print a py-spy dump of the serve process")
    parser.add_argument("--write", action="store_true", help="write the figures to bench/RESULTS.md")
    parser.add_argument("--suffix", default="", help="end the state database's name with _SUFFIX (runs side by side)")
    options = parser.parse_args()
    state_database = suffixed(STATE_DATABASE, options.suffix)  # a bad suffix stops here, before any minute
    modes = {"one": [1], "two": [2], "both": [1, 2]}[options.mode]
    outcomes = [
        measure(options.syncs, options.minutes, replicas, options.profile, state_database) for replicas in modes
    ]
    text = report(outcomes)
    print(text)
    for outcome in outcomes:
        if outcome.profile:
            print(f"--- py-spy dump, {outcome.mode} ---\n{outcome.profile}")
    if options.write:
        write_section("Many syncs in one service (`python -m bench.many_syncs`)", text)


if __name__ == "__main__":
    main()
