"""What the service relies on from the state database, on SQLite and PostgreSQL alike:
leases (one run of a sync at a time), and each sync's state (paused, failing, schedule slots, announcements).

Where two processes race, two stores on one database stand in for them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

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
