"""Webhooks: how soon an event is in the target, and how fast the durable route takes deliveries.

Run: ``.venv/bin/python -m bench.webhooks [--events N] [--rate R] [--requests N] [--write]`` with
PostgreSQL on 127.0.0.1. Every server is a real ``brygga serve`` (or the bare app below) in its own process.

1. Latency: ``--events`` Standard Webhooks deliveries (signed, one record each) sent at a steady
   ``--rate`` by a sender process of its own (open loop: each POST starts at its time, whatever the
   answers before it did), to a sync writing into a SQLite target (state in SQLite) and into a
   PostgreSQL target (state in PostgreSQL). Each event's latency runs from just before its POST to
   the moment its record is visible in the target, seen by an observer process: on PostgreSQL a
   trigger's NOTIFY, delivered at commit; on SQLite ``PRAGMA data_version`` checked every 0.5 ms,
   then a read. The observer's own resolution is reported with the figures.
2. Intake: the same signed deliveries (each its own id, so none is a duplicate), ``--connections``
   keep-alive connections sending as fast as answers come, through a lean HTTP/1.1 client (pre-built
   requests: the client should cost the two cores little). Against the real route (checked, committed
   to the state database, answered 202) and a bare FastAPI route that reads the body and answers the
   same 202 without storing anything, run with the same uvicorn arguments, logging and garbage
   collection settings as ``brygga serve``; rounds interleaved, medians reported.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import math
import multiprocessing
import os
import platform
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import uvicorn
from fastapi import FastAPI, Request, status
from pydantic import BaseModel
from standardwebhooks.webhooks import Webhook

from app.engine.garbage_collection import tune_garbage_collection
from bench.postgres import fresh_database
from bench.results import write_section

BRYGGA = Path(sys.executable).parent / "brygga"
REPOSITORY = Path(__file__).resolve().parent.parent
SECRET = os.environ.setdefault("BENCH_SECRET", "whsec_" + base64.b64encode(os.urandom(24)).decode())
"""Made once per run; the processes this one starts inherit it (the servers read it as ``${BENCH_SECRET}``)."""
PROJECT = """\
version: 1
state: {state}
systems:
  crm:
    connector: webhook
    streams: {{contacts: {{key: id}}}}
    webhook: {{verify: standard, secret: "${{BENCH_SECRET}}", stream: contacts, records: data}}
  erp:
    connector: sql
    url: "{target}"
    streams: {{customers: {{table: customers, key: customer_no}}}}
"""
SYNC = """\
source: crm.contacts
target: erp.customers
webhook: true
fields:
  customer_no: id
  name: name
  email: {from: email, transform: [strip, lower], required: true}
