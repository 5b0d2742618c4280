"""Notices code that holds the service's event loop, and says whose it is.

Everything of ``brygga serve`` (the HTTP API, ``/health``, webhooks, every sync's run) takes turns on one
event loop. A connector that blocks in an async method (``time.sleep``, a blocking client) stops all of it
for as long, and nothing can pre-empt it. What can be done is to say so while it happens: a beat on the loop
every :data:`BEAT` seconds, and a thread that looks at the loop when the beat is late by more than
:data:`HELD_AFTER`: which task holds it, the connector call that task is in
(:data:`~app.engine.connector_calls.calls_in_progress`) and the line it is at, in one warning; and, once the
loop is free again, for how long it was held.

It costs a callback on the loop and a thread's wake-up four times a second, whatever the work.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import sysconfig
import threading
import time
from types import FrameType

from app.engine.connector_calls import calls_in_progress, connector_name

log = logging.getLogger("brygga.service")

BEAT = 0.25
"""Seconds between beats on the loop, and between the watching thread's looks."""

HELD_AFTER = 1.0
"""Seconds the loop may be held by one piece of code before a warning says whose it is."""


class LoopWatch:
    """Watches ``loop`` (running in the calling thread) from a thread of its own, between :meth:`start` and
    :meth:`stop`."""

    def __init__(self, loop: asyncio.AbstractEventLoop, held_after: float = HELD_AFTER) -> None:
        self._loop = loop
        self._held_after = held_after
        self._loop_thread = threading.get_ident()
        self._beat = time.monotonic()
        self._handle: asyncio.TimerHandle | None = None
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="brygga-loop-watch", daemon=True)

    def start(self) -> None:
        self._tick()
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._handle is not None:
            self._handle.cancel()
        self._thread.join(BEAT * 4)

    def _tick(self) -> None:
        self._beat = time.monotonic()
        self._handle = self._loop.call_later(BEAT, self._tick)

    def _watch(self) -> None:
        held_since: float | None = None
        """The beat after which the loop was found held, until it beats again."""
        looked = time.monotonic()
        while not self._stopped.wait(BEAT):
            now, beat = time.monotonic(), self._beat
            starved = now - looked > BEAT + self._held_after / 2  # the whole process waited for a CPU, not the loop
            looked = now
            if held_since is not None and beat != held_since:
                log.warning("the event loop is free again, after %.1fs held", beat - held_since - BEAT)
                held_since = None
            late = now - beat - BEAT
            if held_since is None and late > self._held_after and not starved:
                warning = self._holder(late)
                if warning is not None:
                    held_since = beat
                    log.warning("%s", warning)

    def _holder(self, late: float) -> str | None:
        """What holds the loop, in words; ``None`` where no task runs (the loop waits for the process's turn)."""
        task = asyncio.current_task(self._loop)
        if task is None:
            return None
        where = _place(sys._current_frames().get(self._loop_thread))
        call = calls_in_progress.get(task)
        if call is None:
            return f"the event loop has been held for {late:.1f}s by task {task.get_name()} (at {where})"
        by = f"sync {call.sync}: " if call.sync is not None else ""
        return (
            f"{by}{connector_name(call.connector)} has held the event loop for {late:.1f}s while {call.doing} "
            f"(at {where}): nothing else of the service runs "
            "meanwhile (the API, /health, webhooks, other syncs); a connector must not block in an async "
            "method (time.sleep, a blocking client library): see docs/connectors/writing.md"
        )


_STANDARD_LIBRARY = sysconfig.get_paths()["stdlib"]


def _place(frame: FrameType | None) -> str:
    """Where a thread whose innermost frame is ``frame`` is, as ``file:line in function``: the innermost
    frame outside the standard library (the connector's ``time.sleep``, not ``threading.wait``)."""
    if frame is None:
        return "an unknown place"
    own: FrameType | None = frame
    while own is not None and own.f_code.co_filename.startswith(_STANDARD_LIBRARY):
        own = own.f_back
    shown = own or frame
    return f"{shown.f_code.co_filename}:{shown.f_lineno} in {shown.f_code.co_name}"
