"""What the guards on connector calls cost: a call under its deadline (``call_timeout``) and noted for the
loop watch, against a bare ``await``; the loop watch, and asyncio's debug mode (its other way of spotting
slow callbacks), against a loop that does many small tasks.

    python -m bench.connector_guards [--write]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import time
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from app.engine.connector_calls import guarded
from app.engine.loop_watch import LoopWatch
from bench.results import write_section

CALLS = 100_000
TASKS = 100_000
ROUNDS = 9

_CONNECTOR: Any = SimpleNamespace(
    system=SimpleNamespace(name="s", connector="bench", options=SimpleNamespace(call_timeout=timedelta(hours=1)))
)


async def _answer() -> int:
    return 1


async def _per_call(with_guard: bool) -> float:
    """Microseconds per call, the loop turning every 100 calls (as it does between batches)."""
    start = time.perf_counter()
    for number in range(CALLS):
        if with_guard:
            await guarded(_CONNECTOR, "reading", _answer())
        else:
            await _answer()
        if number % 100 == 0:
            await asyncio.sleep(0)
    return (time.perf_counter() - start) / CALLS * 1e6


async def _tasks() -> float:
    """Seconds for many small tasks that each await once: the loop's everyday work."""

    async def step() -> int:
        await asyncio.sleep(0)
        return sum(range(50))

    start = time.perf_counter()
    for _ in range(10):
        await asyncio.gather(*(step() for _ in range(TASKS // 10)))
    return time.perf_counter() - start


async def _watched() -> float:
    watch = LoopWatch(asyncio.get_running_loop())
    watch.start()
    try:
        return await _tasks()
    finally:
        watch.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="write the figures to bench/RESULTS.md")
    args = parser.parse_args()
    logging.getLogger("asyncio").setLevel(logging.ERROR)  # debug mode's own lines about slow steps
    bare, guard, plain, watched, debug = [], [], [], [], []
    for number in range(ROUNDS):  # interleaved, so that a busy moment of the machine hits each alike
        bare.append(asyncio.run(_per_call(False)))
        guard.append(asyncio.run(_per_call(True)))
        for watching in (False, True) if number % 2 else (True, False):  # which goes first alternates too
            (watched if watching else plain).append(asyncio.run(_watched() if watching else _tasks()))
        if number < 3:  # slow: three rounds tell enough
            debug.append(asyncio.run(_tasks(), debug=True))
    m = statistics.median
    report = f"""
A connector call (a page read, a batch written) through the engine's guard against a bare `await`, and
{TASKS:,} small tasks on a loop with and without the loop watch and in asyncio's debug mode; median of
{ROUNDS} interleaved rounds (3 in debug mode), on a machine shared with other work: a few percent either way
is noise.

| what | figure |
| --- | ---: |
| a bare call | {m(bare):.2f} µs |
| a guarded call (deadline, noted for the loop watch) | {m(guard):.2f} µs |
| {TASKS:,} tasks | {m(plain):.3f} s |
| the same, watched | {m(watched):.3f} s ({(m(watched) / m(plain) - 1) * 100:+.1f}%) |
| the same, in asyncio's debug mode | {m(debug):.3f} s ({m(debug) / m(plain):.0f}×) |

- the guard costs {m(guard) - m(bare):.0f} µs per call: one call per batch read and one per batch
  written, against milliseconds per batch of 1,000 records (see Sync speed): nothing measurable
- the loop watch is a callback and a thread's wake-up four times a second: within the noise
- asyncio's debug mode would name slow callbacks too, but slows every task: not for production
"""
    print(report)
    if args.write:
        write_section("Connector guards (`python -m bench.connector_guards`)", report)


if __name__ == "__main__":
    main()
