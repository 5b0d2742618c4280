"""REST → PostgreSQL: Brygga against a hand-written httpx + asyncpg loader and against dlt.

Run: ``.venv/bin/python -m bench.rest [--records N] [--write]`` with PostgreSQL on 127.0.0.1 and the
bench extra installed (``pip install -e '.[bench]'``: dlt).

The source is a local JSON API in its own process (uvicorn on 127.0.0.1), serving
pre-rendered pages so that it is never the bottleneck: ``GET /people?page=N&per_page=1000``
answers ``{"data": [...], "total": records, "pages": pages}`` with an ``X-Total-Count`` header.
Each record has 15 fields once its two nested objects (``address``, ``stats``) are flattened:
integers, text, a decimal as text, a float, a boolean, an ISO date and timestamp.
It runs twice: answering at once, and waiting 50 ms before every answer, as a remote API would.

Three loaders, each into an empty table of its own fresh database (same columns, primary key
``id``), alternately, median of the rounds. Brygga and the hand-written loader run in this process,
each timed from a collected heap; dlt runs in a process of its own (timed there, its import not
counted), so that what it leaves behind does not slow the others' garbage collection:

1. Brygga: ``brygga run``'s engine, a ``rest`` system into a ``sql`` one, state in PostgreSQL.
2. Hand-written: httpx.AsyncClient fetching pages concurrently (as many at once as Brygga's
   ``concurrency``, 4), orjson, records converted to tuples, COPY into a temporary table and
   ``INSERT … ON CONFLICT`` every 5,000 records, while later pages are being fetched.
3. dlt: its ``rest_api`` source (page-number paginator, one page at a time, as it does) with
   ``write_disposition="merge"`` and primary key ``id`` into its ``postgres`` destination,
   default settings.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ProcessPoolExecutor
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import asyncpg
import dlt
import httpx
import orjson
import uvicorn
from dlt.sources.rest_api import rest_api_source

from app.engine.garbage_collection import tune_garbage_collection
from app.engine.runner import RunOptions, open_engine
from app.engine.workspace import open_workspace
from bench.postgres import SERVER, fresh_database, fresh_state_database
from bench.results import write_section

PAGE = 1000
BATCH = 5000
CONCURRENCY = 4  # the rest connector's default
DELAYS = (0.0, 0.05)
COLUMNS = "id bigint PRIMARY KEY, name text, email text, phone text, active boolean, balance numeric(12,2), " \
    "created date, updated_at timestamptz, tier text, street text, city text, zip text, country text, " \
    "orders integer, rating double precision"  # fmt: skip
NAMES = ["id", "name", "email", "phone", "active", "balance", "created", "updated_at", "tier",
         "street", "city", "zip", "country", "orders", "rating"]  # fmt: skip
FLAT = {"street": "address.street", "city": "address.city", "zip": "address.zip", "country": "address.country",
        "orders": "stats.orders", "rating": "stats.rating"}  # fmt: skip

PROJECT = """\
version: 1
state: {state}
systems:
  api:
    connector: rest
    base_url: "{api}"
    batch_size: {batch}
    streams:
      people:
        path: /people
        key: id
        records: data
        pagination: {{type: page, param: page, start: 1, size_param: per_page, size: {page}}}
        total: {{header: X-Total-Count}}
  db: {{connector: sql, url: "{target}", batch_size: {batch}, streams: {{people: {{table: people, key: id}}}}}}
