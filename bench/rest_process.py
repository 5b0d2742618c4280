"""REST → PostgreSQL as a user times it: whole processes of ``brygga run``, a hand-written script and dlt (issue 22).

Run: ``.venv/bin/python -m bench.rest_process [--records N] [--rounds N] [--write]`` with PostgreSQL on
127.0.0.1 and the bench extra installed (``pip install -e '.[test,bench]'``: dlt). ``--memory`` instead
times one Brygga full load at 100,000 records and one at ``--records`` (say 1,000,000), for goal 2.

``bench.rest`` times loaders inside its own process, from a collected heap, Brygga with PostgreSQL
state. This one times what a user sees: each loader is a process of its own, timed from start to exit
(imports, start-up and the state database included), its peak RSS read from ``wait4``:

1. hand-written: ``python -m bench.rest_handwritten`` (httpx, 4 pages in flight, orjson, COPY and
   ``INSERT … ON CONFLICT`` every 5,000 records, its cursor the greatest ``updated_at`` in the table);
2. dlt: ``python -m bench.rest_dlt`` (``rest_api`` source, incremental ``updated_since``, merge on ``id``);
3. Brygga: ``brygga run customers`` in a project folder, default state (``brygga.db`` in the folder);
4. Brygga with ``state: postgresql://…`` (goal 3), the same otherwise.

The source is a local JSON API in its own process (``bench.rest``'s server): 100,000 customers, pages of
1,000 by ``?page=&per_page=``, ``updated_since`` (at or after) for increments, ``X-Total-Count``. Each
record has a first and last name, a status, a country name, a list of tags, a decimal as text, an ISO
timestamp and a nested address. The mapping has 10 fields: two expressions (the name joined, ``status ==
'active'``), a ``map`` (country names to codes), ``join`` (tags), ``decimal`` and ``datetime`` types.

Each round starts from empty target tables and state, and runs, with the loaders in a rotating order:
a full load, a run with nothing changed, a run after 1 % of the records changed; then, against the API
waiting 50 ms before every answer, a full load again. After each step the tables must hold the same rows.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import orjson

from bench.cli import BRYGGA, Figures, user_environment
from bench.postgres import SERVER, fresh_database, suffixed
from bench.rest import Api, Message, Scope, _content, serve_app
from bench.rest_handwritten import BATCH, NAMES, PAGE
from bench.results import write_section

BASE = datetime(2024, 1, 1)
COLUMNS = "id bigint PRIMARY KEY, name text, email text, phone text, active boolean, country text, tags text, " \
    "balance numeric(12,2), updated_at timestamptz, city text"  # fmt: skip
LOADERS = ("hand-written", "dlt", "Brygga", "Brygga, PostgreSQL state")
FULL, NOTHING, SOME, SLOW = "full load", "nothing changed", "1 % changed", "full load, 50 ms per page"
DELAYS = {0.0: (FULL, NOTHING, SOME), 0.05: (SLOW,)}
GOAL_SPEED = 2.0  # Brygga within 2× the hand-written script (goal 1)
GOAL_RSS = 110  # MB (goal 2)
GOAL_RSS_SCALE = 1.2  # at 1,000,000 records, of the 100,000-record figure (goal 2)
GOAL_STATE = 1.15  # SQLite state within 1.15× PostgreSQL state (goal 3)
SPEED_HEADER = f"Brygga / hand-written (goal ≤ {GOAL_SPEED:.0f}×)"

PROJECT = """\
version: 1
{state}systems:
  api:
    connector: rest
    base_url: "{api}"
    batch_size: {batch}
    streams:
      customers:
        path: /customers
        key: id
        records: data
        pagination: {{type: page, param: page, start: 1, size_param: per_page, size: {page}}}
        total: {{header: X-Total-Count}}
        incremental: {{cursor: updated_at, param: updated_since}}
  db: {{connector: sql, url: "{target}", batch_size: {batch}, streams: {{customers: {{table: customers, key: id}}}}}}
"""
SYNC = """\
source: api.customers
target: db.customers
fields:
  id: id
  name: "{{ record.first_name ~ ' ' ~ record.last_name }}"
  email: email
  phone: phone
  active: "{{ record.status == 'active' }}"
  country: {from: country, map: {Sverige: SE, Norge: "NO", Danmark: DK, Suomi: FI}}
  tags: {from: tags, transform: ["join:,"]}
  balance: {from: balance, type: decimal}
  updated_at: {from: updated_at, type: datetime}
  city: address.city
