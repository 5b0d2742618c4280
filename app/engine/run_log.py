"""One log line per finished run, for ops: what ran, why, how it ended, what it did and how long it took.

The line is written where a run finishes (:class:`app.engine.runner.Engine`), so
``brygga serve`` and ``brygga run`` both have it. Its facts are also on the
record as :data:`FIELDS`, a dict the JSON log format shows as keys of their own::

    run finished: sync=contacts run=42 trigger=schedule status=succeeded read=10 created=1 updated=0
    deleted=0 unchanged=9 skipped=0 failed=0 duration=0.31s

A failed run's line ends with its ``error="..."`` (as stored: secrets scrubbed).
"""

from __future__ import annotations

import json
import logging
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the line's users (the log formats) import this module without the store
    from app.store import RunInfo

RUN_LOGGER = "brygga.runs"
FIELDS = "fields"
"""The record attribute with the line's facts: ``sync, run_id, trigger, status, counts, duration_s, error``."""

log = logging.getLogger(RUN_LOGGER)

_PLAIN = re.compile(r"[^\s\"=]+")


def log_finished(run: RunInfo) -> None:
    """Write run ``run``'s line at INFO on :data:`RUN_LOGGER`."""
    facts = run_fields(run)
    log.info(run_line(facts), extra={FIELDS: facts})


def run_fields(run: RunInfo) -> dict[str, Any]:
    """A finished run's facts, by the names the JSON log format gives them."""
    duration = (run.finished_at - run.started_at).total_seconds() if run.finished_at is not None else 0.0
    return {
        "sync": run.sync,
        "run_id": run.id,
        "trigger": run.trigger,
        "status": run.status,
        "counts": run.counts.as_dict(),
        "duration_s": round(max(duration, 0.0), 3),
        "error": run.error,
    }


def run_line(facts: dict[str, Any]) -> str:
    """The run's line as text: ``key=value`` pairs, a value with spaces or quotes in JSON's quotes."""
    pairs = [("sync", facts["sync"]), ("run", facts["run_id"]), ("trigger", facts["trigger"])]
    pairs += [("status", facts["status"]), *facts["counts"].items(), ("duration", f"{facts['duration_s']:.2f}s")]
    if facts["error"] is not None:
        pairs.append(("error", facts["error"]))
    return "run finished: " + " ".join(f"{name}={_shown(value)}" for name, value in pairs)


def _shown(value: object) -> str:
    text = str(value)
    return text if _PLAIN.fullmatch(text) else json.dumps(text, ensure_ascii=False)