"""
SYNC = """\
source: api.people
target: db.people
fields:
""" + "".join(f"  {name}: {FLAT.get(name, name)}\n" for name in NAMES)

# --- the source API (its own process) ---------------------------------------------------

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


def record(n: int) -> dict[str, Any]:
    """Record ``n`` as the API gives it."""
    return {
        "id": n,
        "name": f"Name {n}",
        "email": f"person{n}@example.com",
        "phone": f"+46 70 {n:07d}",
        "active": n % 3 != 0,
        "balance": f"{n * 37 % 10_000_000 / 100:.2f}",
        "created": (date(2020, 1, 1) + timedelta(days=n % 1500)).isoformat(),
        "updated_at": (datetime(2024, 1, 1) + timedelta(seconds=n)).isoformat() + "Z",
        "tier": ("bronze", "silver", "gold")[n % 3],
        "address": {
            "street": f"Storgatan {n % 200 + 1}",
            "city": f"City {n % 100}",
            "zip": f"{10000 + n % 90000}",
            "country": "SE",
        },
        "stats": {"orders": n % 50, "rating": n % 1000 / 8},
    }


def page_body(records: int, page: int, per_page: int) -> bytes:
    """Page ``page`` (from 1) of ``records`` records."""
    first = (page - 1) * per_page + 1
    data = [record(n) for n in range(first, min(first + per_page, records + 1))] if page >= 1 else []
    return orjson.dumps({"data": data, "total": records, "pages": math.ceil(records / per_page)})


def api_app(records: int, delay: float) -> Callable[[Scope, Any, Any], Awaitable[None]]:
    """The API as a bare ASGI app: full pages rendered up front, anything else rendered when asked."""
    pages = {page: page_body(records, page, PAGE) for page in range(1, math.ceil(records / PAGE) + 1)}

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        query = {name: values[0] for name, values in parse_qs(scope["query_string"].decode()).items()}
        page, per_page = int(query.get("page", "1")), int(query.get("per_page", str(PAGE)))
        body = pages.get(page) if per_page == PAGE else None
        if body is None:
            body = page_body(records, page, per_page)
        if delay:
            await asyncio.sleep(delay)
        headers = [(b"content-type", b"application/json"), (b"x-total-count", str(records).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def serve(records: int, delay: float) -> None:
    """Run the API on a free port of 127.0.0.1 and print the port once it listens."""
    serve_app(api_app(records, delay))


def serve_app(app: Callable[[Scope, Any, Any], Awaitable[None]]) -> None:
    """Run the ASGI ``app`` on a free port of 127.0.0.1 and print the port once it listens."""
    # IPPROTO_TCP: asyncio sets TCP_NODELAY only on sockets that say they are TCP (else ~40 ms delayed ACKs)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    print(listener.getsockname()[1], flush=True)
    config = uvicorn.Config(app, lifespan="off", ws="none", log_level="warning", access_log=False, date_header=False)
    uvicorn.Server(config).run(sockets=[listener])


class Api:
    """The API in a subprocess, for a ``with`` block; ``module`` is the benchmark whose ``--serve`` runs it."""

    def __init__(self, records: int, delay: float, module: str = "bench.rest") -> None:
        command = [sys.executable, "-m", module, "--serve", "--records", str(records), "--delay", str(delay)]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        self.url = f"http://127.0.0.1:{int(self.process.stdout.readline())}"

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *_: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


# --- databases ----------------------------------------------------------------------------


async def _fresh() -> tuple[str, str]:
    """A target database with an empty table, and an empty state database."""
    target = await fresh_database("brygga_bench_rest_target", f"CREATE TABLE people ({COLUMNS})")
    return target, await fresh_state_database("brygga_bench_rest_state")


async def _content(target: str, table: str, columns: list[str]) -> tuple[int, str]:
    """The table's row count and a digest of its rows, to check that the loaders agree."""
    connection = await asyncpg.connect(target)
    try:
        rows = f"row({', '.join(columns)})::text"
        row = await connection.fetchrow(f"SELECT count(*), md5(string_agg({rows}, ',' ORDER BY id)) FROM {table}")
    finally:
        await connection.close()
    assert row is not None
    return row[0], row[1]


# --- the loaders ---------------------------------------------------------------------------


def _row(item: dict[str, Any]) -> tuple[object, ...]:
    address, stats = item["address"], item["stats"]
    return (
        item["id"], item["name"], item["email"], item["phone"], item["active"], Decimal(item["balance"]),
        date.fromisoformat(item["created"]), datetime.fromisoformat(item["updated_at"]), item["tier"],
        address["street"], address["city"], address["zip"], address["country"], stats["orders"], stats["rating"],
    )  # fmt: skip