"""

# --- the source API (its own process) ---------------------------------------------------


def customer(n: int, change: int = 0) -> dict[str, Any]:
    """Customer ``n`` as the API gives it, after its ``change``-th change (0: never changed)."""
    updated = BASE + timedelta(days=1000 * change, seconds=n)
    return {
        "id": n,
        "first_name": f"Anna{n}",
        "last_name": f"Berg{n % 977}",
        "email": f"customer{n}@example.com",
        "phone": f"+46 70 {n:07d}",
        "status": ("active", "inactive", "blocked")[(n + change) % 3],
        "country": ("Sverige", "Norge", "Danmark", "Suomi")[n % 4],
        "tags": ["vip", "b2b", "newsletter"][: n % 3 + 1],
        "balance": f"{(n * 37 + change * 101) % 10_000_000 / 100:.2f}",
        "updated_at": updated.isoformat() + "Z",
        "address": {"street": f"Storgatan {n % 200 + 1}", "city": f"City {n % 100}", "zip": f"{10000 + n % 90000}"},
    }


class Customers:
    """The API's records: ``POST /change?generation=K`` changes 1 % of them, ``POST /reset`` none."""

    def __init__(self, records: int) -> None:
        self.records = records
        self.changed: dict[int, int] = {}
        self.full = {page: self.body(range(1, records + 1), page, PAGE) for page in range(1, self.pages(records) + 1)}
        self.cache: dict[tuple[str, int, int], bytes] = {}
        self.since: dict[str, list[int]] = {}

    @staticmethod
    def pages(count: int) -> int:
        return math.ceil(count / PAGE)

    def body(self, ids: range | list[int], page: int, per_page: int) -> bytes:
        chosen = ids[(page - 1) * per_page : page * per_page] if page >= 1 else []
        data = [customer(n, self.changed.get(n, 0)) for n in chosen]
        return orjson.dumps({"data": data, "total": len(ids), "pages": math.ceil(len(ids) / per_page)})

    def updated(self, n: int) -> datetime:
        return BASE + timedelta(days=1000 * self.changed.get(n, 0), seconds=n)

    def page(self, since: str | None, page: int, per_page: int) -> tuple[int, bytes]:
        """The record count and the body of ``page`` of the records updated at or after ``since``."""
        moment = datetime.fromisoformat(since).replace(tzinfo=None) if since else None
        if not self.changed and per_page == PAGE and (moment is None or moment <= BASE) and page in self.full:
            return self.records, self.full[page]
        key = since or ""
        if key not in self.since:
            everyone = range(1, self.records + 1)
            self.since[key] = list(everyone) if moment is None else [n for n in everyone if self.updated(n) >= moment]
        ids = self.since[key]
        if (key, page, per_page) not in self.cache:
            self.cache[key, page, per_page] = self.body(ids, page, per_page)
        return len(ids), self.cache[key, page, per_page]

    def change(self, generation: int) -> None:
        for n in range(generation % 100 or 100, self.records + 1, 100):
            self.changed[n] = generation
        self.cache.clear()
        self.since.clear()

    def reset(self) -> None:
        self.changed.clear()
        self.cache.clear()
        self.since.clear()


def api_app(records: int, delay: float) -> Callable[[Scope, Any, Any], Awaitable[None]]:
    customers = Customers(records)

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        query = {name: values[0] for name, values in parse_qs(scope["query_string"].decode()).items()}
        body, total = b"{}", 0
        if scope["path"] == "/change":
            customers.change(int(query["generation"]))
        elif scope["path"] == "/reset":
            customers.reset()
        else:
            page, per_page = int(query.get("page", "1")), int(query.get("per_page", str(PAGE)))
            total, body = customers.page(query.get("updated_since"), page, per_page)
            if delay:
                await asyncio.sleep(delay)
        headers = [(b"content-type", b"application/json"), (b"x-total-count", str(total).encode())]
        message: Message = {"type": "http.response.start", "status": 200, "headers": headers}
        await send(message)
        await send({"type": "http.response.body", "body": body})

    return app


# --- the loaders, each a process ------------------------------------------------------------

TARGETS = {
    "hand-written": "brygga_bench_rp_hand",
    "dlt": "brygga_bench_rp_dlt",
    "Brygga": "brygga_bench_rp_sqlite",
    "Brygga, PostgreSQL state": "brygga_bench_rp_pg",
}
STATE = "state"
"""The key in ``TARGETS`` of the state database of Brygga with PostgreSQL state."""
TARGETS[STATE] = "brygga_bench_rp_state"


def suffix_databases(suffix: str) -> None:
    """Name this run's databases ``…_<suffix>`` (see :func:`bench.postgres.suffixed`)."""
    for loader, name in TARGETS.items():
        TARGETS[loader] = suffixed(name, suffix)