"""
TABLE = "CREATE TABLE customers (customer_no bigint PRIMARY KEY, name text, email text)"
NOTIFY = """
CREATE FUNCTION customer_seen() RETURNS trigger AS $$
BEGIN PERFORM pg_notify('customer_seen', NEW.customer_no::text); RETURN NEW; END $$ LANGUAGE plpgsql;
CREATE TRIGGER customer_seen AFTER INSERT OR UPDATE ON customers FOR EACH ROW EXECUTE FUNCTION customer_seen();
"""
WARM_UP_KEYS = 1_000_000  # warm-up events use keys from here, apart from the measured ones


# --- deliveries ----------------------------------------------------------------------------------


def delivery(key: int) -> tuple[bytes, dict[str, str]]:
    """One signed Standard Webhooks delivery carrying contact ``key``: (body, headers)."""
    body = json.dumps({"type": "contact.updated", "data": {"id": key, "name": f"Name {key}",
                       "email": f" Person{key}@Example.com "}}).encode()  # fmt: skip
    now = datetime.now(UTC)
    msg_id = f"msg_{key}_{os.getpid()}_{time.monotonic_ns()}"
    signature = Webhook(SECRET).sign(msg_id=msg_id, timestamp=now, data=body.decode())
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())), "webhook-signature": signature,
               "content-type": "application/json"}  # fmt: skip
    return body, headers


def raw_request(port: int, key: int) -> bytes:
    body, headers = delivery(key)
    lines = ["POST /webhooks/crm HTTP/1.1", f"host: 127.0.0.1:{port}", f"content-length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


# --- servers ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def server(command: list[str], cwd: Path, log: Path) -> Iterator[int]:
    """Run a server on a free port (``{port}`` in ``command``) until it answers /health; its port.
    Stopped with SIGTERM (SIGKILL after 15 s) at the end."""
    port = free_port()
    environment = {key: value for key, value in os.environ.items() if not key.startswith("BRYGGA_")}
    environment |= {"BENCH_SECRET": SECRET, "PYTHONUNBUFFERED": "1"}
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [part.replace("{port}", str(port)) for part in command], cwd=cwd, env=environment,
            stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        _wait_for_health(process, port, log)
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(15)


def _wait_for_health(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 30
    with httpx.Client(timeout=2) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited ({process.returncode}):\n{log.read_text()}")
            try:
                if client.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
    raise RuntimeError(f"the server did not answer /health in 30 s:\n{log.read_text()}")


def brygga_serve(folder: Path) -> list[str]:
    return [str(BRYGGA), "serve", "-c", str(folder / "brygga.yaml"), "--host", "127.0.0.1", "--port", "{port}"]


def bare_serve() -> list[str]:
    return [sys.executable, "-m", "bench.webhooks", "--serve-bare", "{port}"]


class Accepted(BaseModel):
    """The bare route's answer, shaped like the real one's."""

    event_id: str
    records: int


def bare_app() -> FastAPI:
    """A route that reads the body and answers 202 like the real one, storing nothing."""
    app = FastAPI()

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/webhooks/{system}", status_code=status.HTTP_202_ACCEPTED)
    async def receive(system: str, request: Request) -> Accepted:
        await request.body()
        return Accepted(event_id="0", records=1)

    return app


def serve_bare(port: int) -> None:
    """The bare route under uvicorn, with what ``brygga serve`` sets (app/cli/serve.py): the same logging,
    garbage collection and ``uvicorn.run`` arguments."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    tune_garbage_collection()
    uvicorn.run(bare_app(), host="127.0.0.1", port=port, log_level="info", timeout_graceful_shutdown=1, lifespan="on")


# --- projects ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setup:
    """A project folder, and where its target table is: a SQLite file or a PostgreSQL URL."""

    folder: Path
    target: str
    label: str


async def make_project(folder: Path, backend: str, listening: bool = True) -> Setup:
    """A project whose state and target are both SQLite files, or both PostgreSQL databases."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mappings").mkdir(exist_ok=True)
    if backend == "postgresql":
        state = await fresh_database("brygga_bench_webhook_state")
        target = await fresh_database("brygga_bench_webhook_target", TABLE, NOTIFY)
        label = "PostgreSQL target, state in PostgreSQL"
    else:
        state, target = "sqlite:///state.db", str(folder / "erp.db")
        with sqlite3.connect(target) as connection:
            connection.execute("PRAGMA journal_mode=WAL")  # the observer reads while Brygga writes
            connection.execute(TABLE)
        connection.close()
        label = "SQLite target, state in SQLite"
    url = target if backend == "postgresql" else "sqlite:///erp.db"
    (folder / "brygga.yaml").write_text(PROJECT.format(state=state, target=url))
    sync = folder / "mappings" / "customers.yaml"
    if listening:
        sync.write_text(SYNC)
    return Setup(folder, target, label)


# --- latency -------------------------------------------------------------------------------------------


def send_steadily(port: int, keys: list[int], rate: float, out: str) -> None:
    """A sender process: POST each key's delivery at its time (open loop); write (key, sent, answered, status)."""
    asyncio.run(_send_steadily(port, keys, rate, Path(out)))


