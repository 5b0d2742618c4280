"""A record's story with field diffs: which fields each write changed, from what to what (SPEC 7, issue 20).

The record log keeps, per created or updated record, the values written (where the project's
``record_log.values`` keeps them). A write's changes are its values compared with what the record
held before: the values of the entries before it of the same record in the same direction (a
two-way sync writes only the fields it settles, so what a record holds is what every write since it
was created put there).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from app.store import FieldChange, LogRecord, Story

_WRITTEN = ("created", "updated")


def with_changes(story: Story) -> Story:
    """``story`` with each of its writes' changed fields (its entries are newest first)."""
    held: dict[str | None, dict[str, Any]] = {}  # by direction: what the record holds, as far as the log tells
    entries: list[LogRecord] = []
    for logged in reversed(story.entries):
        entry = logged
        if entry.action == "deleted":
            held.pop(entry.direction, None)
        values = entry.values
        if entry.action in _WRITTEN and values is not None:
            before = held.get(entry.direction)
            if before is None and entry.action == "created":
                before = {}
            entry = replace(entry, changes=None if before is None else changed_fields(before, values))
            held[entry.direction] = {**(before or {}), **values}
        entries.append(entry)
    entries.reverse()
    return replace(story, entries=entries)


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> list[FieldChange]:
    """The fields of ``after`` whose value differs from ``before``'s (``None`` before where it had none)."""
    return [
        FieldChange(name, before.get(name), value)
        for name, value in after.items()
        if name not in before or not _same(before[name], value)
    ]


def _same(one: Any, other: Any) -> bool:
    return type(one) is type(other) and one == other
