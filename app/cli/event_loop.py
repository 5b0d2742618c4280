"""The event loop of a command that calls connectors, which ends without waiting for what a connector
left running.

A connector's call that would not stop (it swallows its cancellation, or waits on a thread that never
returns) is given up on by the engine, and the command goes on. ``asyncio.run`` would then wait for it
for ever as the command ends: for the task to end once cancelled, and for the threads of the default
executor. :func:`run_async` gives them :data:`ENDING_GRACE` seconds instead; what is still running then
is named on stderr, and :func:`end_now_if_left_running` ends the process at once with the command's exit
code (the runs and the state database are done with by then).
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from app.cli.output import output

_T = TypeVar("_T")

ENDING_GRACE = 2.0
"""Seconds a command's left-over tasks and threads get to end, once cancelled, as the command ends."""

_left_running = threading.Event()
"""Set when a command ended with tasks or threads still running: the process ends without them."""


def run_async(main: Coroutine[Any, Any, _T]) -> _T:
    """``asyncio.run(main)``, except that what is still running after ``main`` (a connector's call given up
    on) is waited for no longer than :data:`ENDING_GRACE`."""
    runner = asyncio.Runner()
    threads = ThreadPoolExecutor(thread_name_prefix="brygga")  # the default one's: its threads can be left
    runner.get_loop().set_default_executor(threads)
    try:
        return runner.run(main)
    finally:
        _end(runner, threads)


def _end(runner: asyncio.Runner, threads: ThreadPoolExecutor) -> None:
    loop = runner.get_loop()
    tasks = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.wait(tasks, timeout=ENDING_GRACE))
    running = sum(not task.done() for task in tasks)
    if running == 0 and _shut_down_within(threads, ENDING_GRACE):
        runner.close()
        return
    what = f"{running} task{'s' if running != 1 else ''}" if running else "a thread"
    output.warn(f"ending without waiting for {what} still at work: a connector's call given up on, left running")
    _left_running.set()


def _shut_down_within(threads: ThreadPoolExecutor, seconds: float) -> bool:
    """Shut ``threads`` down, waiting ``seconds`` at most for those at work; whether they all ended."""
    waiting = threading.Thread(target=threads.shutdown, kwargs={"cancel_futures": True}, daemon=True)
    waiting.start()
    waiting.join(seconds)
    return not waiting.is_alive()


def end_now_if_left_running(code: int | str | None) -> None:
    """End the process at once with ``code`` (``sys.exit``'s) where a command left tasks or threads running:
    the interpreter's own ending would wait for those threads for ever."""
    if not _left_running.is_set():
        return
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code if isinstance(code, int) else 0 if code is None else 1)