async def _send_steadily(port: int, keys: list[int], rate: float, out: Path) -> None:
    prepared = {key: delivery(key) for key in keys}
    results: list[tuple[int, float, float, int]] = []
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=30) as client:

        async def post(key: int) -> None:
            body, headers = prepared[key]
            sent = time.monotonic()
            answer = await client.post("/webhooks/crm", content=body, headers=headers)
            results.append((key, sent, time.monotonic(), answer.status_code))

        start = time.monotonic() + 0.2
        tasks = []
        for index, key in enumerate(keys):
            delay = start + index / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.ensure_future(post(key)))
        await asyncio.gather(*tasks)
    out.write_text(json.dumps(results))


def observe(target: str, keys: list[int], out: str, timeout: float) -> None:
    """An observer process: when each key became visible in the target; write (key → time), and the
    observer's resolution (seconds between its looks)."""
    if target.startswith("postgresql"):
        seen, resolution = asyncio.run(_listen(target, set(keys), timeout))
    else:
        seen, resolution = _poll_sqlite(Path(target), set(keys), timeout)
    Path(out).write_text(json.dumps({"seen": seen, "resolution": resolution}))


async def _listen(url: str, wanted: set[int], timeout: float) -> tuple[dict[int, float], list[float]]:
    seen: dict[int, float] = {}
    done = asyncio.Event()
    connection = await asyncpg.connect(url)

    def heard(_connection: Any, _pid: int, _channel: str, payload: str) -> None:
        key = int(payload)
        if key in wanted and key not in seen:
            seen[key] = time.monotonic()
            if len(seen) == len(wanted):
                done.set()

    await connection.add_listener("customer_seen", heard)
    Path(os.environ["BENCH_READY"]).touch()
    try:
        await asyncio.wait_for(done.wait(), timeout)
    except TimeoutError:
        pass
    finally:
        await connection.close()
    return seen, []  # a NOTIFY arrives as its transaction commits


def _poll_sqlite(path: Path, wanted: set[int], timeout: float) -> tuple[dict[int, float], list[float]]:
    seen: dict[int, float] = {}
    looks: list[float] = []
    connection = sqlite3.connect(path, isolation_level=None)
    version = None
    Path(os.environ["BENCH_READY"]).touch()
    deadline = time.monotonic() + timeout
    last = time.monotonic()
    while len(seen) < len(wanted) and time.monotonic() < deadline:
        now = time.monotonic()
        looks.append(now - last)
        last = now
        current = connection.execute("PRAGMA data_version").fetchone()[0]
        if current != version:
            version = current
            rows = connection.execute("SELECT customer_no FROM customers").fetchall()
            for (key,) in rows:
                if key in wanted and key not in seen:
                    seen[key] = now  # committed before this look began
        time.sleep(0.0005)
    connection.close()
    return seen, looks


@dataclass(frozen=True)
class Latency:
    """One target's figures: seconds from just before each POST to its record seen, and to its answer."""

    seen: list[float]
    answered: list[float]
    looks: list[float]
    """Seconds between the observer's looks (empty: it was told at commit)."""


def latency(setup: Setup, events: int, rate: float) -> Latency:
    """Send ``events`` at ``rate`` to a real ``brygga serve``; how soon each answer came and each record showed.

    :raises RuntimeError: when a delivery was not accepted, or its record never showed
    """
    context = multiprocessing.get_context("spawn")
    with server(brygga_serve(setup.folder), setup.folder, setup.folder / "serve.log") as port:
        _run_sender_and_observer(context, port, setup, list(range(WARM_UP_KEYS, WARM_UP_KEYS + 50)), 50.0)
        sent, seen, looks = _run_sender_and_observer(context, port, setup, list(range(1, events + 1)), rate)
    statuses = Counter(status for _, _, _, status in sent)
    missing = [key for key, _, _, _ in sent if key not in seen]
    if statuses != {202: events} or missing:
        raise RuntimeError(f"{setup.label}: answers {dict(statuses)}, {len(missing)} records never seen")
    return Latency(
        sorted(seen[key] - at for key, at, _, _ in sent), sorted(answered - at for _, at, answered, _ in sent), looks
    )


