"""The JSON log format: one object per record, a traceback as ``exc_info``, a run's facts as keys of their own."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

from app.cli.logs import TEXT_FORMAT, JsonFormatter, TextFormatter
from app.engine.run_log import run_fields
from app.store import Counts, RunInfo


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


def test_every_field_and_variable_of_the_log_is_documented() -> None:
    run = RunInfo(7, "contacts", "manual", "succeeded", datetime.now(UTC), datetime.now(UTC), Counts(), None)
    logs = (Path(__file__).parents[2] / "docs" / "operations.md").read_text(encoding="utf-8")
    section = logs.partition("### Logs\n")[2].partition("\n### ")[0]

    for name in [*run_fields(run), *run.counts.as_dict(), "time", "level", "logger", "message", "exc_info"]:
        assert f"`{name}`" in section, name
    for variable in ("BRYGGA_LOG_LEVEL", "BRYGGA_LOG_FORMAT"):
        assert f"`{variable}`" in logs, variable


def test_a_text_line_keeps_text_from_outside_on_one_line_and_off_the_terminal() -> None:
    key = "k\x1b]0;PWNED\x07\n2026-01-01 00:00:00,000 ERROR brygga: a forged line"
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord(
            "brygga.engine", logging.WARNING, __file__, 1, "record %s failed", (key,), sys.exc_info()
        )

    line = TextFormatter(TEXT_FORMAT).format(record)

    first, *traceback = line.split("\n")
    assert first.endswith("record k\\x1b]0;PWNED\\x07\\n2026-01-01 00:00:00,000 ERROR brygga: a forged line failed")
    assert traceback[0] == "Traceback (most recent call last):" and traceback[-1] == "ValueError: boom"
