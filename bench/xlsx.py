"""An Excel workbook into SQLite: `brygga run` against a hand-written calamine + sqlite3 script, in one run.

Issue 21.

Run: ``.venv/bin/python -m bench.xlsx [--rows N] [--rounds N] [--write]``; needs no database server.

A workbook of 100,000 rows and 10 columns (whole numbers, text, prices with decimals, dates, booleans) is
made once with openpyxl. Each round then times, in turn and in a rotating order, two whole processes that
read it and write every row into an empty SQLite table: a hand-written script (calamine's rows, a date
cell as ISO text, ``executemany`` in one transaction) and ``brygga run`` of an xlsx → SQL sync into a fresh
state database. The medians are compared with each other, so a busy machine slows both sides alike.
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
from datetime import date, timedelta
from pathlib import Path

import openpyxl

from app.config import load_project
from bench.cli import user_environment
from bench.results import write_section
from connectors.base import create_connector

BRYGGA = str(Path(sys.executable).parent / "brygga")
COLUMNS = ["id", "sku", "name", "price", "quantity", "valid_from", "active", "category", "weight", "note"]
BATCH = 5000
GOAL = 0.5
READ_ALONE = "the xlsx connector's read alone (in-process: no start-up, no writes)"

TABLE = (
    "CREATE TABLE products (id INTEGER PRIMARY KEY, sku TEXT, name TEXT, price NUMERIC, quantity INTEGER, "
    "valid_from DATE, active BOOLEAN, category TEXT, weight REAL, note TEXT)"
)

PROJECT = f"""\
version: 1
state: sqlite:///state.db
systems:
  sheets:
    connector: xlsx
    path: .
    batch_size: {BATCH}
    streams:
      products: {{file: products.xlsx, key: id}}
  db:
    connector: sql
    url: sqlite:///db.sqlite
    batch_size: {BATCH}
    streams:
      products: {{table: products, key: id}}
  copy:
    connector: sql
    url: sqlite:///copy.sqlite
    batch_size: {BATCH}
    streams:
      products: {{table: products, key: id}}
