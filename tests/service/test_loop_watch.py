"""The loop watch names what holds the event loop: a connector's call with its sync, or else the task and line."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

from app.engine.loop_watch import LoopWatch


class _Released(logging.Handler):
    """Keeps the service's warnings, and lets the holding code go once one says the loop is held."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []
        self.held = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())
        if "held" in record.getMessage():
            self.held.set()


def _hold_until(event: threading.Event) -> None:
    """Block the thread (the loop's, when called from a coroutine) until ``event``, as ``time.sleep`` would."""
    while not event.wait(0.01):
        time.sleep(0.01)


async def test_a_hold_outside_any_connector_call_names_the_task_and_its_line() -> None:
    handler = _Released()
    logger = logging.getLogger("brygga.service")
    logger.addHandler(handler)
    watch = LoopWatch(asyncio.get_running_loop(), held_after=0.3)
    watch.start()
    try:

        async def holder() -> None:
            _hold_until(handler.held)

        await asyncio.create_task(holder(), name="the-holder")
        await asyncio.to_thread(lambda: _wait_for(handler, "free again"))
    finally:
        watch.stop()
        logger.removeHandler(handler)

    held = next(line for line in handler.lines if "has been held" in line)
    assert "the event loop has been held for" in held
    assert "by task the-holder (at " in held
    assert "test_loop_watch.py:" in held
    assert any(line.startswith("the event loop is free again, after") for line in handler.lines)


def _wait_for(handler: _Released, text: str) -> None:
    end = time.monotonic() + 10
    while not any(text in line for line in handler.lines):
        assert time.monotonic() < end, f"no warning saying {text!r}: {handler.lines}"
        time.sleep(0.02)