async def fresh(folder: Path, api: str, loaders: tuple[str, ...]) -> None:
    """Empty target tables, no state anywhere: the project folders, dlt's folder and the state database anew."""
    for loader in loaders:
        await fresh_database(TARGETS[loader], *([] if loader == "dlt" else [f"CREATE TABLE customers ({COLUMNS})"]))
    await fresh_database(TARGETS[STATE])
    shutil.rmtree(folder, ignore_errors=True)
    for loader, state in (("Brygga", ""), ("Brygga, PostgreSQL state", f"state: {SERVER}/{TARGETS[STATE]}\n")):
        project = folder / loader
        (project / "mappings").mkdir(parents=True)
        (project / "mappings" / "customers.yaml").write_text(SYNC)
        target = f"{SERVER}/{TARGETS[loader]}"
        text = PROJECT.format(state=state, api=api, target=target, batch=BATCH, page=PAGE)
        (project / "brygga.yaml").write_text(text)
    (folder / "dlt").mkdir()


LAUNCHER = """\
import os, sys, time
started = time.perf_counter()
quiet = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)]
pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ, file_actions=quiet)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - started
print(os.waitstatus_to_exitcode(status), seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss)
"""
"""Starts a command and times it, from a small process of its own: a child's peak RSS (``ru_maxrss``)
counts its parent's memory up to its ``exec``, and this benchmark's own process holds dlt and Brygga."""


def measure(command: list[str], folder: Path) -> Figures:
    """The figures of one process running ``command`` in ``folder``."""
    launched = subprocess.run(
        [sys.executable, "-c", LAUNCHER, *command],
        cwd=folder,
        env=user_environment(),
        capture_output=True,
        text=True,
        check=False,
    )
    code, seconds, cpu, kib = launched.stdout.split()
    if launched.returncode or int(code):
        raise RuntimeError(f"{command} exited {code}: {launched.stderr}")
    return Figures(float(seconds), float(cpu), int(kib) / 1024)


def run(loader: str, folder: Path, api: str) -> Figures:
    """One whole process of ``loader``, timed."""
    target = f"{SERVER}/{TARGETS[loader]}"
    if loader == "hand-written":
        return measure([sys.executable, "-m", "bench.rest_handwritten", api, target], Path.cwd())
    if loader == "dlt":
        return measure([sys.executable, "-m", "bench.rest_dlt", api, target, str(folder / "dlt")], Path.cwd())
    return measure([BRYGGA, "run", "customers"], folder / loader)


async def agree(loaders: tuple[str, ...], step: str) -> None:
    """Every loader's table holds the same rows (dlt's in its own schema, ``bench``)."""
    contents = {
        loader: await _content(
            f"{SERVER}/{TARGETS[loader]}", "bench.customers" if loader == "dlt" else "customers", NAMES
        )
        for loader in loaders
    }
    if len(set(contents.values())) != 1:
        raise AssertionError(f"after {step}, the loaders' tables differ: {contents}")


async def steps(
    records: int, rounds: int, loaders: tuple[str, ...], delays: dict[float, tuple[str, ...]]
) -> dict[str, dict[str, list[Figures]]]:
    """Every figure of every round, by step and loader."""
    figures: dict[str, dict[str, list[Figures]]] = {}
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name) / "projects"
        for delay, names in delays.items():
            with Api(records, delay, module="bench.rest_process") as api:
                for round_ in range(rounds):
                    httpx.post(f"{api.url}/reset")
                    await fresh(folder, api.url, loaders)
                    order = loaders[round_ % len(loaders) :] + loaders[: round_ % len(loaders)]
                    for step in names:
                        if step == SOME:
                            httpx.post(f"{api.url}/change", params={"generation": round_ + 1})
                        for loader in order:
                            figures.setdefault(step, {}).setdefault(loader, []).append(run(loader, folder, api.url))
                        await agree(loaders, step)
                        print(step, {loader: f"{seconds[-1].seconds:.2f}" for loader, seconds in figures[step].items()},
                              file=sys.stderr, flush=True)  # fmt: skip
    return figures


# --- the report ---------------------------------------------------------------------------------


def median(figures: list[Figures]) -> Figures:
    return Figures(*(statistics.median(values) for values in zip(*figures, strict=True)))


def cell(figures: Figures, memory: bool = True) -> str:
    return f"{figures.seconds:.2f} s, {figures.mib:.0f} MB" if memory else f"{figures.seconds:.2f} s"


