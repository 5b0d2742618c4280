"""What a first load remembers of the keys it has met, and that it stops remembering past its bound."""

from __future__ import annotations

import sys
import tracemalloc

import pytest

from app.engine import first_load
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


def test_it_keeps_no_key_it_met_so_its_memory_stays_flat() -> None:
    first = FirstLoad()
    key = "".join(["customer-", "12345"])  # made at run time: only this test and the batch hold it
    batch = {key}
    held = sys.getrefcount(key)

    first.meet(batch)

    assert sys.getrefcount(key) == held, "the key's text is left to its batch, not kept until the run ends"
    assert first.maybe_mapped({"customer-12345"}) == {"customer-12345"}


def test_keys_never_met_are_not_looked_up_though_their_slot_is_marked() -> None:
    first = FirstLoad()
    for start in range(0, 100_000, 5000):
        first.meet({f"customer-{n}" for n in range(start, start + 5000)})

    never_met = {f"customer-{n}" for n in range(100_000, 105_000)}
    assert first.maybe_mapped(never_met) == set(), "a shared slot alone no longer costs a look-up"
    met = {f"customer-{n}" for n in range(50_000, 50_100)}
    assert first.maybe_mapped(met | never_met) == met


def test_past_the_bound_of_further_bits_a_marked_slot_is_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    within = FirstLoad()
    within._mask = 0  # every key in one slot: each key never met shares it
    within.meet({str(n) for n in range(20)})
    assert within.maybe_mapped({"5", "never met"}) == {"5"}, "the further bits tell the two apart"

    monkeypatch.setattr(first_load, "FURTHER_REMEMBERED", 10)
    past = FirstLoad()
    past._mask = 0
    past.meet({str(n) for n in range(20)})
    assert past.maybe_mapped({"5", "never met"}) == {"5", "never met"}, "the map alone: a shared slot is looked up"


def test_its_map_grows_with_the_keys_met() -> None:
    # A fixed map of 2 MiB was the largest single part of a REST full load's memory above its records.
    tracemalloc.start()
    try:
        first = FirstLoad()
        for start in range(0, 100_000, 5000):
            first.meet({f"customer-{n}" for n in range(start, start + 5000)})
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()

    assert held < 2_300_000, f"{held:,} bytes for 100,000 keys met"
    assert first.maybe_mapped({"customer-0", "customer-99999", "customer-100000"}) == {"customer-0", "customer-99999"}