"""

FIELDS = "fields:\n" + "".join(f"  {name}: {name}\n" for name in COLUMNS)
SYNC = "source: sheets.products\ntarget: db.products\n" + FIELDS
SQL_SYNC = "source: copy.products\ntarget: db.products\n" + FIELDS
"""The same rows from a SQLite table (the workbook's, as the hand-written script wrote them): the engine's
own cost, the same in both syncs, shows apart from the workbook's."""

HAND_WRITTEN = textwrap.dedent(f"""\
    import sqlite3, sys
    from datetime import date
    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_path(sys.argv[1])
    rows = book.get_sheet_by_index(0).iter_rows()
    next(rows)

    def values(row):
        return [value.isoformat() if isinstance(value, date) else value for value in row]

    connection = sqlite3.connect(sys.argv[2])
    with connection:
        connection.executemany("INSERT INTO products VALUES ({", ".join("?" * len(COLUMNS))})", map(values, rows))
    connection.close()
""")


def make_workbook(path: Path, rows: int) -> None:
    """``rows`` rows of price-list data (write-only openpyxl: the workbook is never in memory whole)."""
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Products")
    sheet.append(COLUMNS)
    start = date(2024, 1, 1)
    for number in range(1, rows + 1):
        sheet.append(
            [
                number,
                f"SKU-{number:07d}",
                f"Product {number} åäö",
                round(number * 0.37 % 1000, 2),
                number % 500,
                start + timedelta(days=number % 365),
                number % 3 == 0,
                f"category {number % 17}",
                number % 997 / 8,
                "" if number % 5 else f"note {number}",
            ]
        )
    book.save(path)


def _fresh_target(folder: Path) -> None:
    for name in ("db.sqlite", "state.db"):
        (folder / name).unlink(missing_ok=True)
    connection = sqlite3.connect(folder / "db.sqlite")
    with connection:
        connection.execute(TABLE)
    connection.close()


def measure(command: list[str], folder: Path, rows: int) -> float:
    """Seconds from start to exit of one process writing every row into an empty table."""
    _fresh_target(folder)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=folder, env=user_environment(), capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{command} exited {done.returncode}: {done.stdout}{done.stderr}")
    connection = sqlite3.connect(folder / "db.sqlite")
    try:
        (count,) = connection.execute("SELECT count(*) FROM products").fetchone()
    finally:
        connection.close()
    if count != rows:
        raise RuntimeError(f"{command} wrote {count} rows, not {rows}")
    return seconds


def read_alone(folder: Path, rows: int) -> float:
    """Seconds the xlsx connector takes to read every record, in this process, writing nothing."""

    async def read() -> int:
        connector = create_connector(load_project(folder / "brygga.yaml", environ={}).systems["sheets"])
        return sum([len(batch.records) async for batch in connector.read("products", None, BATCH)])

    started = time.perf_counter()
    count = asyncio.run(read())
    seconds = time.perf_counter() - started
    if count != rows:
        raise RuntimeError(f"the connector read {count} records, not {rows}")
    return seconds


def rounds(rows: int, count: int) -> dict[str, list[float]]:
    """Each side's seconds over ``count`` rounds, interleaved, after one untimed pass each."""
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        make_workbook(folder / "products.xlsx", rows)
        (folder / "hand_written.py").write_text(HAND_WRITTEN)
        (folder / "brygga.yaml").write_text(PROJECT)
        (folder / "mappings").mkdir()
        (folder / "mappings" / "products.yaml").write_text(SYNC)
        (folder / "mappings" / "from-sqlite.yaml").write_text(SQL_SYNC)
        commands = {
            "hand-written calamine + sqlite3": [sys.executable, "hand_written.py", "products.xlsx", "db.sqlite"],
            "`brygga run` (xlsx → SQLite)": [BRYGGA, "run", "products"],
            "`brygga run` (SQLite → SQLite, the same rows)": [BRYGGA, "run", "from-sqlite"],
        }
        figures: dict[str, list[float]] = {name: [] for name in commands}
        for command in commands.values():  # one untimed pass each; the first leaves the rows for the copy
            measure(command, folder, rows)
            if not (folder / "copy.sqlite").exists():
                (folder / "db.sqlite").rename(folder / "copy.sqlite")
        names = list(commands)
        for number in range(count):
            shift = number % len(names)
            for name in names[shift:] + names[:shift]:
                figures[name].append(measure(commands[name], folder, rows))
            figures.setdefault(READ_ALONE, []).append(read_alone(folder, rows))
    return figures


def report(figures: dict[str, list[float]], rows: int, count: int) -> str:
    medians = {name: statistics.median(seconds) for name, seconds in figures.items()}
    hand_name, brygga_name, sql_name = list(figures)[:3]
    hand, brygga = medians[hand_name], medians[brygga_name]
    ratios = [h / b for h, b in zip(figures[hand_name], figures[brygga_name], strict=True)]
    table = "\n".join(f"| {name} | {seconds:.2f} | {rows / seconds:,.0f} |" for name, seconds in medians.items())
    met = "met" if hand / brygga >= GOAL else "**not met**"
    return (
        textwrap.dedent(f"""\
        A workbook of {rows:,} rows and {len(COLUMNS)} columns (whole numbers, text, decimals, dates, booleans;
        made by openpyxl) into an empty SQLite table, whole processes (start-up included), batches of
        {BATCH:,}; median of {count} interleaved rounds, Python {sys.version.split()[0]}, on a machine
        shared with other work.

        | run | seconds | records per second |
        | --- | ---: | ---: |
        """)
        + table
        + f"\n\n- `brygga run` / hand-written speed: **{hand / brygga:.2f}** (goal at least {GOAL}): {met}; "
        + f"round by round {min(ratios):.2f}–{max(ratios):.2f}\n"
        + f"- the same rows from SQLite take {medians[sql_name] / brygga:.2f} of the xlsx sync's time: the rest "
        + "is the workbook's\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="write the figures to bench/RESULTS.md")
    options = parser.parse_args()
    text = report(rounds(options.rows, options.rounds), options.rows, options.rounds)
    print(text)
    if options.write:
        write_section("Excel workbook → SQLite speed (`python -m bench.xlsx`)", text)


if __name__ == "__main__":
    main()
