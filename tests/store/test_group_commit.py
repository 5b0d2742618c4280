"""Group commit and task turns: the pieces that let webhook intake commit many deliveries at once."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from app.errors import StoreError
from app.store import Store
from app.store.group_commit import GroupCommit
from app.store.task_lock import TaskLock


class Recorder:
    """A commit that records its groups, refuses the item "bad", and can be held open."""

    def __init__(self) -> None:
        self.groups: list[list[str]] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def commit(self, items: Sequence[str]) -> list[str]:
        await self.gate.wait()
        if "bad" in items:
            raise ValueError("cannot store 'bad'")
        self.groups.append(list(items))
        return [item.upper() for item in items]


async def test_calls_that_come_during_a_commit_share_the_next_one() -> None:
    recorder = Recorder()
    commits = GroupCommit(recorder.commit)
    recorder.gate.clear()
    first = asyncio.ensure_future(commits.submit("a"))
    await asyncio.sleep(0)  # the first commit has begun, and waits at the gate
    rest = [asyncio.ensure_future(commits.submit(item)) for item in "bcd"]
    await asyncio.sleep(0)
    recorder.gate.set()

    assert [await first, *[await call for call in rest]] == ["A", "B", "C", "D"]
    assert recorder.groups == [["a"], ["b", "c", "d"]]


async def test_an_item_that_cannot_be_committed_fails_only_its_own_caller() -> None:
    recorder = Recorder()
    commits = GroupCommit(recorder.commit)
    recorder.gate.clear()
    first = asyncio.ensure_future(commits.submit("a"))
    await asyncio.sleep(0)
    calls = [asyncio.ensure_future(commits.submit(item)) for item in ("b", "bad", "c")]
    await asyncio.sleep(0)
    recorder.gate.set()

    results = await asyncio.gather(first, *calls, return_exceptions=True)

    assert results[:2] == ["A", "B"] and results[3] == "C"
    assert isinstance(results[2], ValueError)
    assert recorder.groups == [["a"], ["b"], ["c"]]


async def test_a_caller_that_gives_up_does_not_stop_its_item_being_committed() -> None:
    recorder = Recorder()
    commits = GroupCommit(recorder.commit)
    recorder.gate.clear()
    gone = asyncio.ensure_future(commits.submit("a"))
    await asyncio.sleep(0)
    gone.cancel()
    kept = asyncio.ensure_future(commits.submit("b"))
    await asyncio.sleep(0)
    recorder.gate.set()

    assert await kept == "B"
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert recorder.groups == [["a"], ["b"]]


async def test_groups_are_at_most_the_size_given() -> None:
    recorder = Recorder()
    commits = GroupCommit(recorder.commit, most=2)
    recorder.gate.clear()
    calls = [asyncio.ensure_future(commits.submit(item)) for item in "abcde"]
    await asyncio.sleep(0)
    recorder.gate.set()
    await asyncio.gather(*calls)

    assert recorder.groups == [["a", "b"], ["c", "d"], ["e"]]


async def test_a_task_holding_its_turn_takes_it_again_and_others_wait_in_order() -> None:
    turns = TaskLock()
    order: list[str] = []

    async def other(name: str) -> None:
        await turns.take()
        order.append(name)
        turns.give_back()

    await turns.take()
    waiting = [asyncio.ensure_future(other(name)) for name in ("x", "y")]
    await asyncio.sleep(0)
    async with asyncio.timeout(1):  # the holder again (in the same task): at once, not a deadlock
        await turns.take()
    order.append("nested")
    turns.give_back()
    await asyncio.sleep(0)
    assert order == ["nested"]  # still held by the outer take
    turns.give_back()
    await asyncio.gather(*waiting)

    assert order == ["nested", "x", "y"]


async def test_deliveries_committed_together_are_each_an_event_once(store: Store) -> None:
    inbox = store.inbox
    before, _ = await inbox.accept("shop", "b", "{}", 1, ["orders"])

    accepted = await asyncio.gather(
        inbox.accept("shop", "first", "{}", 1, ["orders"]),  # all seven come before a commit begins: one group
        inbox.accept("shop", "a", "{}", 1, ["orders"]),
        inbox.accept("shop", "a", "{}", 1, ["orders"]),  # the same delivery again, in the same group
        inbox.accept("shop", None, "{}", 1, ["orders"]),
        inbox.accept("shop", None, "{}", 1, ["orders"]),  # no id: each its own event
        inbox.accept("crm", "a", "{}", 2, []),  # another system's id "a"
        inbox.accept("shop", "b", "{}", 1, ["orders"]),  # seen before this group
    )

    ids = [event_id for event_id, _ in accepted]
    assert [seen for _, seen in accepted] == [False, False, True, False, False, False, True]
    assert ids[1] == ids[2] and ids[6] == before
    assert len({ids[0], ids[1], ids[3], ids[4], ids[5], before}) == 6
    pending = await inbox.pending("orders", 10)
    assert [event.id for event in pending] == sorted([before, ids[0], ids[1], ids[3], ids[4]])
    other = await inbox.event(ids[5])
    assert other is not None and (other.system, other.records, other.status) == ("crm", 2, "processed")


async def test_a_group_of_deliveries_all_with_ids_is_each_an_event_once(store: Store) -> None:
    """Every delivery with an id: the way a busy sender's deliveries go (on PostgreSQL, straight through asyncpg)."""
    inbox = store.inbox
    before, _ = await inbox.accept("shop", "b", "{}", 1, ["orders", "audit"])

    accepted = await asyncio.gather(
        inbox.accept("shop", "a", "{}", 1, ["orders", "audit"]),
        inbox.accept("shop", "a", "{}", 1, ["orders", "audit"]),
        inbox.accept("shop", "b", "{}", 1, ["orders", "audit"]),
        inbox.accept("crm", "a", "{}", 2, []),
        inbox.accept("shop", "c", "{}", 1, ["orders", "audit"]),
    )

    ids = [event_id for event_id, _ in accepted]
    assert [seen for _, seen in accepted] == [False, True, True, False, False]
    assert ids[0] == ids[1] and ids[2] == before
    assert len({before, ids[0], ids[3], ids[4]}) == 4
    for sync in ("orders", "audit"):
        assert [event.id for event in await inbox.pending(sync, 10)] == sorted([before, ids[0], ids[4]])
    crm = await inbox.event(ids[3])
    assert crm is not None and (crm.system, crm.records, crm.status) == ("crm", 2, "processed")
    assert crm.received_at.tzinfo is not None


async def test_a_delivery_the_database_refuses_is_a_store_error(store: Store) -> None:
    async with store.engine.begin() as connection:
        await connection.exec_driver_sql("DROP TABLE webhook_progress")
        await connection.exec_driver_sql("DROP TABLE webhook_events")

    for given in ([("shop", "a")], [("shop", "b"), ("shop", "c")], [("shop", None)]):
        calls = [store.inbox.accept(system, delivery_id, "{}", 1, ["orders"]) for system, delivery_id in given]
        results = await asyncio.gather(*calls, return_exceptions=True)

        assert all(isinstance(result, StoreError) for result in results), results
        assert all("webhook_events" in str(result) for result in results), results