Sent = list[tuple[int, float, float, int]]


def _run_sender_and_observer(
    context: Any, port: int, setup: Setup, keys: list[int], rate: float
) -> tuple[Sent, dict[int, float], list[float]]:
    """Start the observer, then the sender; (what was sent and answered when, when each key was seen, looks)."""
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        os.environ["BENCH_READY"] = str(folder / "ready")
        timeout = len(keys) / rate + 60
        observer = context.Process(target=observe, args=(setup.target, keys, str(folder / "seen.json"), timeout))
        observer.start()
        _wait_for_file(folder / "ready", observer)
        sender = context.Process(target=send_steadily, args=(port, keys, rate, str(folder / "sent.json")))
        sender.start()
        sender.join(timeout)
        observer.join(timeout)
        for process in (sender, observer):
            if process.is_alive():
                process.kill()
                process.join()
        sent: Sent = [(int(k), float(at), float(back), int(code)) for k, at, back, code in _load(folder / "sent.json")]
        observed = _load(folder / "seen.json")
    seen = {int(key): float(at) for key, at in observed["seen"].items()}
    return sent, seen, [float(look) for look in observed["resolution"]]


def _load(path: Path) -> Any:
    if not path.exists():
        raise RuntimeError(f"{path.name} was not written: its process failed (see above)")
    return json.loads(path.read_text())


