"""A nothing-changed two-way run against two one-way runs over the same streams, in one run (issue 19).

Run: ``.venv/bin/python -m bench.two_way [--rows N] [--rounds N] [--write]``; needs no database server.

Two SQLite databases hold the same ``--rows`` records (a CRM's contacts, an ERP's customers, each
with a change-time cursor). One project links them with a two-way sync; another, over the very same
files, with two one-way syncs (CRM → ERP and ERP → CRM; two projects, because a project refuses two
syncs writing one field). Each is run once to link every pair. Then each round times, in a rotating
order, a two-way run and the two one-way runs one after the other, all with nothing changed (each
reads its streams from their cursors), in this process.

The goal (at most 1.2×) stands for the two-way sync as written by default (``delete_in: []``: a run
reads what changed) against two ``upsert`` syncs. A two-way sync that carries deletes (``delete_in:
[a, b]``) ends each run by asking both sides for all their keys, as a ``mirror`` sync asks its
source: it is timed too, against two one-way ``mirror`` syncs, the same work.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from app.engine.runner import RunOptions, open_engine
from app.engine.workspace import open_workspace
from bench.results import write_section

GOAL = 1.2
MODES = ("mirror", "upsert")

SYSTEMS = """\
version: 1
state: sqlite:///state.db
systems:
  crm:
    connector: sql
    url: sqlite:///{data}/crm.db
    batch_size: 5000
    streams: {{contacts: {{table: contacts, key: id, cursor: updated_at, delete: hard}}}}
  erp:
    connector: sql
    url: sqlite:///{data}/erp.db
    batch_size: 5000
    streams: {{customers: {{table: customers, key: customer_no, cursor: modified_at, delete: hard}}}}
