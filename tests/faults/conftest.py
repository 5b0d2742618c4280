"""The fault-injection suite's world: a real REST API (tests/connectors/rest/server.py under uvicorn),
the fault proxy in front of it, and a project whose ``api`` system talks to the API only through
the proxy.

The project (``FaultProject``) has:

- ``crm.contacts``: a real SQLite table of ``records`` contacts (``id``, ``email``, ``name``);
- ``api.people``: the API's writable collection ``/w/contacts``, whose ids the API assigns, with
  ``match: {param: email, field: email}`` (what makes crash safety possible for such keys, SPEC 4);
- ``api.contacts``: the API's page-numbered list ``/pages/contacts`` (10 a page), to read from;
- the syncs ``out`` (``crm.contacts`` → ``api.people``) and ``in`` (``api.contacts`` → ``crm.copies``).

Brygga runs as users run it: the real ``brygga`` console script in a subprocess.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.api.serve_process import ServeProcess
from tests.cli.helpers import BRYGGA
from tests.connectors.rest.server import ApiServer, ApiState
from tests.faults.proxy import Exchange, FaultProxy, Moment, Rule, running_proxy

PATIENT: dict[str, Any] = {"attempts": 10, "backoff": "300ms", "max_backoff": "1s"}
"""A retry policy whose patience outlasts the faults the tests play by far: 7.9 s of waits with backoff
doubled each try, and still about 4 s on average were the waits fully jittered (0 up to each step)."""
PEOPLE = "/api/w/contacts"
"""The writable collection's path, as the proxy and the API see it."""
PAGES = "/api/pages/contacts"


def email(number: int) -> str:
    return f"person{number}@example.com"


@dataclass
class Run:
    """A run as the state database keeps it."""

    id: int
    status: str
    trigger: str
    error: str | None
    counts: dict[str, int]


class FaultProject:
    """A project on disk whose ``api`` system is reached through ``proxy``.

    :param records: contacts in ``crm.contacts`` (``id`` 1…records, ``email`` :func:`email`)
    :param processes: where every ``brygga`` process it starts is kept, to be killed when the test ends
    """

    def __init__(self, root: Path, proxy: FaultProxy, records: int, processes: Processes) -> None:
        self.root = root
        self.proxy = proxy
        self.records = records
        self.processes = processes
        self.crm = root / "crm.db"
        self.state_url = "sqlite:///state.db"
        connection = sqlite3.connect(self.crm)
        with connection:
            connection.execute("CREATE TABLE contacts (id INTEGER PRIMARY KEY, email TEXT NOT NULL, name TEXT)")
            connection.execute("CREATE TABLE copies (id INTEGER PRIMARY KEY, email TEXT, name TEXT, updated_at TEXT)")
            connection.executemany(
                "INSERT INTO contacts VALUES (?, ?, ?)", [(n, email(n), f"Person {n}") for n in range(1, records + 1)]
            )
        connection.close()
        (root / "mappings").mkdir()
        self.write()

    @property
    def file(self) -> Path:
        return self.root / "brygga.yaml"

    def write(
        self,
        *,
        retry: dict[str, Any] | None = None,
        timeout: str = "10s",
        concurrency: int = 4,
        batch_size: int = 100,
        state: str | None = None,
        auth: dict[str, str] | None = None,
    ) -> None:
        """(Re)write the project file and both syncs."""
        self.state_url = state or self.state_url
        api: dict[str, Any] = {
            "connector": "rest",
            "base_url": self.proxy.url,
            "timeout": timeout,
            "concurrency": concurrency,
            "batch_size": batch_size,
            "streams": {
                "people": {
                    "path": "/w/contacts",
                    "key": "id",
                    "records": "data",
                    "write": {
                        "create": {"method": "POST", "path": "/w/contacts"},
                        "update": {"method": "PATCH", "path": "/w/contacts/{key}"},
                    },
                    "match": {"param": "email", "field": "email"},
                },
                "contacts": {
                    "path": "/pages/contacts",
                    "key": "id",
                    "pagination": {"type": "page", "size_param": "size", "size": 10},
                    "total": {"header": "X-Total-Count"},
                },
            },
        }
        if auth is not None:
            api["auth"] = auth
        crm = {
            "connector": "sql",
            "url": "sqlite:///crm.db",
            "batch_size": batch_size,
            "streams": {"contacts": {"table": "contacts", "key": "id"}, "copies": {"table": "copies", "key": "id"}},
        }
        project = {"version": 1, "state": self.state_url, "systems": {"crm": crm, "api": api}}
        self.file.write_text(json.dumps(project, indent=2), encoding="utf-8")
        policy = json.dumps(retry or PATIENT)
        (self.root / "mappings" / "out.yaml").write_text(
            f"source: crm.contacts\ntarget: api.people\nretry: {policy}\nfields: {{email: email, name: name}}\n",
            encoding="utf-8",
        )
        (self.root / "mappings" / "in.yaml").write_text(
            f"source: api.contacts\ntarget: crm.copies\nretry: {policy}\n"
            "fields: {id: id, email: email, name: name, updated_at: updated_at}\n",
            encoding="utf-8",
        )

    def brygga(self, *args: str, timeout: float = 90, env: dict[str, str] | None = None) -> Outcome:
        """``brygga ARGS… -c brygga.yaml`` in a subprocess, bounded by ``timeout``: what it did.

        Killed when the test ends, should it still run then: one waited for in a thread (``asyncio.to_thread``)
        is not ended by the test's timeout, which interrupts the test's own thread only."""
        started = self.start(*args, env=env)
        try:
            return started.finish(timeout)
        finally:
            started.close()

    def start(self, *args: str, env: dict[str, str] | None = None) -> Started:
        """``brygga ARGS… -c brygga.yaml`` started in a subprocess, not waited for (killed when the test ends)."""
        return self.processes.start([str(BRYGGA), *args, "-c", str(self.file)], self.root, env)

    def serve(self, logs: Path) -> ServeProcess:
        """``brygga serve`` of this project, answering (killed when the test ends, even one cut off as it starts)."""
        return self.processes.serve(self.file, logs)

    # --- the state database (SQLite) ---

    def state_rows(self, sql: str) -> list[tuple[Any, ...]]:
        assert self.state_url == "sqlite:///state.db", "only the SQLite state database is read here"
        connection = sqlite3.connect(self.root / "state.db", timeout=30)
        try:
            return list(connection.execute(sql))
        finally:
            connection.close()

    def runs(self) -> list[Run]:
        return [run_of(row) for row in self.state_rows(RUNS_QUERY)]

    def dead_letters(self) -> list[tuple[str, str]]:
        """(source key, error) of every dead letter not discarded."""
        return [(str(key), str(error)) for key, error in self.state_rows(DEAD_LETTERS_QUERY)]

    def copies(self) -> list[int]:
        """The ids in ``crm.copies`` (the ``in`` sync's target), duplicates kept."""
        connection = sqlite3.connect(self.crm, timeout=30)
        try:
            return [row[0] for row in connection.execute("SELECT id FROM copies ORDER BY id")]
        finally:
            connection.close()


