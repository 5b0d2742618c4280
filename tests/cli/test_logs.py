"""The JSON log format: one object per record, a traceback as ``exc_info``, a run's facts as keys of their own."""

from __future__ import annotations

import json
import logging
import sys

from app.cli.logs import JsonFormatter


def test_a_record_with_an_exception_carries_its_traceback() -> None:
    try:
        raise ValueError("the target said no")
    except ValueError:
        record = logging.LogRecord("brygga.api", logging.ERROR, __file__, 1, "POST %s failed", ("/x",), sys.exc_info())
    record.created = 0.25

    entry = json.loads(JsonFormatter().format(record))

    assert entry["time"] == "1970-01-01T00:00:00.250+00:00"
    assert (entry["level"], entry["logger"], entry["message"]) == ("ERROR", "brygga.api", "POST /x failed")
    assert entry["exc_info"].startswith("Traceback") and "ValueError: the target said no" in entry["exc_info"]


def test_a_run_line_has_its_facts_as_keys_and_keeps_the_standard_ones() -> None:
    record = logging.LogRecord("brygga.runs", logging.INFO, __file__, 1, "run finished: ...", None, None)
    record.__dict__["fields"] = {"sync": "contacts", "run_id": 7, "counts": {"read": 2}, "level": "ignored"}

    entry = json.loads(JsonFormatter().format(record))

    assert entry["level"] == "INFO" and "exc_info" not in entry
    assert (entry["sync"], entry["run_id"], entry["counts"]) == ("contacts", 7, {"read": 2})
