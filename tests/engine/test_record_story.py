"""A record's story with field diffs: each write's changed fields, worked out from the entries before it."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from app.engine.record_story import with_changes
from app.records import loads, shown_dumps
from app.store.history import FieldChange, LogRecord, Story

AT = datetime(2026, 12, 5, tzinfo=UTC)


def entry(action: str, values: dict[str, Any] | None = None, direction: str | None = None, **more: Any) -> LogRecord:
    return LogRecord(0, 1, "sync", "1", "T1", action, None, AT, direction, more.get("conflict"), values)


def story(*oldest_first: LogRecord) -> Story:
    return Story(None, None, list(reversed(oldest_first)))


def changes(told: Story) -> list[list[tuple[str, Any, Any]] | None]:
    """Each entry's changes, oldest first."""
    return [None if e.changes is None else [tuple(change) for change in e.changes] for e in reversed(told.entries)]


def test_each_write_lists_the_fields_it_changed_from_what_to_what() -> None:
    told = with_changes(
        story(
            entry("created", {"id": 1, "name": "Ann", "email": "a@x.se"}),
            entry("skipped"),
            entry("updated", {"id": 1, "name": "Anna", "email": "a@x.se"}),
            entry("updated", {"id": 1, "name": "Anna", "email": "anna@x.se", "phone": "1"}),
        )
    )

    assert changes(told) == [
        [("id", None, 1), ("name", None, "Ann"), ("email", None, "a@x.se")],
        None,
        [("name", "Ann", "Anna")],
        [("email", "a@x.se", "anna@x.se"), ("phone", None, "1")],
    ]
    assert isinstance(told.entries[0].changes[0], FieldChange)  # type: ignore[index]


def test_an_update_without_the_values_before_it_has_unknown_changes() -> None:
    told = with_changes(story(entry("updated", {"name": "Anna"}), entry("updated", {"name": "Bo"})))

    assert changes(told) == [None, [("name", "Anna", "Bo")]]


def test_a_write_that_changed_nothing_says_so_and_a_type_change_is_a_change() -> None:
    told = with_changes(story(entry("created", {"n": 1}), entry("updated", {"n": 1}), entry("updated", {"n": "1"})))

    assert changes(told) == [[("n", None, 1)], [], [("n", 1, "1")]]


def test_a_record_created_again_after_a_delete_starts_afresh() -> None:
    told = with_changes(story(entry("created", {"n": 1}), entry("deleted"), entry("created", {"n": 1})))

    assert changes(told) == [[("n", None, 1)], None, [("n", None, 1)]]


def test_two_way_writes_hold_only_settled_fields_and_each_direction_is_its_own() -> None:
    conflict = {"field": "name", "a": "A", "b": "B", "winner": "a"}
    told = with_changes(
        story(
            entry("created", {"id": 1, "name": "C", "phone": "1"}, "to_b"),
            entry("updated", {"phone": "2"}, "to_a"),
            entry("conflict", None, "to_b", conflict=conflict),
            entry("updated", {"name": "A"}, "to_b"),
        )
    )

    assert changes(told) == [
        [("id", None, 1), ("name", None, "C"), ("phone", None, "1")],
        None,
        None,
        [("name", "C", "A")],
    ]
    assert told.entries[1].conflict == conflict


def test_values_are_kept_as_plain_json_and_what_it_cannot_hold_typed() -> None:
    assert shown_dumps({"credit": Decimal("1.50"), "on": AT.date()}) == '{"credit":"1.50","on":"2026-12-05"}'
    assert loads(shown_dumps({"big": 2**70, "text": "\ud800"})) == {"big": 2**70, "text": "\ud800"}
