"""The three-way comparison of one pair, on its own (app/engine/settling.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest

from app.config import TwoWaySyncConfig
from app.engine.settling import Settler, same

SYNC = TwoWaySyncConfig.model_validate(
    {
        "two_way": {"a": "crm.contacts", "b": "erp.customers", "wins": "newest", "newest": {"a": "at", "b": "at"}},
        "to_b": {"no": "id", "email": "email", "name": "name"},
        "to_a": {"id": "no", "email": "email", "name": "name"},
    }
)
SETTLER = Settler(SYNC, ["id"], ["no"])
BASE = {"a": {"email": "x@y", "name": "Ann"}, "b": {"email": "x@y", "name": "Ann"}}


def settle(a: dict[str, Any], b: dict[str, Any], *, a_in: bool = True) -> Any:
    proposed_b = {"no": a["id"], "email": a["email"], "name": a["name"]} if a_in else None
    proposed_a = {"id": b["no"], "email": b["email"], "name": b["name"]}
    return SETTLER.settle(a, b, proposed_b, proposed_a, BASE)


def test_newest_wins_a_conflict_by_each_sides_change_time() -> None:
    a = {"id": 1, "email": "x@y", "name": "A", "at": "2024-01-02T10:00:00Z"}
    b = {"no": 1, "email": "x@y", "name": "B", "at": "2024-01-02 11:00:00"}  # naive: taken as UTC

    settled = settle(a, b)

    assert (settled.into_a, settled.into_b) == ({"name": "B"}, {})
    assert [(c.field, c.a, c.b, c.winner) for c in settled.conflicts] == [("name", "A", "B", "b")]


@pytest.mark.parametrize(
    ("a_at", "b_at"),
    [(None, "2024-01-02T11:00:00Z"), ("2024-01-02T11:00:00Z", None), (None, None), ("not a time", "2024-01-02")],
    ids=["none-in-a", "none-in-b", "none-in-either", "no-moment-in-a"],
)
def test_newest_gives_a_the_conflict_where_a_side_has_no_change_time(a_at: Any, b_at: Any) -> None:
    """As docs/two-way.md says: a on a tie, or where one side has no value (b won where only a had none)."""
    a = {"id": 1, "email": "x@y", "name": "A", "at": a_at}
    b = {"no": 1, "email": "x@y", "name": "B", "at": b_at}

    settled = settle(a, b)

    assert [(c.field, c.winner) for c in settled.conflicts] == [("name", "a")]
    assert (settled.into_a, settled.into_b) == ({}, {"name": "A"})


def test_a_record_left_out_by_where_carries_nothing_its_way_and_keeps_the_base() -> None:
    a = {"id": 1, "email": "new@y", "name": "Ann", "at": None}
    b = {"no": 1, "email": "x@y", "name": "Ann", "at": None}

    left_out = settle(a, b, a_in=False)
    base = {"a": left_out.base_a, "b": left_out.base_b}
    back_in = SETTLER.settle(
        a, b, {"no": 1, "email": "new@y", "name": "Ann"}, {"id": 1, "email": "x@y", "name": "Ann"}, base
    )

    assert (left_out.into_a, left_out.into_b) == ({}, {})
    assert {"a": left_out.base_a, "b": left_out.base_b} == BASE
    assert back_in.into_b == {"email": "new@y"}
    assert back_in.into_a == {}, "b's value, not yet overwritten, is no change of b's"


@pytest.mark.parametrize(
    ("stored", "read_back"),
    [
        (True, 1),  # MariaDB's BOOLEAN is a TINYINT: true reads back as 1
        (False, 0),
        (datetime(2024, 1, 1, 10, 0, tzinfo=UTC), datetime(2024, 1, 1, 10, 0)),  # no time zones: kept as UTC
        (datetime(2024, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=2))), datetime(2024, 1, 1, 10, 0)),
        (date(2024, 1, 1), datetime(2024, 1, 1)),  # a date into MariaDB's DATETIME: read back at midnight
        (datetime(2024, 1, 1), date(2024, 1, 1)),  # and midnight into PostgreSQL's DATE
        (True, "true"),  # into a TEXT column: written as key_text writes it
        (False, "false"),
        ("TRUE", True),  # text into a BOOLEAN column
        (UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
        ("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")),
        ("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),  # a base keeps UUIDs as text
        (time(10, 0, 0, 500000), "10:00:00.500000"),
        ("10:00", time(10, 0)),
    ],
    ids=[
        "true-as-1",
        "false-as-0",
        "utc-as-naive",
        "cest-as-naive-utc",
        "date-as-midnight",
        "midnight-as-date",
        "true-as-text",
        "false-as-text",
        "text-as-true",
        "uuid-as-text",
        "text-as-uuid",
        "uuid-text-as-kept",
        "time-as-text",
        "text-as-time",
    ],
)
def test_a_value_read_back_as_its_side_stores_it_is_no_change(stored: Any, read_back: Any) -> None:
    sync = TwoWaySyncConfig.model_validate(
        {
            "two_way": {"a": "crm.contacts", "b": "erp.customers", "wins": "a"},
            "to_b": {"no": "id", "v": "v"},
            "to_a": {"id": "no", "v": "v"},
        }
    )
    base = {"a": {"v": stored}, "b": {"v": stored}}  # what was last written into b, as a had it

    settled = Settler(sync, ["id"], ["no"]).settle(
        {"id": 1, "v": stored}, {"no": 1, "v": read_back}, {"no": 1, "v": stored}, {"id": 1, "v": read_back}, base
    )

    assert (settled.into_a, settled.into_b, settled.conflicts) == ({}, {}, [])


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (True, 0),
        (True, 2),
        (False, 1),
        (True, "1"),
        (True, "false"),
        (date(2024, 1, 1), datetime(2024, 1, 1, 13, 0)),
        (date(2024, 1, 1), datetime(2024, 1, 1, tzinfo=UTC)),
        (UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12"),
        (time(10, 0), "10:00:01"),
        (time(10, 0), "ten"),
        ("Anna", "anna"),
    ],
)
def test_a_value_and_another_of_another_type_still_differ(one: Any, other: Any) -> None:
    assert not same(one, other) and not same(other, one)


def test_an_aware_and_a_naive_moment_an_hour_apart_still_differ() -> None:
    assert not same(datetime(2024, 1, 1, 10, 0, tzinfo=UTC), datetime(2024, 1, 1, 11, 0))


def test_edits_are_the_fields_changed_since_the_base_on_the_side_or_filled_from_it_on_the_other() -> None:
    b = {"no": 1, "email": "x@y", "name": "Ann"}

    untouched = SETTLER.edits("b", b, {"id": 1, "email": "x@y", "name": "Ann"}, BASE)
    edited = SETTLER.edits("b", {**b, "name": "Bo"}, {"id": 1, "email": "x@y", "name": "Bo"}, BASE)
    unmappable = SETTLER.edits("b", {**b, "email": "new@y"}, None, BASE)

    assert (untouched, edited, unmappable) == ({}, {"name": "Bo"}, {"email": "new@y"})


def test_a_settled_pair_notes_the_key_each_block_gives_and_a_create_the_key_it_gave() -> None:
    a = {"id": 1, "email": "x@y", "name": "Ann", "at": None}
    b = {"no": 1, "email": "x@y", "name": "Ann", "at": None}

    settled = settle(a, b)
    created_in_b = SETTLER.first_base(a, {"no": 1, "email": "x@y", "name": "Ann"}, "b")

    assert (settled.base_a["id"], settled.base_b["no"]) == (1, 1)
    assert "id" not in created_in_b["a"] and created_in_b["b"]["no"] == 1
