"""Whole syncs: PostgreSQL → PostgreSQL against hand-written asyncpg, and memory against row count.

Run: ``.venv/bin/python -m bench.sync [--rows N] [--write]`` with PostgreSQL on 127.0.0.1.

1. Speed: 100,000 rows from one PostgreSQL database to another, by Brygga
   (``brygga run``'s engine, state in PostgreSQL) and by a hand-written asyncpg
   baseline (read in chunks, COPY into a temporary table, ``INSERT … ON
   CONFLICT``), in the same process, alternately; then Brygga again with
   nothing changed.
2. Memory: peak RSS of a ``brygga run`` subprocess syncing SQLite → SQLite
   at 100,000 and at 1,000,000 rows.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import asyncpg

from app.engine.garbage_collection import tune_garbage_collection
from app.engine.runner import RunOptions, open_engine
from app.engine.workspace import open_workspace
from bench.postgres import SERVER, fresh_database, fresh_state_database
from bench.results import write_section

COLUMNS = "id bigint PRIMARY KEY, name text, email text, phone text, city text, country text, " \
    "credit numeric(12,2), active boolean, created date, updated_at timestamp NOT NULL"  # fmt: skip
NAMES = ["id", "name", "email", "phone", "city", "country", "credit", "active", "created", "updated_at"]

PROJECT = """\
version: 1
state: {state}
systems:
  src:
    connector: sql
    url: "{source}"
    batch_size: 5000
    streams: {{people: {{table: people, key: id, cursor: updated_at}}}}
  dst: {{connector: sql, url: "{target}", batch_size: 5000, streams: {{people: {{table: people, key: id}}}}}}
