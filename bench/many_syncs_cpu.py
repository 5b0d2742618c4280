"""CPU and round trips per scheduled run of many syncs, in one process (issue 22, goal 4): an A/B tool.

Run: ``.venv/bin/python -m bench.many_syncs_cpu [--syncs N] [--rounds R]``.

The project of ``bench.many_syncs`` (SQLite → SQLite, nothing changing), loaded once by ``brygga run
--all``; then an in-process :class:`~app.engine.service.Service` (its scheduler paused) fires every sync's
schedule at once, ``--rounds`` times, each for the next slot, and waits for the runs. Each round prints
the process's CPU seconds (user + system, load-independent, unlike the wall time of ``bench.many_syncs``),
the statements sent to the state database and to the syncs' own databases, and the trips to aiosqlite's
worker threads (each a wake-up of another thread), per run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosqlite.core
from sqlalchemy import event
from sqlalchemy.engine import Engine as SyncEngine

from app.engine.service import Service
from app.engine.settings import ServiceSettings
from bench.many_syncs import make_project, sync_name

SLOT = datetime(2030, 1, 1, tzinfo=UTC)


def count_trips(trips: Counter[str]) -> None:
    """Count each call handed to an aiosqlite connection's thread, by the function called."""
    handed: Callable[..., Awaitable[Any]] = aiosqlite.core.Connection._execute

    async def counted(self: aiosqlite.core.Connection, function: Any, *args: Any, **kwargs: Any) -> Any:
        trips[getattr(function, "__name__", "?")] += 1
        return await handed(self, function, *args, **kwargs)

    aiosqlite.core.Connection._execute = counted  # type: ignore[method-assign]


async def fire(service: Service, names: list[str], slot: datetime) -> None:
    """Every sync's schedule fires at once (on a tree from before the batches: each sync's job on its own)."""
    if hasattr(service, "_scheduled_many"):
        await service._scheduled_many(dict.fromkeys(names, slot))
    else:
        await asyncio.gather(*(service._scheduled(name, slot) for name in names))


async def measure(folder: Path, syncs: int, rounds: int) -> None:
    os.chdir(folder)
    service = Service(ServiceSettings(config=folder / "brygga.yaml", watch_every=timedelta(hours=1)), environ={})
    await service.start()
    service.schedules.scheduler.pause()
    state, others, trips = Counter[str](), Counter[str](), Counter[str]()
    state_engine = service.store.engine.sync_engine

    def count(connection: Any, *_: Any) -> None:
        (state if connection.engine is state_engine else others)["statements"] += 1

    event.listen(SyncEngine, "before_cursor_execute", count)
    count_trips(trips)
    names = [sync_name(n) for n in range(syncs)]
    try:
        for round_ in range(rounds):
            state.clear(), others.clear(), trips.clear()
            cpu = time.process_time()
            await fire(service, names, SLOT + timedelta(minutes=round_))
            for name in names:
                await service.wait_for(name)
            cpu = time.process_time() - cpu
            print(
                f"round {round_ + 1}: {1000 * cpu / syncs:.1f} ms CPU per run; per run: "
                f"{state['statements'] / syncs:.1f} statements to the state, "
                f"{others['statements'] / syncs:.1f} to the syncs' databases, "
                f"{sum(trips.values()) / syncs:.1f} trips to aiosqlite threads"
            )
    finally:
        await service.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--syncs", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        make_project(folder, options.syncs, None)
        brygga = str(Path(sys.executable).parent / "brygga")
        subprocess.run([brygga, "run", "--all"], cwd=folder, capture_output=True, check=True)
        asyncio.run(measure(folder, options.syncs, options.rounds))


if __name__ == "__main__":
    main()
