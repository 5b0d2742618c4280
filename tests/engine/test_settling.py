"""The three-way comparison of one pair, on its own (app/engine/settling.py)."""

from __future__ import annotations

from typing import Any

from app.config import TwoWaySyncConfig
from app.engine.settling import Settler

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
