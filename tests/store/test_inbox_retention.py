"""Retention of the webhook inbox: old events that every sync is done with are forgotten, on SQLite and PostgreSQL.

Never forgotten, however old: an event a sync has yet to process (or is processing now), and one a
sync failed while that sync still has dead letters (it may be replayed once the cause is fixed).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from app.store import BatchChanges, Failure, Store
from app.store.tables import WEBHOOK_EVENTS, WEBHOOK_PROGRESS, utc_now

LONG_AGO = timedelta(days=10)
WEEK = timedelta(days=7)


async def _event(store: Store, body: str, syncs: list[str]) -> int:
    event_id, _ = await store.inbox.accept("shop", None, body, 1, syncs)
    return event_id


async def _processed(store: Store, sync: str, event_id: int, error: str | None = None) -> None:
    run_id = await store.start_run(sync, "webhook")
    failures = [Failure(f"k{event_id}", {"id": event_id}, error, "mapping")] if error else []
    await store.commit_batch(sync, run_id, BatchChanges(failures=failures, events=[(event_id, error)]))
    await store.finish_run(run_id, "partial" if error else "succeeded")


async def _age(store: Store, *event_ids: int) -> None:
    async with store.engine.begin() as connection:
        await connection.execute(
            update(WEBHOOK_EVENTS).where(WEBHOOK_EVENTS.c.id.in_(event_ids)).values(received_at=utc_now() - LONG_AGO)
        )


async def _progress_rows(store: Store) -> int:
    async with store.engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(WEBHOOK_PROGRESS)) or 0)


async def test_old_events_every_sync_is_done_with_are_forgotten_with_their_progress(store: Store) -> None:
    done = await _event(store, '{"id": 1, "secret": "s3cret"}', ["orders", "audit"])
    await _processed(store, "orders", done)
    await _processed(store, "audit", done)
    no_sync = await _event(store, "{}", [])  # no sync listened: done at once
    recent = await _event(store, "{}", ["orders"])
    await _processed(store, "orders", recent)
    await _age(store, done, no_sync)

    assert await store.inbox.purge(utc_now() - WEEK) == 2

    assert [event.id for event in await store.inbox.events(None, None, 10)] == [recent]
    assert await store.inbox.event(done) is None
    assert await _progress_rows(store) == 1
    assert await store.inbox.purge(utc_now() - WEEK) == 0


async def test_an_event_not_processed_by_every_sync_is_kept_however_old(store: Store) -> None:
    pending = await _event(store, "{}", ["orders"])
    half_done = await _event(store, "{}", ["orders", "audit"])
    await _processed(store, "orders", half_done)  # audit has yet to: a run may be at it now
    await _age(store, pending, half_done)

    assert await store.inbox.purge(utc_now() - WEEK) == 0
    assert {event.id for event in await store.inbox.events(None, None, 10)} == {pending, half_done}
    assert [event.id for event in await store.inbox.pending("audit", 10)] == [half_done]


async def test_an_event_replayed_is_pending_again_and_kept(store: Store) -> None:
    event_id = await _event(store, "{}", ["orders"])
    await _processed(store, "orders", event_id)
    await _age(store, event_id)
    await store.inbox.replay(event_id, ["orders"])

    assert await store.inbox.purge(utc_now() - WEEK) == 0
    assert [event.id for event in await store.inbox.pending("orders", 10)] == [event_id]


async def test_a_failed_event_is_kept_while_its_sync_has_dead_letters(store: Store) -> None:
    failed = await _event(store, "{}", ["orders"])
    await _processed(store, "orders", failed, error="field email: required")
    await _age(store, failed)
    assert (await store.inbox.event(failed)).status == "failed"  # type: ignore[union-attr]

    assert await store.inbox.purge(utc_now() - WEEK) == 0

    letter = (await store.history.dead_letters("orders", None, 10))[0]
    await store.history.discard(letter.id, "fixed by hand")
    assert await store.inbox.purge(utc_now() - WEEK) == 1
    assert await store.inbox.event(failed) is None


async def test_purging_an_empty_inbox_forgets_nothing(store: Store) -> None:
    assert await store.inbox.purge(utc_now() + timedelta(days=1)) == 0


async def test_listing_events_reads_no_bodies_and_a_run_reads_them_whole(store: Store) -> None:
    """A list of 500 events of 1 MiB each read 500 MiB of bodies that no answer shows."""
    body = '{"id": 1, "note": "' + "x" * 100_000 + '"}'
    event_id = await _event(store, body, ["orders"])

    listed = await store.inbox.events(None, None, 500)
    one = await store.inbox.event(event_id)
    [waiting] = await store.inbox.pending("orders", 10)

    assert [event.body for event in listed] == [""] and one is not None and one.body == ""
    assert (waiting.id, waiting.body) == (event_id, body)
