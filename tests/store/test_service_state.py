"""What the service relies on from the state database, on SQLite and PostgreSQL alike:
leases (one run of a sync at a time), and each sync's state (paused, failing, schedule slots, announcements).

Where two processes race, two stores on one database stand in for them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from app.engine.views import Facts
from app.store import Store
from app.store.states import SyncStateInfo
from app.store.tables import utc_now

TTL = timedelta(seconds=60)
EXPIRED = timedelta(seconds=-1)
"""A lease that has run out already: as if its holder stopped renewing it."""
NAMES = [f"sync-{number}" for number in range(12)]


@pytest.fixture
async def other_store(state_url: str, tmp_path: Path) -> AsyncIterator[Store]:
    """A second store on the same database: another process."""
    opened = await Store.open(state_url, tmp_path)
    try:
        yield opened
    finally:
        await opened.close()


# --- leases ------------------------------------------------------------------------------


async def test_a_free_lease_is_taken_and_then_refused_to_everyone(store: Store) -> None:
    assert await store.leases.acquire("a", "p1", TTL)

    assert not await store.leases.acquire("a", "p2", TTL)
    assert not await store.leases.acquire("a", "p1", TTL), "a holder cannot start a second run of its own"
    assert await store.leases.holder("a") == "p1"
    assert await store.leases.acquire("b", "p2", TTL), "each sync has its own lease"
    assert await store.leases.held() == {"a": "p1", "b": "p2"}
    assert await store.leases.holder("c") is None


async def test_renewing_keeps_the_lease_and_only_its_holder_can(store: Store) -> None:
    await store.leases.acquire("a", "p1", EXPIRED)

    assert not await store.leases.renew("a", "p2", TTL)
    assert await store.leases.renew("a", "p1", TTL)
    assert not await store.leases.acquire("a", "p2", TTL), "renewed: no longer expired"
    assert await store.leases.holder("a") == "p1"
    assert not await store.leases.renew("gone", "p1", TTL)


async def test_an_expired_lease_lets_another_holder_in_and_its_old_holder_learns_it(store: Store) -> None:
    await store.leases.acquire("a", "p1", EXPIRED)

    assert await store.leases.holder("a") is None
    assert await store.leases.held() == {}
    assert await store.leases.acquire("a", "p2", TTL)
    assert await store.leases.holder("a") == "p2"
    assert not await store.leases.renew("a", "p1", TTL), "p1 must stop its run"


async def test_only_the_holder_releases_a_lease(store: Store) -> None:
    await store.leases.acquire("a", "p1", TTL)

    await store.leases.release("a", "p2")
    assert await store.leases.holder("a") == "p1"
    await store.leases.release("a", "p1")
    assert await store.leases.holder("a") is None
    assert await store.leases.acquire("a", "p2", TTL)


async def test_a_lease_is_taken_over_only_from_the_holder_named(store: Store) -> None:
    await store.leases.acquire("a", "dead", TTL)

    assert not await store.leases.take_over("a", "someone else", "p2", TTL)
    assert await store.leases.holder("a") == "dead"
    assert await store.leases.take_over("a", "dead", "p2", TTL)
    assert await store.leases.holder("a") == "p2"
    assert not await store.leases.take_over("a", "dead", "p3", TTL), "taken over once, not twice"
    assert not await store.leases.take_over("free", "dead", "p3", TTL)


async def test_of_two_processes_asking_at_once_exactly_one_gets_each_lease(store: Store, other_store: Store) -> None:
    asks = [(name, holder, among) for name in NAMES for holder, among in (("p1", store), ("p2", other_store))]

    got = await asyncio.gather(*(among.leases.acquire(name, holder, TTL) for name, holder, among in asks))

    winners = {name: holder for (name, holder, _), won in zip(asks, got, strict=True) if won}
    assert sum(got) == len(NAMES)
    assert await store.leases.held() == winners


# --- sync states -----------------------------------------------------------------------------


async def test_a_sync_never_seen_has_the_defaults(store: Store) -> None:
    assert await store.states.get("s") == SyncStateInfo("s")
    assert await store.states.all() == {}


async def test_pausing_and_resuming_is_kept(store: Store) -> None:
    paused = await store.states.set_paused("s", True)

    assert paused.paused
    assert await store.states.all() == {"s": paused}
    assert not (await store.states.get("other")).paused
    assert not (await store.states.set_paused("s", False)).paused


async def test_unreachable_runs_turn_failing_with_a_doubling_backoff_up_to_the_cap(store: Store) -> None:
    delays: list[timedelta | None] = []
    failures: list[int] = []
    for _ in range(5):
        before = utc_now()
        state = await store.states.after_run("s", True, 2, timedelta(seconds=10), timedelta(seconds=35))
        failures.append(state.failures)
        delays.append(None if state.backoff_until is None else _rounded(state.backoff_until - before))

    assert failures == [1, 2, 3, 4, 5]
    assert delays == [None, *(timedelta(seconds=s) for s in (10, 20, 35, 35))]


async def test_a_run_that_reaches_its_systems_clears_failures_and_backoff(store: Store) -> None:
    for _ in range(3):
        await store.states.after_run("s", True, 2, timedelta(seconds=10), timedelta(seconds=35))

    cleared = await store.states.after_run("s", False, 2, timedelta(seconds=10), timedelta(seconds=35))

    assert (cleared.failures, cleared.backoff_until) == (0, None)


async def test_a_schedule_slot_is_claimed_once(store: Store) -> None:
    slot = datetime(2024, 3, 1, 12, 0, 5, tzinfo=UTC)

    assert await store.states.claim_slot("s", slot)
    assert not await store.states.claim_slot("s", slot)
    assert not await store.states.claim_slot("s", slot - timedelta(seconds=1)), "an older slot is past"
    assert await store.states.claim_slot("other", slot), "each sync has its own slots"
    assert await store.states.claim_slot("s", slot + timedelta(seconds=1))


async def test_of_two_processes_claiming_a_slot_at_once_exactly_one_gets_it(store: Store, other_store: Store) -> None:
    start = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
    for step in range(8):
        slot = start + timedelta(seconds=step)
        claims = await asyncio.gather(
            *(among.states.claim_slot(name, slot) for name in NAMES[:4] for among in (store, other_store))
        )
        assert sum(claims) == 4, f"slot {slot}: {claims}"


async def test_each_change_of_health_is_announced_once(store: Store) -> None:
    assert await store.states.announce("s", "ok") == "idle"
    assert await store.states.announce("s", "ok") is None
    assert await store.states.announce("s", "failing") == "ok"
    assert await store.states.announce("s", "failing") is None
    assert await store.states.announce("s", "stalled") == "failing"
    assert await store.states.announce("s", "ok") == "stalled"
    assert (await store.states.get("s")).announced == "ok"


async def test_of_two_processes_announcing_one_change_exactly_one_does(store: Store, other_store: Store) -> None:
    for name in NAMES:
        await store.states.announce(name, "ok")

    answers = await asyncio.gather(
        *(among.states.announce(name, "failing") for name in NAMES for among in (store, other_store))
    )

    assert sorted(answers, key=str) == sorted(["ok"] * len(NAMES) + [None] * len(NAMES), key=str)
    assert {state.announced for state in (await store.states.all()).values()} == {"failing"}


def _rounded(delay: timedelta) -> timedelta:
    """A backoff measured from just before the call: whole seconds (the call takes milliseconds)."""
    return timedelta(seconds=round(delay.total_seconds()))


async def test_a_due_slot_is_claimed_once_and_not_while_paused_or_backing_off(store: Store) -> None:
    slot = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
    now = slot + timedelta(seconds=1)

    assert await store.states.claim_due("new", slot, now), "a sync without a row yet has the defaults"
    assert not await store.states.claim_due("new", slot, now), "once"
    await store.states.set_paused("p", True)
    assert not await store.states.claim_due("p", slot, now)
    await store.states.set_paused("p", False)
    assert await store.states.claim_due("p", slot, now), "a paused sync's slot is not used up"
    for _ in range(2):
        await store.states.after_run("b", True, 2, timedelta(seconds=10), timedelta(seconds=35))
    assert not await store.states.claim_due("b", slot, utc_now())
    assert await store.states.claim_due("b", slot, utc_now() + timedelta(seconds=11)), "after the backoff"


async def test_of_two_processes_claiming_a_due_slot_at_once_exactly_one_gets_it(
    store: Store, other_store: Store
) -> None:
    start = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
    for step in range(4):
        slot = start + timedelta(seconds=step)
        claims = await asyncio.gather(
            *(among.states.claim_due(name, slot, slot) for name in NAMES[:4] for among in (store, other_store))
        )
        assert sum(claims) == 4, f"slot {slot}: {claims}"


async def test_one_syncs_facts_are_what_every_syncs_facts_say_of_it(store: Store) -> None:
    await store.start_run("a", "manual")
    newest = await store.start_run("a", "schedule")
    await store.start_run("b", "manual")
    await store.leases.acquire("a", "p1", TTL)
    await store.states.set_paused("a", True)

    every = await Facts.gather(store)
    for name in ("a", "b", "c"):
        one = await Facts.of_one(store, name)
        assert one.states.get(name, SyncStateInfo(name)) == every.states.get(name, SyncStateInfo(name))
        assert (one.held, one.last, one.dead) == (
            {k: v for k, v in every.held.items() if k == name},
            {k: v for k, v in every.last.items() if k == name},
            {k: v for k, v in every.dead.items() if k == name},
        )
    assert (await store.last_run("a")) is not None and (await store.last_run("a")).id == newest  # type: ignore[union-attr]


# --- many syncs fired at once -------------------------------------------------------------


async def test_the_due_slots_of_many_syncs_are_claimed_together_once_and_not_while_paused_or_backing_off(
    store: Store,
) -> None:
    slot = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
    now = slot + timedelta(seconds=1)
    await store.states.set_paused("paused", True)
    for _ in range(2):
        await store.states.after_run("backing-off", True, 2, timedelta(seconds=10), timedelta(seconds=35))
    assert await store.states.claim_due("claimed", slot, now)
    await store.states.set_paused("ready", False)  # a row of its own, with the defaults
    everyone = ["new", "ready", "paused", "backing-off", "claimed"]

    claimed = await store.states.claim_due_many(dict.fromkeys(everyone, slot), utc_now())

    assert claimed == {"new", "ready"}, "a sync without a row has the defaults; the others may not run now"
    assert await store.states.claim_due_many(dict.fromkeys(everyone, slot), utc_now()) == set(), "once"
    later = {"ready": slot + timedelta(minutes=1), "backing-off": slot, "new": slot - timedelta(minutes=1)}
    assert await store.states.claim_due_many(later, utc_now() + timedelta(seconds=11)) == {"ready", "backing-off"}
    await store.states.set_paused("paused", False)
    assert await store.states.claim_due("paused", slot, now), "a paused sync's slot is not used up"


async def test_of_two_processes_claiming_batches_of_the_same_syncs_at_once_each_slot_goes_to_exactly_one(
    store: Store, other_store: Store
) -> None:
    start = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
    for step in range(6):  # the first slot inserts the syncs' rows; the next ones claim rows both see
        slot = start + timedelta(minutes=step)
        # each process claims its shares in another order, overlapping each other's: rows are locked in order
        here = [NAMES[0:5], NAMES[5:12]]
        there = [NAMES[9:12][::-1] + NAMES[0:2], NAMES[2:9]]
        claims = await asyncio.gather(
            *(store.states.claim_due_many(dict.fromkeys(share, slot), slot) for share in here),
            *(other_store.states.claim_due_many(dict.fromkeys(share, slot), slot) for share in there),
        )
        every = [name for claimed in claims for name in claimed]
        assert sorted(every) == sorted(NAMES), f"slot {slot}: {claims}"


async def test_many_leases_are_taken_in_one_go_where_free_or_expired(store: Store) -> None:
    await store.leases.acquire("held", "p2", TTL)
    await store.leases.acquire("expired", "p2", EXPIRED)

    assert await store.leases.acquire_many(["free", "held", "expired"], "p1", TTL) == {"free", "expired"}
    assert await store.leases.held() == {"free": "p1", "expired": "p1", "held": "p2"}
    assert await store.leases.acquire_many(["free"], "p1", TTL) == set(), "not re-entrant, as acquire"
    await store.leases.release_many(["free", "held"], "p1")
    assert await store.leases.held() == {"expired": "p1", "held": "p2"}, "only the holder releases a lease"


async def test_of_two_processes_taking_many_leases_at_once_each_lease_goes_to_exactly_one(
    store: Store, other_store: Store
) -> None:
    for round_ in range(4):
        names = [f"{name}-{round_}" for name in NAMES]
        taken = await asyncio.gather(
            store.leases.acquire_many(names, "p1", TTL), other_store.leases.acquire_many(names[::-1], "p2", TTL)
        )
        assert taken[0].isdisjoint(taken[1]) and taken[0] | taken[1] == set(names), taken


async def test_runs_of_many_syncs_start_together_and_their_abandoned_runs_are_marked_failed(store: Store) -> None:
    left = await store.start_run("a", "schedule")
    ended = await store.start_run("b", "manual")
    await store.finish_run(ended, "succeeded")

    started = await store.start_runs(["a", "b", "c"], "schedule", "abandoned: gone")

    assert set(started.ids) == {"a", "b", "c"} and dict(started.abandoned) == {"a": 1}
    for name, run_id in started.ids.items():
        run = await store.run(run_id)
        assert run is not None and (run.sync, run.trigger, run.status) == (name, "schedule", "running")
    abandoned = await store.run(left)
    assert abandoned is not None and (abandoned.status, abandoned.error) == ("failed", "abandoned: gone")
    assert (await store.run(ended)).status == "succeeded"  # type: ignore[union-attr]


@contextmanager
def _statements(store: Store) -> Iterator[list[str]]:
    """The statements ``store`` sends while the block runs."""
    sent: list[str] = []

    def count(*args: Any) -> None:
        sent.append(args[2])

    event.listen(store.engine.sync_engine, "before_cursor_execute", count)
    try:
        yield sent
    finally:
        event.remove(store.engine.sync_engine, "before_cursor_execute", count)


async def test_a_run_that_got_through_is_counted_in_one_statement_and_an_unchanged_status_in_none(
    store: Store,
) -> None:
    settings = (2, timedelta(seconds=10), timedelta(seconds=35))
    await store.states.after_run("s", True, *settings)
    assert await store.states.announce("s", "ok") == "idle"

    with _statements(store) as sent:
        state = await store.states.after_run("s", False, *settings)
    assert len(sent) == 1, sent
    assert state == await store.states.get("s") == SyncStateInfo("s", announced="ok")
    with _statements(store) as sent:
        assert await store.states.announce("s", "ok", state) is None
    assert sent == [], "the state just read says it was announced"
    assert await store.states.announce("s", "failing", state) == "ok"
    assert await store.states.announce("s", "failing", state) is None, "the state given is out of date: no"