def _wait_for_file(path: Path, process: Any) -> None:
    deadline = time.monotonic() + 30
    while not path.exists():
        if not process.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the observer did not start")
        time.sleep(0.01)


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile of sorted ``values``."""
    return values[max(1, math.ceil(share * len(values))) - 1]


# --- intake ----------------------------------------------------------------------------------------------


async def blast(port: int, requests: list[bytes], connections: int) -> tuple[float, Counter[int]]:
    """Send every request over ``connections`` keep-alive connections, each as soon as the last answer came;
    (seconds from the first send to the last answer, statuses)."""
    statuses: Counter[int] = Counter()
    queue = iter(requests)

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for request in queue:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                statuses[int(lines[0].split()[1])] += 1
                length = next(int(line.split(":")[1]) for line in lines if line.lower().startswith("content-length"))
                await reader.readexactly(length)
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return time.perf_counter() - started, statuses


def intake_round(port: int, first_key: int, count: int, connections: int) -> float:
    """Deliveries per second of one round (after a warm-up of 500)."""
    warm_up = [raw_request(port, first_key + n) for n in range(500)]
    asyncio.run(blast(port, warm_up, connections))
    requests = [raw_request(port, first_key + 500 + n) for n in range(count)]
    seconds, statuses = asyncio.run(blast(port, requests, connections))
    if statuses != {202: count}:
        raise RuntimeError(f"not every delivery was accepted: {dict(statuses)}")
    return count / seconds


def intake(root: Path, requests: int, connections: int, rounds: int) -> dict[str, list[float]]:
    """Deliveries per second: the bare route, and the durable route with its state in SQLite and in
    PostgreSQL, with and without a sync writing every event to a SQLite target meanwhile."""
    setups: dict[str, Setup] = {}
    for label, backend, listening in (
        ("durable, state in SQLite", "sqlite", False),
        ("durable, state in SQLite, a sync writing each event", "sqlite", True),
        ("durable, state in PostgreSQL", "postgresql", False),
    ):
        setups[label] = asyncio.run(make_project(root / f"intake-{len(setups)}", backend, listening))
    rates: dict[str, list[float]] = {label: [] for label in (BARE, *setups)}
    for round_number in range(rounds):
        with server(bare_serve(), REPOSITORY, root / "bare.log") as port:
            rates[BARE].append(intake_round(port, 0, requests, connections))
        for label, setup in setups.items():
            with server(brygga_serve(setup.folder), setup.folder, setup.folder / "serve.log") as port:
                first_key = round_number * (requests + 500)
                rates[label].append(intake_round(port, first_key, requests, connections))
    return rates


# --- report ----------------------------------------------------------------------------------------------

BARE = "bare FastAPI route (stores nothing)"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.1f} ms"


def latency_rows(results: dict[str, list[Latency]]) -> str:
    rows = []
    for label, runs in results.items():
        for number, result in enumerate(runs, 1):
            seen, answered = result.seen, result.answered
            look = _ms(statistics.mean(result.looks)) if result.looks else "at commit (NOTIFY)"
            rows.append(
                f"| {label} | {number} | {_ms(percentile(seen, 0.5))} | {_ms(percentile(seen, 0.99))} | "
                f"{_ms(seen[-1])} | {_ms(percentile(answered, 0.5))} | {_ms(percentile(answered, 0.99))} | {look} |"
            )
    return "\n".join(rows)


def report(latencies: dict[str, list[Latency]], rates: dict[str, list[float]], options: argparse.Namespace) -> str:
    bare = statistics.median(rates[BARE])
    intake_rows = "\n".join(
        f"| {label} | {statistics.median(values):,.0f} | {statistics.median(values) / bare:.2f} |"
        for label, values in rates.items()
    )
    runs = [result for results in latencies.values() for result in results]
    p50 = max(percentile(result.seen, 0.5) for result in runs)
    p99 = max(percentile(result.seen, 0.99) for result in runs)
    durable = min(statistics.median(rates[label]) for label in rates if label != BARE and "sync" not in label)
    return (
        textwrap.dedent(f"""\
        Python {platform.python_version()}, {os.cpu_count()} CPUs; every server runs in a process of its own,
        and so does every sender and observer.

        Webhook → target: {options.events:,} Standard Webhooks deliveries (one record each) at a steady
        {options.rate:.0f}/s, timed from just before each POST to its record visible in the target, and to its
        202; {options.latency_runs} runs per target, each on a fresh project and server. "Seen every" is the
        observer's resolution: a record counts as visible at the look that found it, so it may be late by up
        to that much.

        | target | run | p50 | p99 | max | 202 p50 | 202 p99 | seen every |
        | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
        """)
        + latency_rows(latencies)
        + textwrap.dedent(f"""

        - worst run's p50 **{_ms(p50)}** (goal at most 100 ms); worst run's p99 **{_ms(p99)}** (goal at most 500 ms)

        Intake: {options.requests:,} signed deliveries per round (each its own webhook-id) over
        {options.connections} keep-alive connections, median of {options.rounds} interleaved rounds, each server
        started afresh.

        | route | deliveries per second | / bare |
        | --- | ---: | ---: |
        """)
        + intake_rows
        + textwrap.dedent(f"""

        - durable / bare, the slower state database, no sync running: **{durable / bare:.2f}** (goal at least 0.5)
        """)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--latency-runs", type=int, default=3, help="latency runs per target")
    parser.add_argument("--requests", type=int, default=5000, help="deliveries per intake round")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="write the figures to bench/RESULTS.md")
    parser.add_argument("--serve-bare", type=int, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.serve_bare is not None:
        serve_bare(options.serve_bare)
        return
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        latencies: dict[str, list[Latency]] = {}
        for backend in ("sqlite", "postgresql"):
            for number in range(options.latency_runs):
                setup = asyncio.run(make_project(root / f"latency-{backend}-{number}", backend))
                latencies.setdefault(setup.label, []).append(latency(setup, options.events, options.rate))
        rates = intake(root, options.requests, options.connections, options.rounds)
    text = report(latencies, rates, options)
    print(text)
    if options.write:
        write_section("Webhooks (`python -m bench.webhooks`)", text)


if __name__ == "__main__":
    main()
