"""What a first load remembers of the keys it has met, and that it stops remembering past its bound."""

from __future__ import annotations

from app.engine.first_load import FirstLoad


def test_keys_never_met_need_no_look_up_and_keys_met_do() -> None:
    first = FirstLoad()
    assert first.maybe_mapped({"1", "2"}) == set()

    first.meet(["1", "2"])

    assert first.maybe_mapped({"2", "3"}) == {"2"}
    assert first.maybe_mapped({"3", "4"}) == set()


def test_past_its_bound_it_stops_remembering_and_every_key_is_looked_up() -> None:
    first = FirstLoad(limit=3)
    first.meet(["1", "2", "3"])
    assert first.maybe_mapped({"4"}) == set()

    first.meet(["4"])

    assert first.maybe_mapped({"5"}) is None, "no longer known: the caller looks every key up"