"""
TWO_WAY = """\
two_way: {a: crm.contacts, b: erp.customers, wins: a, delete_in: DELETE_IN}
to_b: {customer_no: id, email: email, phone: phone, name: name}
to_a: {id: customer_no, email: email, phone: phone, name: name}
"""
FIELDS_TO_ERP = "{customer_no: id, email: email, phone: phone, name: name}"
FIELDS_TO_CRM = "{id: customer_no, email: email, phone: phone, name: name}"
TO_ERP = "source: crm.contacts\ntarget: erp.customers\nmode: {mode}\nfields: " + FIELDS_TO_ERP + "\n"
TO_CRM = "source: erp.customers\ntarget: crm.contacts\nmode: {mode}\nfields: " + FIELDS_TO_CRM + "\n"


def _databases(data: Path, rows: int) -> None:
    """Both databases, holding the same records."""
    for name, table, key, stamp in (
        ("crm", "contacts", "id", "updated_at"),
        ("erp", "customers", "customer_no", "modified_at"),
    ):
        connection = sqlite3.connect(data / f"{name}.db")
        with connection:
            connection.execute(
                f"CREATE TABLE {table} ({key} INTEGER PRIMARY KEY, email TEXT, phone TEXT, name TEXT, {stamp} TEXT)"
            )
            connection.executemany(
                f"INSERT INTO {table} VALUES (?, ?, ?, ?, ?)",
                ((n, f"p{n}@example.com", f"070{n}", f"Person {n}", f"2024-01-01 00:{n // 60 % 60:02}:{n % 60:02}")
                 for n in range(rows)),
            )  # fmt: skip
        connection.close()


def _project(folder: Path, data: Path, syncs: dict[str, str]) -> Path:
    folder.mkdir()
    (folder / "mappings").mkdir()
    (folder / "brygga.yaml").write_text(SYSTEMS.format(data=data))
    for name, text in syncs.items():
        (folder / "mappings" / f"{name}.yaml").write_text(text)
    return folder / "brygga.yaml"


async def _timed(project: Path, syncs: list[str]) -> float:
    """Seconds to run ``syncs`` one after the other, the engine opened as ``brygga run`` opens it."""
    started = time.perf_counter()
    async with open_engine(open_workspace(project, environ={})) as engine:
        for sync in syncs:
            run = await engine.run(sync, RunOptions())
            if run.status != "succeeded" or run.counts.changed:
                raise RuntimeError(f"{sync}: {run.status}, {run.counts}: not a nothing-changed run")
    return time.perf_counter() - started


async def measure(rows: int, rounds: int) -> tuple[dict[str, list[float]], dict[str, list[float]], float]:
    """(two-way seconds, two one-way runs' seconds) by mode per round, and the seconds the first two-way run took."""
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        data = root / "data"
        data.mkdir()
        _databases(data, rows)
        two_way = {
            mode: _project(root / f"two-way-{mode}", data, {"both": TWO_WAY.replace("DELETE_IN", deletes)})
            for mode, deletes in (("upsert", "[]"), ("mirror", "[a, b]"))
        }
        one_way = {
            mode: _project(
                root / mode, data, {"to-erp": TO_ERP.replace("{mode}", mode), "to-crm": TO_CRM.replace("{mode}", mode)}
            )
            for mode in MODES
        }
        started = time.perf_counter()
        async with open_engine(open_workspace(two_way["upsert"], environ={})) as engine:
            linked = await engine.run("both", RunOptions())
        first = time.perf_counter() - started
        async with open_engine(open_workspace(two_way["mirror"], environ={})) as engine:
            await engine.run("both", RunOptions())
        for project in one_way.values():
            async with open_engine(open_workspace(project, environ={})) as engine:
                for sync in ("to-erp", "to-crm"):
                    await engine.run(sync, RunOptions())
        if linked.status != "succeeded":
            raise RuntimeError(f"the first two-way run: {linked.status}: {linked.error}")
        two: dict[str, list[float]] = {mode: [] for mode in MODES}
        one: dict[str, list[float]] = {mode: [] for mode in MODES}
        for number in range(rounds + 1):
            order = [(two_way[mode], ["both"], two[mode]) for mode in MODES]
            order += [(one_way[mode], ["to-erp", "to-crm"], one[mode]) for mode in MODES]
            for project, syncs, figures in order if number % 2 else reversed(order):
                seconds = await _timed(project, syncs)
                if number:  # the first round only warms up
                    figures.append(seconds)
        return two, one, first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--write", action="store_true", help="write the figures into bench/RESULTS.md")
    options = parser.parse_args()
    two, one, first = asyncio.run(measure(options.rows, options.rounds))
    median = {
        (kind, mode): statistics.median(runs[mode]) for kind, runs in (("two", two), ("one", one)) for mode in MODES
    }
    ratio = median["two", "upsert"] / median["one", "upsert"]
    ratios = [a / b for a, b in zip(two["upsert"], one["upsert"], strict=True)]
    carrying = median["two", "mirror"] / median["one", "mirror"]
    body = f"""\
SQLite ↔ SQLite, {options.rows:,} linked pairs, 4 mapped fields, nothing changed: each run reads its
streams from their cursors. Median of {options.rounds} interleaved rounds, each opening the engine as
`brygga run` does.

| run | seconds |
| --- | ---: |
| two-way (`delete_in: []`, the default), nothing changed | {median["two", "upsert"]:.3f} |
| two one-way `upsert` runs (CRM → ERP, ERP → CRM), nothing changed | {median["one", "upsert"]:.3f} |
| two-way carrying deletes (`delete_in: [a, b]`: every key of both sides read), nothing changed | \
{median["two", "mirror"]:.3f} |
| two one-way `mirror` runs (every key of each source read), nothing changed | {median["one", "mirror"]:.3f} |
| the first two-way run, linking every pair | {first:.1f} |

- two-way / two one-way: **{ratio:.2f}** (goal at most {GOAL}); round by round
  {min(ratios):.2f}–{max(ratios):.2f}
- carrying deletes, two-way / two one-way `mirror`: {carrying:.2f}
"""
    print(body)
    if options.write:
        write_section("Two-way syncs (`python -m bench.two_way`)", body)


if __name__ == "__main__":
    main()