def report(records: int, rounds: int, figures: dict[str, dict[str, list[Figures]]]) -> str:
    medians = {step: {loader: median(each) for loader, each in by.items()} for step, by in figures.items()}
    speed = []
    for step, by in medians.items():
        ratio = by["Brygga"].seconds / by["hand-written"].seconds
        cells = " | ".join(cell(by[loader]) for loader in ("hand-written", "dlt", "Brygga"))
        speed.append(f"| {step} | {cells} | **{ratio:.2f}×** | {by['dlt'].seconds / by['Brygga'].seconds:.1f}× |")
    cpu = []
    for step, by in medians.items():
        cpu.append(f"| {step} | " + " | ".join(f"{by[loader].cpu:.2f}" for loader in LOADERS) + " |")
    full = medians[FULL]
    state = []
    for step, by in medians.items():
        ratio = by["Brygga"].seconds / by["Brygga, PostgreSQL state"].seconds
        state.append(f"| {step} | {cell(by['Brygga'])} | {cell(by['Brygga, PostgreSQL state'])} | **{ratio:.2f}×** |")
    rss = f"{full['hand-written'].mib:.0f} MB | {full['dlt'].mib:.0f} MB | **{full['Brygga'].mib:.0f} MB**"
    return (
        textwrap.dedent(f"""\
        REST → PostgreSQL, whole processes timed from start to exit as a user times them (see the module's
        docstring for the load: {records:,} customers, pages of {PAGE:,}, a 10-field mapping with two
        expressions, a `map`, `join`, `decimal` and `datetime`); median of {rounds} rounds, loaders in a
        rotating order; peak RSS of each process (`wait4`), in MiB (written MB). Brygga and the hand-written script
        write batches of {BATCH:,} with 4 pages in flight; dlt reads one page at a time.

        ### Goal 1: whole `brygga run` within 2× the hand-written script (default SQLite state)

        | run | hand-written httpx + asyncpg COPY | dlt | Brygga | {SPEED_HEADER} | dlt / Brygga |
        | --- | ---: | ---: | ---: | ---: | ---: |
        """)
        + "\n".join(speed)
        + textwrap.dedent(f"""


        CPU seconds (user + system) of each process:

        | run | {" | ".join(LOADERS)} |
        | --- | ---: | ---: | ---: | ---: |
        """)
        + "\n".join(cpu)
        + textwrap.dedent(f"""


        ### Goal 2: peak RSS of the full load at most {GOAL_RSS} MB

        | run | hand-written | dlt | Brygga | goal |
        | --- | ---: | ---: | ---: | ---: |
        | full load, {records:,} records | {rss} | ≤ {GOAL_RSS} MB |

        ### Goal 3: SQLite state within {GOAL_STATE}× PostgreSQL state

        | run | Brygga, SQLite state | Brygga, PostgreSQL state | SQLite / PostgreSQL (goal ≤ {GOAL_STATE}×) |
        | --- | ---: | ---: | ---: |
        """)
        + "\n".join(state)
        + "\n\nReproduce: `.venv/bin/python -m bench.rest_process --write` (about 5 minutes at 3 rounds).\n"
    )


def memory_report(sizes: dict[int, Figures]) -> str:
    small, large = min(sizes), max(sizes)  # the same size when --records is 100,000
    ratio = sizes[large].mib / sizes[small].mib
    rows = "\n".join(f"| {size:,} | {cell(figures)} | {figures.cpu:.2f} s |" for size, figures in sorted(sizes.items()))
    return (
        textwrap.dedent("""\
        One whole `brygga run` full load (default SQLite state) of the load of `bench.rest_process` at each
        size, one run each, peak RSS of the process (`wait4`).

        | records | wall time, peak RSS | CPU |
        | ---: | ---: | ---: |
        """)
        + rows
        + f"\n\n- peak RSS at {large:,} / at {small:,}: **{ratio:.2f}×** (goal at most {GOAL_RSS_SCALE}×); "
        f"at {small:,}: **{sizes[small].mib:.0f} MB** (goal at most {GOAL_RSS} MB)\n\n"
        f"Reproduce: `.venv/bin/python -m bench.rest_process --memory --records {large} --write`.\n"
    )


async def memory(records: int) -> dict[int, Figures]:
    sizes = {}
    for size in sorted({100_000, records}):
        figures = await steps(size, 1, ("Brygga",), {0.0: (FULL,)})
        sizes[size] = figures[FULL]["Brygga"][0]
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--memory", action="store_true", help="Brygga's full load at 100,000 and --records only")
    parser.add_argument("--write", action="store_true", help="write the figures to bench/RESULTS.md")
    parser.add_argument("--suffix", default="", help="end every database name with _SUFFIX (runs side by side)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--delay", type=float, default=0.0, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.serve:
        serve_app(api_app(options.records, options.delay))
        return
    if options.suffix:
        suffix_databases(options.suffix)
    if options.memory:
        text = memory_report(asyncio.run(memory(options.records)))
        title = "REST → PostgreSQL memory at scale (`python -m bench.rest_process --memory`)"
    else:
        text = report(
            options.records, options.rounds, asyncio.run(steps(options.records, options.rounds, LOADERS, DELAYS))
        )
        title = "REST → PostgreSQL, whole processes (`python -m bench.rest_process`)"
    print(text)
    if options.write:
        write_section(title, text)


if __name__ == "__main__":
    main()
