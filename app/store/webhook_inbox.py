"""The webhook inbox: a delivery is committed here before it is answered 202, and each sync that
listens works through it, exactly once (SPEC 5, 8)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, case, delete, exists, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.store.tables import DEAD_LETTERS, WEBHOOK_EVENTS, WEBHOOK_PROGRESS, utc_now
from app.store.webhook_deliveries import Delivery, DeliveryWriter, progress_rows

if TYPE_CHECKING:
    from app.store.access import StoreAccess

EVENTS, PROGRESS = WEBHOOK_EVENTS, WEBHOOK_PROGRESS


@dataclass(frozen=True)
class EventInfo:
    id: int
    system: str
    delivery_id: str | None
    received_at: datetime
    records: int
    status: str
    error: str | None
    body: str = ""
    """The delivery's text, read for the runs that process it; empty where an event is only shown or acted
    on (a list of 500 events of 1 MiB each read 500 MiB of bodies nobody looked at)."""


EVENTS_SHOWN = select(*(column for column in EVENTS.c if column.name != "body"))
"""The events' columns but their bodies."""


class WebhookInbox:
    """The store's webhook events and each sync's progress with them."""

    def __init__(self, store: StoreAccess) -> None:
        self.store = store
        self._intake = DeliveryWriter(store)

    async def accept(
        self, system: str, delivery_id: str | None, body: str, records: int, syncs: Sequence[str]
    ) -> tuple[int, bool]:
        """Store a delivery, pending for every sync in ``syncs``; (event id, whether it was seen before).

        Deliveries that come while another is being committed are committed together, next (see
        :mod:`app.store.group_commit`). The same delivery sent again while the first is being stored (a
        sender retrying on a timeout) waits for it on the unique delivery id, then finds it: never a
        second event, never an error.
        """
        return await self._intake.accept(Delivery(system, delivery_id, body, records, tuple(syncs)))

    async def body_of(self, event_id: int) -> str | None:
        """The stored text of event ``event_id``; ``None`` for one that is gone."""
        async with self.store._begin() as connection:
            body = (await connection.execute(select(EVENTS.c.body).where(EVENTS.c.id == event_id))).scalar()
        return None if body is None else str(body)

    async def _pending(self, connection: AsyncConnection, event_id: int, syncs: Sequence[str], now: datetime) -> None:
        if syncs:
            await connection.execute(insert(PROGRESS), progress_rows(event_id, syncs, now))

    async def pending(self, sync: str, limit: int) -> list[EventInfo]:
        """Events ``sync`` has yet to process, oldest first."""
        waiting = select(PROGRESS.c.event_id).where(PROGRESS.c.sync == sync, PROGRESS.c.status == "pending")
        query = select(EVENTS).where(EVENTS.c.id.in_(waiting)).order_by(EVENTS.c.id).limit(limit)
        return await self._events(query)

    async def syncs_with_pending(self) -> set[str]:
        query = select(PROGRESS.c.sync).where(PROGRESS.c.status == "pending").distinct()
        async with self.store._begin() as connection:
            return {str(sync) for sync in (await connection.execute(query)).scalars()}

    async def events(self, system: str | None, after: int | None, limit: int) -> list[EventInfo]:
        """Events, newest first, with ids below ``after``."""
        query = EVENTS_SHOWN.order_by(EVENTS.c.id.desc()).limit(limit)
        if system is not None:
            query = query.where(EVENTS.c.system == system)
        if after is not None:
            query = query.where(EVENTS.c.id < after)
        return await self._events(query)

    async def event(self, event_id: int) -> EventInfo | None:
        found = await self._events(EVENTS_SHOWN.where(EVENTS.c.id == event_id))
        return found[0] if found else None

    async def replay(self, event_id: int, syncs: Sequence[str]) -> None:
        """Make the event pending again for every sync in ``syncs``."""
        now = utc_now()
        async with self.store._begin() as connection:
            await connection.execute(
                update(PROGRESS)
                .where(PROGRESS.c.event_id == event_id, PROGRESS.c.sync.in_(list(syncs)))
                .values(status="pending", error=None, updated_at=now)
            )
            there = set(
                (await connection.execute(select(PROGRESS.c.sync).where(PROGRESS.c.event_id == event_id))).scalars()
            )
            await self._pending(connection, event_id, [sync for sync in syncs if sync not in there], now)
            await settle_events(connection, [event_id])

    async def discard(self, event_id: int) -> EventInfo | None:
        """Set a pending or failed event aside for good: ``discarded``, and no sync waits for it any longer
        (a run that holds it already finishes it). The event as it was; ``None`` for an unknown id. A
        processed event is left as it is (there is nothing to stop)."""
        async with self.store._begin() as connection:
            row = (await connection.execute(EVENTS_SHOWN.where(EVENTS.c.id == event_id))).mappings().first()
            if row is None or row["status"] in ("processed", "discarded"):
                return _event(row) if row is not None else None
            await connection.execute(
                update(PROGRESS)
                .where(PROGRESS.c.event_id == event_id, PROGRESS.c.status.in_(["pending", "failed"]))
                .values(status="discarded", updated_at=utc_now())
            )
            await connection.execute(update(EVENTS).where(EVENTS.c.id == event_id).values(status="discarded"))
        return _event(row)

    async def note_error(self, sync: str, event_ids: Sequence[int], error: str) -> None:
        """Events a run of ``sync`` could not process (it failed as a whole): they stay pending, with the error."""
        if not event_ids:
            return
        error = self.store.scrub(error)
        async with self.store._begin() as connection:
            await connection.execute(
                update(PROGRESS)
                .where(PROGRESS.c.sync == sync, PROGRESS.c.event_id.in_(list(event_ids)))
                .values(error=error, updated_at=utc_now())
            )
            await connection.execute(update(EVENTS).where(EVENTS.c.id.in_(list(event_ids))).values(error=error))

    async def purge(self, received_before: datetime) -> int:
        """Forget the events received before ``received_before`` that every sync is done with; how many.

        Kept whatever their age: an event some sync has yet to process (``pending``, a run at it now
        included), and one a sync failed while that sync still has dead letters, so that it can be
        replayed once the cause is fixed. The progress rows of forgotten events go with them, and so do
        any left behind by an event forgotten while it was being replayed.
        """
        progress = PROGRESS.alias()
        open_letters = exists().where(DEAD_LETTERS.c.sync == progress.c.sync, DEAD_LETTERS.c.discarded_at.is_(None))
        not_done = exists().where(
            progress.c.event_id == EVENTS.c.id,
            or_(progress.c.status == "pending", and_(progress.c.status == "failed", open_letters)),
        )
        old = delete(EVENTS).where(EVENTS.c.received_at < received_before, EVENTS.c.status != "pending", ~not_done)
        orphans = delete(PROGRESS).where(~exists().where(EVENTS.c.id == PROGRESS.c.event_id))
        async with self.store._begin() as connection:
            events = await connection.execute(old)
            await connection.execute(orphans)
        return int(events.rowcount)

    async def _events(self, query: Any) -> list[EventInfo]:
        async with self.store._begin() as connection:
            rows = (await connection.execute(query)).mappings().all()
        return [_event(row) for row in rows]