"""
SYNC = """\
source: src.people
target: dst.people
fields:
""" + "".join(f"  {name}: {name}\n" for name in NAMES)


async def _prepare(rows: int) -> tuple[str, str, str]:
    source = await fresh_database("brygga_bench_source")
    connection = await asyncpg.connect(source)
    try:
        await connection.execute(f"CREATE TABLE people ({COLUMNS})")
        await connection.execute(
            """INSERT INTO people SELECT n, 'Name ' || n, 'person' || n || '@example.com', '+46 70 ' || n,
               'City ' || (n % 100), 'SE', (n % 100000) / 100.0, n % 2 = 0, DATE '2020-01-01' + (n % 1000),
               TIMESTAMP '2024-01-01' + n * INTERVAL '1 second' FROM generate_series(1, $1) AS n""",
            rows,
        )
    finally:
        await connection.close()
    return source, f"{SERVER}/brygga_bench_target", f"{SERVER}/brygga_bench_state"


async def _fresh_target(target: str, state: str) -> None:
    await fresh_database(target.rsplit("/", 1)[1])
    await fresh_state_database(state.rsplit("/", 1)[1])
    connection = await asyncpg.connect(target)
    try:
        await connection.execute(f"CREATE TABLE people ({COLUMNS})")
    finally:
        await connection.close()


async def hand_written(source: str, target: str) -> None:
    """What an engineer would write by hand: chunked read, COPY to a temp table, one upsert."""
    reader, writer = await asyncpg.connect(source), await asyncpg.connect(target)
    try:
        updates = ", ".join(f"{name} = excluded.{name}" for name in NAMES[1:])
        async with reader.transaction():
            cursor = await reader.cursor(f"SELECT {', '.join(NAMES)} FROM people ORDER BY id")
            while rows := await cursor.fetch(5000):
                async with writer.transaction():
                    await writer.execute("CREATE TEMP TABLE incoming (LIKE people) ON COMMIT DROP")
                    await writer.copy_records_to_table("incoming", records=rows, columns=NAMES)
                    await writer.execute(
                        f"INSERT INTO people SELECT * FROM incoming ON CONFLICT (id) DO UPDATE SET {updates}"
                    )
    finally:
        await reader.close()
        await writer.close()


async def brygga(folder: Path, full: bool = False) -> float:
    started = time.perf_counter()
    async with open_engine(open_workspace(folder / "brygga.yaml", environ={})) as engine:
        run = await engine.run("people", RunOptions(full=full))
    assert run.status == "succeeded", run
    return time.perf_counter() - started


async def speed(rows: int, rounds: int) -> str:
    source, target, state = await _prepare(rows)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / "mappings").mkdir()
        (folder / "brygga.yaml").write_text(PROJECT.format(state=state, source=source, target=target))
        (folder / "mappings" / "people.yaml").write_text(SYNC)
        ours, theirs, unchanged, reread = [], [], [], []
        for _ in range(rounds):
            await _fresh_target(target, state)
            started = time.perf_counter()
            await hand_written(source, target)
            theirs.append(time.perf_counter() - started)
            await _fresh_target(target, state)
            ours.append(await brygga(folder))
            reread.append(await brygga(folder, full=True))
            unchanged.append(await brygga(folder))
    full, base, nothing = statistics.median(ours), statistics.median(theirs), statistics.median(unchanged)
    again = statistics.median(reread)
    ratios = sorted(their / our for their, our in zip(theirs, ours, strict=True))  # each round's own
    return textwrap.dedent(f"""\
        PostgreSQL → PostgreSQL, {rows:,} rows of 10 columns, state in PostgreSQL (its schema created before
        each timed run, as the target table is), median of {rounds} rounds.

        | run | seconds | rows per second |
        | --- | ---: | ---: |
        | hand-written asyncpg (COPY + INSERT … ON CONFLICT) | {base:.2f} | {rows / base:,.0f} |
        | Brygga, full sync into an empty target | {full:.2f} | {rows / full:,.0f} |
        | Brygga, `--full` again, nothing changed (all read, hashed, compared) | {again:.2f} | {rows / again:,.0f} |
        | Brygga, a scheduled run, nothing changed (reads from its cursor) | {nothing:.2f} | {rows / nothing:,.0f} |

        - full sync / hand-written speed: **{base / full:.2f}** (goal at least 0.5); round by round
          {ratios[0]:.2f}–{ratios[-1]:.2f}
        - a run with nothing changed is **{full / again:.1f}×** faster than the full sync when it re-reads
          every row (`--full`), and **{full / nothing:.0f}×** when it reads from its cursor (goal at least 5)
        """)


def _sqlite_project(folder: Path, rows: int) -> Path:
    (folder / "mappings").mkdir(parents=True)
    (folder / "brygga.yaml").write_text(
        PROJECT.format(state="sqlite:///state.db", source="sqlite:///source.db", target="sqlite:///target.db")
    )
    (folder / "mappings" / "people.yaml").write_text(SYNC)
    schema = COLUMNS.replace("bigint", "INTEGER").replace("numeric(12,2)", "NUMERIC")
    for name in ("source.db", "target.db"):
        with sqlite3.connect(folder / name) as connection:
            connection.execute(f"CREATE TABLE people ({schema})")
        connection.close()
    with sqlite3.connect(folder / "source.db") as connection:
        connection.executemany(
            "INSERT INTO people VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (_sqlite_row(n) for n in range(rows)),
        )
    connection.close()
    return folder / "brygga.yaml"


def _sqlite_row(n: int) -> tuple[object, ...]:
    stamp = f"2024-01-01 00:00:{n % 60:02d}"
    return (
        n,
        f"Name {n}",
        f"person{n}@example.com",
        f"+46 70 {n}",
        f"City {n % 100}",
        "SE",
        (n % 100000) / 100,
        n % 2,
        "2020-01-01",
        stamp,
    )


def peak_memory(rows: int) -> tuple[float, float]:
    """(peak RSS in MiB, seconds) of ``brygga run`` syncing ``rows`` rows SQLite → SQLite."""
    with tempfile.TemporaryDirectory() as name:
        project = _sqlite_project(Path(name), rows)
        command = [str(Path(sys.executable).parent / "brygga"), "run", "people", "-c", str(project)]
        script = (
            "import resource, subprocess, sys, time; t = time.perf_counter();"
            f"r = subprocess.run({command!r}, capture_output=True);"
            "assert r.returncode == 0, r.stdout + r.stderr;"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, time.perf_counter() - t)"
        )
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
        kib, seconds = result.stdout.split()
        return int(kib) / 1024, float(seconds)


def memory(small: int, large: int) -> str:
    (small_mib, small_s), (large_mib, large_s) = peak_memory(small), peak_memory(large)
    return textwrap.dedent(f"""\
        SQLite → SQLite, 10 columns, batches of 5,000, peak RSS of the `brygga run` process.

        | rows | peak RSS | seconds |
        | ---: | ---: | ---: |
        | {small:,} | {small_mib:.0f} MiB | {small_s:.1f} |
        | {large:,} | {large_mib:.0f} MiB | {large_s:.1f} |

        - peak memory at {large:,} / at {small:,}: **{large_mib / small_mib:.2f}** (goal at most 1.3)
        """)


def main() -> None:
    tune_garbage_collection()  # as `brygga run` does
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--memory-rows", type=int, nargs=2, default=(100_000, 1_000_000))
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--write", action="store_true", help="write the figures to bench/RESULTS.md")
    options = parser.parse_args()
    report = asyncio.run(speed(options.rows, options.rounds))
    print(report)
    if options.write:
        write_section("Sync speed (`python -m bench.sync`)", report)
    if not options.skip_memory:
        report = memory(*options.memory_rows)
        print(report)
        if options.write:
            write_section("Memory (`python -m bench.sync`)", report)


if __name__ == "__main__":
    main()
