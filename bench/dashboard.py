"""The dashboard's overview: how long the server takes to render it for many syncs, and what it weighs.

Run: ``.venv/bin/python -m bench.dashboard [--syncs N] [--runs N] [--requests N] [--write]``.

A project of ``--syncs`` syncs (each scheduled every hour), a SQLite state database holding
``--runs`` runs of each (and a dead letter for every tenth sync), under a real ``brygga serve``.
A viewer signs in; then ``GET /`` is asked ``--requests`` times in a row over one keep-alive
connection (after a few untimed ones), and so is ``GET /ui/overview`` (what the page refreshes itself
with). Times run from sending the request to the last byte of the answer. The page's weight is its
HTML and every file it loads (stylesheet, script, icon), uncompressed.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import insert

from app.store import Store
from app.store.tables import DEAD_LETTERS, RUNS
from bench.results import write_section
from tests.api.serve_process import ServeProcess

TOKEN = "bench-viewer-token-0123456789abcdef"
GOAL_MS = 150.0
GOAL_KB = 150.0
PROJECT = f"""\
version: 1
state: sqlite:///state.db
api:
  tokens:
    - {{name: bench, token: "{TOKEN}", role: viewer}}
systems:
  crm:
    connector: sql
    url: sqlite:///crm.db
    streams:
      contacts: {{table: contacts, key: id, cursor: updated_at}}
  erp:
    connector: sql
    url: sqlite:///erp.db
    streams:
      customers: {{table: customers, key: customer_no}}
"""
SYNC = """\
source: crm.contacts
target: erp.customers
schedule: {every: 1h}
fields:
  customer_no: id
  email: email
"""


def write_project(folder: Path, syncs: int) -> list[str]:
    (folder / "brygga.yaml").write_text(PROJECT, encoding="utf-8")
    (folder / "mappings").mkdir()
    names = [f"sync-{number:03d}" for number in range(syncs)]
    for name in names:
        (folder / "mappings" / f"{name}.yaml").write_text(SYNC, encoding="utf-8")
    return names


async def fill_state(folder: Path, names: list[str], runs: int) -> None:
    """``runs`` finished runs of each sync, a minute apart, the last failed for every seventh sync."""
    store = await Store.open("sqlite:///state.db", folder)
    now = datetime.now(UTC)
    try:
        async with store.engine.begin() as connection:
            for index, name in enumerate(names):
                rows = []
                for number in range(runs):
                    started = now - timedelta(minutes=runs - number)
                    failed = index % 7 == 0 and number == runs - 1
                    rows.append(
                        {
                            "sync": name, "trigger": "schedule", "status": "failed" if failed else "succeeded",
                            "started_at": started, "finished_at": started + timedelta(seconds=2),
                            "read": 120, "created": 3, "updated": 7, "deleted": 0, "unchanged": 110,
                            "skipped": 0, "failed": 0,
                            "error": "erp.customers: connection refused (127.0.0.1:5432)" if failed else None,
                        }
                    )  # fmt: skip
                await connection.execute(insert(RUNS), rows)
            letters = [
                {"sync": name, "source_key": "42", "record": "{}", "error": "email: required", "reason": "mapping",
                 "first_failed_at": now, "last_failed_at": now}
                for name in names[::10]
            ]  # fmt: skip
            await connection.execute(insert(DEAD_LETTERS), letters)
    finally:
        await store.close()


def timed(client: httpx.Client, path: str, count: int) -> tuple[list[float], int]:
    """Milliseconds of each of ``count`` requests (after 5 untimed), and the answer's size in bytes."""
    size = 0
    for _ in range(5):
        size = len(client.get(path).raise_for_status().content)
    times = []
    for _ in range(count):
        started = time.perf_counter()
        client.get(path).raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    return times, size


def measure(syncs: int, runs: int, requests: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        names = write_project(folder, syncs)
        asyncio.run(fill_state(folder, names, runs))
        process = ServeProcess(folder / "brygga.yaml", {}, folder / "logs").start()
        try:
            with httpx.Client(base_url=process.url, timeout=30) as client:
                signed = client.post("/sign-in", data={"token": TOKEN}, headers={"Origin": process.url})
                assert signed.status_code == 303 and signed.headers["location"] == "/", signed.text
                page, html = timed(client, "/", requests)
                rows = client.get("/").text.count("<tr class=")
                assert rows == syncs, f"the overview shows {rows} rows, not {syncs}"
                refresh, refresh_size = timed(client, "/ui/overview", requests)
                files = sum(len(client.get(f"/ui-assets/{name}").content) for name in ASSET_FILES)
        finally:
            process.stop()
    return {
        "page_ms": statistics.median(page),
        "page_p90_ms": statistics.quantiles(page, n=10)[-1],
        "refresh_ms": statistics.median(refresh),
        "html_kb": html / 1024,
        "files_kb": files / 1024,
        "refresh_kb": refresh_size / 1024,
    }


ASSET_FILES = ("dashboard.css", "dashboard.js", "icon.svg")


def report(figures: dict[str, float], syncs: int, runs: int, requests: int) -> str:
    f = {name: f"{value:.1f}" for name, value in figures.items()}
    weight = figures["html_kb"] + figures["files_kb"]
    time_met = "met" if figures["page_ms"] <= GOAL_MS else "**not met**"
    weight_met = "met" if weight <= GOAL_KB else "**not met**"
    return textwrap.dedent(f"""\
        The overview (`GET /`) of {syncs} syncs, each with {runs:,} runs in a SQLite state database (a dead
        letter for every tenth sync), under a real `brygga serve`, signed in as a viewer; {requests} requests
        in a row on one connection after 5 untimed ones, Python {sys.version.split()[0]}, on a machine shared
        with other work.

        | request | median | 90th percentile | size |
        | --- | ---: | ---: | ---: |
        | `GET /` (the page) | {f["page_ms"]} ms | {f["page_p90_ms"]} ms | {f["html_kb"]} KB |
        | `GET /ui/overview` (its refresh) | {f["refresh_ms"]} ms | | {f["refresh_kb"]} KB |
        | stylesheet, script, icon | | | {f["files_kb"]} KB |

        - rendered in **{figures["page_ms"]:.0f} ms** (median; goal at most {GOAL_MS:.0f} ms): {time_met}
        - the page weighs **{weight:.0f} KB** with its files, uncompressed (goal at most {GOAL_KB:.0f} KB): {weight_met}
        """)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--syncs", type=int, default=300)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--write", action="store_true", help="write the figures to bench/RESULTS.md")
    options = parser.parse_args()
    text = report(measure(options.syncs, options.runs, options.requests), options.syncs, options.runs, options.requests)
    print(text)
    if options.write:
        write_section("Dashboard (`python -m bench.dashboard`)", text)


if __name__ == "__main__":
    main()