async def _upsert(connection: asyncpg.Connection, rows: list[tuple[object, ...]]) -> None:
    updates = ", ".join(f"{name} = excluded.{name}" for name in NAMES[1:])
    async with connection.transaction():
        await connection.execute("CREATE TEMP TABLE incoming (LIKE people) ON COMMIT DROP")
        await connection.copy_records_to_table("incoming", records=rows, columns=NAMES)
        await connection.execute(f"INSERT INTO people SELECT * FROM incoming ON CONFLICT (id) DO UPDATE SET {updates}")


async def hand_written(api: str, target: str) -> None:
    """What an engineer would write by hand: the first page says how many there are; the rest are
    fetched up to CONCURRENCY at a time while the ones before are written."""
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=api, limits=limits, timeout=30) as client:
        gate = asyncio.Semaphore(CONCURRENCY)

        async def fetch(page: int) -> tuple[int, list[dict[str, Any]]]:
            async with gate:
                response = await client.get("/people", params={"page": page, "per_page": PAGE})
            response.raise_for_status()
            return int(response.headers["X-Total-Count"]), orjson.loads(response.content)["data"]

        total, first = await fetch(1)
        later = [asyncio.ensure_future(fetch(page)) for page in range(2, math.ceil(total / PAGE) + 1)]
        connection = await asyncpg.connect(target)
        try:
            rows = [_row(item) for item in first]
            for task in later:
                rows.extend(_row(item) for item in (await task)[1])
                if len(rows) >= BATCH:
                    await _upsert(connection, rows)
                    rows = []
            if rows:
                await _upsert(connection, rows)
        finally:
            await connection.close()


async def brygga(folder: Path) -> None:
    async with open_engine(open_workspace(folder / "brygga.yaml", environ={})) as engine:
        run = await engine.run("people", RunOptions())
    assert run.status == "succeeded", run


def timed_dlt_load(api: str, target: str, folder: str) -> float:
    """:func:`dlt_load` in a process of its own (what dlt leaves behind stays there), timed there."""
    gc.collect()
    started = time.perf_counter()
    dlt_load(api, target, Path(folder))
    return time.perf_counter() - started


def dlt_load(api: str, target: str, folder: Path) -> None:
    """dlt's ``rest_api`` source into its ``postgres`` destination, merging on ``id``."""
    source = rest_api_source(
        {
            "client": {
                "base_url": api,
                "paginator": {"type": "page_number", "base_page": 1, "page_param": "page", "total_path": "pages"},
            },
            "resource_defaults": {"primary_key": "id", "write_disposition": "merge"},
            "resources": [
                {
                    "name": "people",
                    "endpoint": {"path": "people", "params": {"per_page": PAGE}, "data_selector": "data"},
                    "columns": {
                        "balance": {"data_type": "decimal", "precision": 12, "scale": 2},
                        "created": {"data_type": "date"},
                        "updated_at": {"data_type": "timestamp"},
                    },
                }
            ],
        }
    )
    pipeline = dlt.pipeline(
        pipeline_name="bench_rest",
        # dlt insists on a password; trust authentication ignores it
        destination=dlt.destinations.postgres(credentials=target.replace("postgres@", "postgres:unused@")),
        dataset_name="bench",
        pipelines_dir=str(folder / "pipelines"),
    )
    pipeline.run(source).raise_on_failed_jobs()


# --- the benchmark ----------------------------------------------------------------------------

DLT_COLUMNS = [{"street": "address__street", "city": "address__city", "zip": "address__zip",
                "country": "address__country", "orders": "stats__orders", "rating": "stats__rating"}.get(name, name)
               for name in NAMES]  # fmt: skip


