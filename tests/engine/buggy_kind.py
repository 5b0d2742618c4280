"""A connector kind that misbehaves on purpose, as a third-party one might, registered through an entry
point (a ``.dist-info`` folder on the path) like any installed kind.

Each stream's ``bug`` option (or :attr:`BuggyConnector.bugs`, set by a test between runs) picks the mistake;
the system's ``bug`` option (or ``bugs[OPEN]``) that of :meth:`BuggyConnector.open`.
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, cast

import pytest

from app.config import kinds
from connectors.base import (
    Batch,
    Checkpoint,
    Connector,
    StreamInfo,
    StreamOptions,
    SystemOptions,
    Write,
    WriteAction,
    WriteResult,
)

REPO = Path(__file__).resolve().parents[2]
READING = "buggy: reading, and waiting to be stopped"
BLOCKING = "buggy: holding the event loop until the file 'release' is there"
OPEN = "(open)"
"""The key of :attr:`BuggyConnector.bugs` for the bug of ``open``."""


class BuggyStream(StreamOptions):
    bug: str = "none"


class BuggySystem(SystemOptions):
    streams: dict[str, BuggyStream]  # type: ignore[assignment]
    bug: str = "none"


async def _hang() -> None:
    """Wait for ever (until cancelled), as a connector stuck on a lost answer does."""
    await asyncio.Event().wait()


released = threading.Event()
"""Ends the waits of :func:`_hang_past_cancel` and :func:`_hang_in_thread` (a test's teardown sets it)."""


async def _hang_past_cancel() -> None:
    """Wait until :data:`released`, catching every cancellation and carrying on, as a connector with an
    ``except BaseException: continue`` around its retries does."""
    while not released.is_set():
        try:
            await asyncio.to_thread(released.wait)
        except asyncio.CancelledError:
            continue


async def _hang_in_thread() -> None:
    """Wait in a thread until :data:`released`, as a connector calling a blocking client library through
    ``asyncio.to_thread`` does: cancelling the call leaves the thread blocked."""
    await asyncio.to_thread(released.wait)


def _raise_ending(bug: str) -> None:
    """Raise what ends a process, where ``bug`` (after its call's name) asks for it."""
    if bug.endswith(" SystemExit"):
        raise SystemExit("exit by a connector")
    if bug.endswith(" KeyboardInterrupt"):
        raise KeyboardInterrupt("pressed by a connector")


class BuggyConnector(Connector):
    """Reads :attr:`records`; writes into :attr:`held`; answers as its stream's bug says."""

    options_model = BuggySystem
    records: ClassVar[list[Any]] = [{"id": number, "name": f"n{number}"} for number in range(1, 6)]
    held: ClassVar[dict[str, dict[str, Any]]] = {}
    bugs: ClassVar[dict[str, str]] = {}

    def bug(self, stream: str) -> str:
        return self.bugs.get(stream) or cast(BuggySystem, self.system.options).streams[stream].bug

    async def open(self) -> None:
        bug = self.bugs.get(OPEN) or cast(BuggySystem, self.system.options).bug
        _raise_ending(bug)
        if bug == "open hang":
            await _hang()

    async def check(self) -> None:
        bug = self.bugs.get(OPEN) or cast(BuggySystem, self.system.options).bug
        if bug == "check RuntimeError":
            raise RuntimeError("a defect in check")
        if bug == "check hang":
            await _hang()

    async def close(self) -> None:
        if (self.bugs.get(OPEN) or cast(BuggySystem, self.system.options).bug) == "close hang":
            await _hang()

    async def prepare(self, stream: str, *, write_fields: Sequence[str] | None = None) -> StreamInfo:
        bug = self.bug(stream)
        if bug.startswith("prepare "):
            _raise_ending(bug)
        if bug == "prepare hang":
            await _hang()
        return StreamInfo()

    def can_match(self, stream: str) -> bool:
        return self.bug(stream).startswith("match ")

    async def match(self, stream: str, records: Sequence[dict[str, Any]]) -> list[str | None]:
        if self.bug(stream) == "match fewer":
            return [None] * (len(records) - 1)
        found: list[Any] = ["", "a\x00b", 7, None, "held-5"]  # keys no ID map can keep, then none, then one
        return [found[index % 5] for index in range(len(records))]

    def reports_created(self, stream: str) -> bool:
        return self.bug(stream) not in ("no get", "get KeyboardInterrupt")

    async def get(self, stream: str, keys: Sequence[str]) -> dict[str, Any]:
        bug = self.bug(stream)
        if bug == "get KeyboardInterrupt":
            raise KeyboardInterrupt("pressed by a connector")
        if bug == "no get":
            return await super().get(stream, keys)
        if bug == "get hang":
            await _hang()
        held = self.held.get(stream, {})
        return {key: held[key] for key in keys if key in held}

    async def read(self, stream: str, checkpoint: Checkpoint | None, batch_size: int) -> AsyncIterator[Batch]:
        bug = self.bug(stream)
        if bug == "KeyboardInterrupt":
            raise KeyboardInterrupt("pressed by a connector")
        if bug == "SystemExit":
            raise SystemExit("exit by a connector")
        if bug == "exit 0":
            sys.exit(0)
        if bug == "hang":  # tells the test it is reading, then waits to be stopped
            print(READING, file=sys.stderr, flush=True)
            await _hang()
        if bug == "swallow":  # catches its cancellation and waits on
            print(READING, file=sys.stderr, flush=True)
            await _hang_past_cancel()
        if bug == "thread":
            print(READING, file=sys.stderr, flush=True)
            await _hang_in_thread()
        if bug == "block":  # time.sleep in an async method: nothing else of the process runs meanwhile
            print(BLOCKING, file=sys.stderr, flush=True)
            while not (self.system.root / "release").exists():
                time.sleep(0.05)
        if bug == "a list":
            yield list(self.records)  # type: ignore[misc]
            return
        yield Batch(list(self.records), {"read": True} if bug == "no get" else {})  # read on from there: by key

    async def write(self, stream: str, writes: Sequence[Write]) -> list[WriteResult]:
        bug = self.bug(stream)
        if bug == "KeyboardInterrupt":
            raise KeyboardInterrupt("pressed by a connector")
        if bug == "write hang":
            await _hang()
        if bug == "write swallow":
            await _hang_past_cancel()
        held = self.held.setdefault(stream, {})
        results = []
        for write in writes:
            key = write.target_key or str(write.record["id"])  # type: ignore[index]
            if write.action is WriteAction.DELETE:
                held.pop(key, None)
            else:
                held[key] = dict(write.record or {})
            results.append(WriteResult(key))
        if bug == "reversed":
            results.reverse()
        elif bug == "fewer":
            results.pop()
        elif bug == "more":
            results.append(WriteResult("999"))
        elif bug == "one key":
            results = [WriteResult("P1") for _ in writes]
        elif bug == "own form":  # no bug: a system that keeps a new record's key in its own form
            results = [WriteResult(f"P-{result.target_key}") for result in results]
        elif bug == "unfit keys":  # keys no ID map can keep, then a fine one, in turn
            long = "".join(hashlib.sha256(str(number).encode()).hexdigest() for number in range(80))  # no repeats
            unfit = ["", "a\x00b", "b\udcffc", long, "ok"]
            results = [WriteResult(f"{unfit[index % 5]}{index // 5 or ''}") for index in range(len(results))]
        return results


class BuggyApi(BuggyConnector):
    """The same, as a system that assigns keys on create."""

    assigns_keys = True


def register(folder: Path) -> Path:
    """A ``.dist-info`` folder in ``folder`` registering kind ``buggy``; the folder, to put on the path."""
    dist = folder / "buggy_kind-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: buggy-kind\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[brygga.connectors]\nbuggy = tests.engine.buggy_kind:BuggyConnector\n"
        "buggy-api = tests.engine.buggy_kind:BuggyApi\n"
    )
    return folder


@pytest.fixture
def buggy_kind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[type[BuggyConnector]]:
    """Kind ``buggy`` installed in this process, with its class state fresh."""
    monkeypatch.syspath_prepend(str(register(tmp_path / "site")))
    kinds._groups.cache_clear()
    kinds.load_kind.cache_clear()
    BuggyConnector.records = [{"id": number, "name": f"n{number}"} for number in range(1, 6)]
    BuggyConnector.held, BuggyConnector.bugs = {}, {}
    released.clear()
    yield BuggyConnector
    released.set()  # the calls a test left waiting end, so that its event loop and threads can end
    monkeypatch.undo()
    kinds._groups.cache_clear()
    kinds.load_kind.cache_clear()