def _event(row: Any) -> EventInfo:
    return EventInfo(row["id"], row["system"], row["delivery_id"], row["received_at"], row["records"], row["status"],
                     row["error"], row.get("body", ""))  # fmt: skip


async def record_progress(
    connection: AsyncConnection, sync: str, run_id: int, done: Sequence[tuple[int, str | None]]
) -> None:
    """In a batch's transaction: these events are processed by ``sync`` (with the first error of a record
    that failed, or ``None``); then each event's status follows from every sync's progress."""
    if not done:
        return
    now = utc_now()
    for event_id, error in done:
        await connection.execute(
            update(PROGRESS)
            .where(PROGRESS.c.event_id == event_id, PROGRESS.c.sync == sync)
            .values(status="failed" if error else "processed", error=error, run_id=run_id, updated_at=now)
        )
    await settle_events(connection, [event_id for event_id, _ in done])


async def settle_events(connection: AsyncConnection, event_ids: Sequence[int]) -> None:
    """Each event's status from its progress: failed if any sync failed it, pending while any has yet to;
    a discarded event stays discarded."""
    progress = PROGRESS.alias()

    def any_(status: str) -> Any:
        return exists().where(progress.c.event_id == EVENTS.c.id, progress.c.status == status)

    first_error = (
        select(progress.c.error)
        .where(progress.c.event_id == EVENTS.c.id, progress.c.error.is_not(None))
        .limit(1)
        .scalar_subquery()
    )
    status = case(
        (EVENTS.c.status == "discarded", "discarded"),
        (any_("failed"), "failed"),
        (any_("pending"), "pending"),
        else_="processed",
    )
    await connection.execute(
        update(EVENTS).where(EVENTS.c.id.in_(list(event_ids))).values(status=status, error=first_error)
    )