async def _timed(load: Awaitable[None]) -> float:
    """Seconds ``load`` takes, started on a collected heap: the loaders share this process, and what one
    leaves for the garbage collector (dlt leaves much) would otherwise be paid for by the next."""
    gc.collect()
    started = time.perf_counter()
    await load
    return time.perf_counter() - started


async def one_delay(records: int, delay: float, rounds: int, folder: Path) -> dict[str, float]:
    """Median seconds of each loader against the API answering after ``delay``."""
    times: dict[str, list[float]] = {"hand-written": [], "Brygga": [], "dlt": []}
    spawn = multiprocessing.get_context("spawn")
    with Api(records, delay) as api, ProcessPoolExecutor(1, mp_context=spawn) as dlt_process:
        (folder / "brygga.yaml").write_text(
            PROJECT.format(
                state=f"{SERVER}/brygga_bench_rest_state",
                api=api.url,
                target=f"{SERVER}/brygga_bench_rest_target",
                batch=BATCH,
                page=PAGE,
            )
        )
        for _ in range(rounds):
            target, _state = await _fresh()
            times["hand-written"].append(await _timed(hand_written(api.url, target)))
            expected = await _content(target, "people", NAMES)
            assert expected[0] == records, expected
            target, _state = await _fresh()
            times["Brygga"].append(await _timed(brygga(folder)))
            assert await _content(target, "people", NAMES) == expected, "Brygga loaded other rows"
            target, _state = await _fresh()
            with tempfile.TemporaryDirectory() as work:
                seconds = await asyncio.get_running_loop().run_in_executor(
                    dlt_process, timed_dlt_load, api.url, target, work
                )
                times["dlt"].append(seconds)
            assert await _content(target, "bench.people", DLT_COLUMNS) == expected, "dlt loaded other rows"
    return {name: statistics.median(seconds) for name, seconds in times.items()}


async def speed(records: int, rounds: int) -> str:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / "mappings").mkdir()
        (folder / "mappings" / "people.yaml").write_text(SYNC)
        results = {delay: await one_delay(records, delay, rounds, folder) for delay in DELAYS}
    lines = []
    for delay, seconds in results.items():
        waits = f"{delay * 1000:.0f} ms per page" if delay else "none"
        for name, label in (("hand-written", "hand-written httpx + asyncpg"), ("Brygga", "Brygga"), ("dlt", "dlt")):
            lines.append(f"| {waits} | {label} | {seconds[name]:.2f} | {records / seconds[name]:,.0f} |")
    table = "\n".join(lines)
    goals = []
    for delay, seconds in results.items():
        waits = f"with {delay * 1000:.0f} ms per page request" if delay else "with no delay"
        versus_hand = seconds["hand-written"] / seconds["Brygga"]
        versus_dlt = seconds["dlt"] / seconds["Brygga"]
        goals.append(
            f"- {waits}: Brygga / hand-written speed **{versus_hand:.2f}** (goal at least 0.5); "
            f"Brygga / dlt speed **{versus_dlt:.1f}×**"
        )
    return (
        textwrap.dedent(f"""\
        REST → PostgreSQL, {records:,} records of 15 fields (two nested objects flattened), pages of {PAGE:,},
        {CONCURRENCY} requests in flight for Brygga and the hand-written loader (dlt reads one page at a time),
        batches of {BATCH:,}, Brygga's state in PostgreSQL (its schema created before each timed run, as the
        target table is), median of {rounds} interleaved rounds.

        | delay per page request | loader | seconds | records per second |
        | --- | --- | ---: | ---: |
        """)
        + table
        + "\n\n"
        + "\n".join(goals)
        + "\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="write the figures to bench/RESULTS.md")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--delay", type=float, default=0.0, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.serve:
        serve(options.records, options.delay)
        return
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    tune_garbage_collection()  # as `brygga run` does
    report = asyncio.run(speed(options.records, options.rounds))
    print(report)
    if options.write:
        write_section("REST → PostgreSQL speed (`python -m bench.rest`)", report)


if __name__ == "__main__":
    main()