DEAD_LETTERS_QUERY = "SELECT source_key, error FROM dead_letters WHERE discarded_at IS NULL ORDER BY id"
COUNT_NAMES = ("read", "created", "updated", "deleted", "unchanged", "skipped", "failed")
RUNS_QUERY = f"SELECT id, status, trigger, error, {', '.join(COUNT_NAMES)} FROM runs ORDER BY id"


def run_of(row: tuple[Any, ...] | Any) -> Run:
    values = tuple(row)
    return Run(
        int(values[0]), str(values[1]), str(values[2]), values[3], dict(zip(COUNT_NAMES, values[4:], strict=True))
    )


@dataclass(repr=False)
class Outcome:
    """A finished ``brygga`` command."""

    done: subprocess.CompletedProcess[str]

    @property
    def code(self) -> int:
        return self.done.returncode

    @property
    def output(self) -> str:
        return self.done.stdout + self.done.stderr

    def __str__(self) -> str:
        return f"exit {self.code}\n{self.output[-3000:]}"

    __repr__ = __str__  # as an assertion's message: what the command said, not the object


class Started:
    """A ``brygga`` command running in a subprocess (its output kept in files: no pipe fills up).

    :param env: variables added to a clean environment (no inherited ``BRYGGA_*``)
    """

    def __init__(self, command: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
        self.command = command
        environment = {key: value for key, value in os.environ.items() if not key.startswith("BRYGGA_")}
        environment.update({"NO_COLOR": "1", "COLUMNS": "200", "PYTHONUNBUFFERED": "1", **(env or {})})
        self.out = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the command; closed by close())
        self.process = subprocess.Popen(
            command, cwd=cwd, env=environment, stdout=self.out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )

    def wait_for(self, moment: Rule, timeout: float, what: str = "the moment") -> None:
        """Wait until ``moment`` is reached; fail if the command ends first, or after ``timeout`` seconds."""
        wait_for_moment(moment, self.process, timeout, self.output, what)

    def kill(self) -> None:
        """SIGKILL, and wait for it to be gone."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def finish(self, timeout: float) -> Outcome:
        """Wait for it to end (SIGKILL after ``timeout`` seconds, and fail); what it did."""
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"{self.command[1]} did not end within {timeout:.0f}s: {self.output()[-3000:]}"
            ) from None
        code = self.process.returncode
        return Outcome(subprocess.CompletedProcess(self.command, code, self.output(), ""))

    def output(self) -> str:
        self.out.seek(0)
        return self.out.read().decode("utf-8", errors="replace")

    def close(self) -> None:
        if self.process.poll() is None:
            self.kill()
        self.out.close()


class Processes:
    """Every ``brygga`` process a test starts, each killed when the test ends, however it ends.

    A test cut off by its timeout (pytest-timeout raises in the test's thread) skips what it would have done
    next: a ``brygga serve`` cut off as it starts (on a busy machine, waiting for ``/health``) was never
    stopped, and lived on after the test, and after the suite.
    """

    def __init__(self) -> None:
        self.started: list[Started] = []
        self.servers: list[ServeProcess] = []

    def start(self, command: list[str], cwd: Path, env: dict[str, str] | None = None) -> Started:
        started = Started(command, cwd, env)
        self.started.append(started)
        return started

    def serve(self, config: Path, logs: Path) -> ServeProcess:
        """``brygga serve -c CONFIG`` started, and answering ``/health``."""
        server = ServeProcess(config, {}, logs)
        self.servers.append(server)  # before it starts: it may be cut off as it does
        return server.start()

    def end(self) -> None:
        """Kill each one still running (``brygga serve`` with its process group), and wait for it to be gone."""
        for started in self.started:
            started.close()
        for server in self.servers:
            process = server.process
            if process is None:  # stopped already
                continue
            with contextlib.suppress(ProcessLookupError):  # its group is gone already
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *_: object) -> None:
        self.end()


def wait_for_moment(
    moment: Rule, process: subprocess.Popen[Any], timeout: float, log: Callable[[], str], what: str = "the moment"
) -> None:
    """Wait until ``moment`` (a rule playing a :class:`Moment`) is reached; fail, naming ``what`` and
    with the end of ``log()``, if ``process`` ends first or ``timeout`` seconds pass."""
    assert isinstance(moment.fault, Moment)
    ends = time.monotonic() + timeout
    while not moment.fault.reached.wait(0.05):  # woken at once when reached; the slices watch the process
        if process.poll() is not None:
            raise AssertionError(f"the process ended (exit {process.returncode}) before {what}:\n{log()[-3000:]}")
        if time.monotonic() > ends:
            raise AssertionError(f"gave up after {timeout:.0f}s waiting for {what}:\n{log()[-3000:]}")


def each_once(api: ApiState, records: int) -> str | None:
    """What is wrong with the API's collection, if anything: it must hold every contact exactly once."""
    held = Counter(str(row.get("email")) for row in list(api.store.values()))
    wanted = Counter(email(n) for n in range(1, records + 1))
    missing = sorted(wanted - held, key=_number)
    doubled = sorted((address for address, count in held.items() if count > 1), key=_number)
    strangers = sorted(set(held) - set(wanted))
    if not (missing or doubled or strangers):
        return None
    return (
        f"{len(missing)} missing (first {missing[:5]}), {len(doubled)} held more than once (first "
        f"{[(address, held[address]) for address in doubled[:5]]}), {len(strangers)} unknown (first {strangers[:5]})"
    )


def assert_clean_run(project: FaultProject, api: ApiState, records: int, outcome: Outcome) -> None:
    """The last run succeeded, left no dead letter, and the API holds each record once."""
    run, letters = project.runs()[-1], project.dead_letters()
    problems = [
        f"the API's collection is wrong: {problem}" if (problem := each_once(api, records)) else "",
        f"run {run.id} is {run.status} (error {run.error!r})" if run.status != "succeeded" else "",
        f"{len(letters)} dead letters (first {letters[:2]})" if letters else "",
    ]
    assert not any(problems), "; ".join(problem for problem in problems if problem) + f"\n{outcome}"


def _number(address: str) -> int:
    digits = "".join(ch for ch in address if ch.isdigit())
    return int(digits) if digits else 0


# --- fixtures ----------------------------------------------------------------------------


@pytest.fixture
def proxy(api_server: ApiServer, api: ApiState) -> Iterator[FaultProxy]:
    """A fault proxy of this test's own in front of the API."""
    with running_proxy(api_server.url) as proxy:
        yield proxy


@pytest.fixture
def processes() -> Iterator[Processes]:
    """Where the test's ``brygga`` processes are kept: each is killed when the test ends (its timeout too)."""
    with Processes() as spawned:
        yield spawned


@pytest.fixture
def make_project(tmp_path: Path, proxy: FaultProxy, processes: Processes) -> Iterator[Any]:
    def make(records: int = 200) -> FaultProject:
        return FaultProject(tmp_path, proxy, records, processes)

    yield make


def record_of(exchange: Exchange) -> str | None:
    """The contact a request to the collection is about: a match's ``?email=``, a create's body ``email``."""
    if exchange.method == "GET":
        return exchange.param("email")
    try:
        body = json.loads(exchange.body)
    except ValueError:
        return None
    return str(body.get("email")) if isinstance(body, dict) else None


def tries_per_record(exchanges: list[Exchange]) -> Counter[tuple[str, str]]:
    """How often each contact was asked for in these requests, by (method, email)."""
    return Counter((e.method, record) for e in exchanges if (record := record_of(e)) is not None)
