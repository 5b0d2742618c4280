"""Storing webhook deliveries: the inbox's hot path, where a busy sender's deliveries arrive.

Deliveries that come while another is being committed are committed together
(:mod:`app.store.group_commit`), each still before its 202. A group is one
insert that skips deliveries stored before and one read-back, through the
driver's own connection (aiosqlite's, asyncpg's): SQLAlchemy's work per
statement would cost more than the statement. Deliveries without an id (rare)
are inserted one by one in the same transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.engine import Dialect

from app.pooling import driver_connection
from app.store.database import database_errors, database_failure
from app.store.group_commit import GroupCommit
from app.store.tables import WEBHOOK_EVENTS, WEBHOOK_PROGRESS, utc_now

if TYPE_CHECKING:
    from app.store.access import StoreAccess

EVENTS, PROGRESS = WEBHOOK_EVENTS, WEBHOOK_PROGRESS
COLUMNS = "system, delivery_id, received_at, body, records, status"

Key = tuple[str, str]
"""(system, delivery id)."""


@dataclass(frozen=True)
class Delivery:
    """A checked delivery, to be stored."""

    system: str
    delivery_id: str | None
    body: str
    records: int
    syncs: tuple[str, ...]

    def row(self, received_at: Any) -> tuple[Any, ...]:
        """The event's row, in :data:`COLUMNS` order."""
        return (self.system, self.delivery_id, received_at, self.body, self.records,
                "pending" if self.syncs else "processed")  # fmt: skip


def progress_rows(event_id: int, syncs: Sequence[str], now: datetime) -> list[dict[str, Any]]:
    return [{"event_id": event_id, "sync": sync, "status": "pending", "updated_at": now} for sync in syncs]


class DeliveryWriter:
    """Stores deliveries for an :class:`~app.store.webhook_inbox.WebhookInbox`, in groups."""

    def __init__(self, store: StoreAccess) -> None:
        self._backend: _Backend = _Postgres(store) if store._postgres else _Sqlite(store)
        self._group = GroupCommit(self._accept_all)

    async def accept(self, delivery: Delivery) -> tuple[int, bool]:
        """Store ``delivery`` with whatever else is waiting; (event id, whether it was seen before).

        :raises StoreError: when the database fails
        """
        return await self._group.submit(delivery)

    async def _accept_all(self, deliveries: Sequence[Delivery]) -> list[tuple[int, bool]]:
        return await self._backend.accept(deliveries, utc_now())


class _Backend(Protocol):
    async def accept(self, deliveries: Sequence[Delivery], now: datetime) -> list[tuple[int, bool]]:
        """Store ``deliveries`` in one transaction; for each, (event id, whether it was stored before)."""
        ...


class _Group:
    """What a group's backend needs to know, and what it tells: the bookkeeping both share."""

    def __init__(self, deliveries: Sequence[Delivery]) -> None:
        self.deliveries = deliveries
        self.keyed: dict[Key, Delivery] = {}
        """Each delivery id once (the first time the group gives it)."""
        for delivery in deliveries:
            if delivery.delivery_id is not None:
                self.keyed.setdefault((delivery.system, delivery.delivery_id), delivery)
        self.loose = [delivery for delivery in deliveries if delivery.delivery_id is None]

    def outcome(self, new: dict[Key, int], old: dict[Key, int], loose: Sequence[int]) -> list[tuple[int, bool]]:
        """Each delivery's (event id, whether stored before), from the ids of what this group stored
        (``new``; ``loose`` for those without an id, in order) and of what was there (``old``)."""
        accepted: list[tuple[int, bool]] = []
        unkeyed = iter(loose)
        taken: set[Key] = set()
        for delivery in self.deliveries:
            if delivery.delivery_id is None:
                accepted.append((next(unkeyed), False))
                continue
            key = (delivery.system, delivery.delivery_id)
            if key in new and key not in taken:
                taken.add(key)
                accepted.append((new[key], False))
            else:  # stored before, or given twice in this group
                accepted.append((new[key] if key in new else old[key], True))
        return accepted

    def progress(self, accepted: Sequence[tuple[int, bool]]) -> Iterator[tuple[int, str]]:
        """(event id, sync) for every new event and every sync that waits for it."""
        for (event_id, seen), delivery in zip(accepted, self.deliveries, strict=True):
            if not seen:
                for sync in delivery.syncs:
                    yield event_id, sync


class _Sqlite:
    """Through aiosqlite's own connection, in a transaction of the store's: one trip to the driver's
    thread per statement, where SQLAlchemy's cursor makes four, and on a busy service each trip waits
    its turn on the event loop."""

    INSERT = f"INSERT INTO {EVENTS.name} ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"
    INSERT_KEYED = INSERT + " ON CONFLICT (system, delivery_id) DO NOTHING"
    FIND = f"SELECT id, delivery_id, received_at FROM {EVENTS.name} WHERE system = ? AND delivery_id IN "
    PROGRESS = f"INSERT INTO {PROGRESS.name} (event_id, sync, status, updated_at) VALUES (?, ?, 'pending', ?)"

    def __init__(self, store: StoreAccess) -> None:
        self.store = store
        # received_at exactly as SQLAlchemy writes it, so that a row read back compares with it as text
        dialect: Dialect = store.engine.dialect
        processor = EVENTS.c.received_at.type.dialect_impl(dialect).bind_processor(dialect)
        self._stamp: Callable[[Any], Any] = processor if processor is not None else _as_is

    async def accept(self, deliveries: Sequence[Delivery], now: datetime) -> list[tuple[int, bool]]:
        group, stamp = _Group(deliveries), self._stamp(now)
        try:
            async with self.store._begin() as connection:
                driver = await driver_connection(connection)
                new: dict[Key, int] = {}
                old: dict[Key, int] = {}
                if group.keyed:
                    await driver.executemany(self.INSERT_KEYED, [d.row(stamp) for d in group.keyed.values()])
                    for system, ids in _by_system(group.keyed).items():
                        query = self.FIND + "(" + ", ".join("?" * len(ids)) + ")"
                        for event_id, delivery_id, at in await driver.execute_fetchall(query, (system, *ids)):
                            (new if at == stamp else old)[(system, delivery_id)] = int(event_id)
                loose = [(await driver.execute(self.INSERT, d.row(stamp))).lastrowid for d in group.loose]
                accepted = group.outcome(new, old, loose)
                progress = [(event_id, sync, stamp) for event_id, sync in group.progress(accepted)]
                if progress:
                    await driver.executemany(self.PROGRESS, progress)
        except sqlite3.Error as exc:  # from the driver's own connection (SQLAlchemy's are StoreErrors already)
            raise database_failure(exc) from exc
        return accepted


class _Postgres:
    """Through asyncpg itself, in its own transaction: one insert of all that answers with the new rows,
    a look-up only when some were stored before, one insert of their progress; each a round trip."""

    INSERT = f"INSERT INTO {EVENTS.name} ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id"
    INSERT_KEYED = (
        f"INSERT INTO {EVENTS.name} ({COLUMNS})"
        " SELECT * FROM unnest($1::text[], $2::text[], $3::timestamp[], $4::text[], $5::int[], $6::text[])"
        " ON CONFLICT (system, delivery_id) DO NOTHING RETURNING system, delivery_id, id"
    )
    FIND = (
        f"SELECT system, delivery_id, id FROM {EVENTS.name}"
        " WHERE system = ANY($1::text[]) AND delivery_id = ANY($2::text[])"
    )
    PROGRESS = (
        f"INSERT INTO {PROGRESS.name} (event_id, sync, status, updated_at)"
        " SELECT event_id, sync, 'pending', $3::timestamp FROM unnest($1::int[], $2::text[]) AS p (event_id, sync)"
    )

    def __init__(self, store: StoreAccess) -> None:
        self.store = store

    async def accept(self, deliveries: Sequence[Delivery], now: datetime) -> list[tuple[int, bool]]:
        group = _Group(deliveries)
        at = now.astimezone(UTC).replace(tzinfo=None)  # naive UTC, as UtcDateTime stores it
        try:
            async with self.store.engine.connect() as connection:
                driver = await driver_connection(connection)
                async with driver.transaction():
                    new, old = await self._insert_keyed(driver, list(group.keyed.values()), at)
                    loose = [int(await driver.fetchval(self.INSERT, *d.row(at))) for d in group.loose]
                    accepted = group.outcome(new, old, loose)
                    progress = list(group.progress(accepted))
                    if progress:
                        events, syncs = zip(*progress, strict=True)
                        await driver.execute(self.PROGRESS, list(events), list(syncs), at)
        except database_errors() as exc:
            raise database_failure(exc) from exc
        return accepted

    async def _insert_keyed(
        self, driver: Any, keyed: list[Delivery], at: datetime
    ) -> tuple[dict[Key, int], dict[Key, int]]:
        """Insert ``keyed`` (distinct delivery ids); the ids of the new events and of those stored before."""
        if not keyed:
            return {}, {}
        columns = [list(column) for column in zip(*(d.row(at) for d in keyed), strict=True)]
        new = {
            (system, key): int(event_id) for system, key, event_id in await driver.fetch(self.INSERT_KEYED, *columns)
        }
        old: dict[Key, int] = {}
        if len(new) < len(keyed):
            found = await driver.fetch(self.FIND, list({d.system for d in keyed}), [d.delivery_id for d in keyed])
            old = {(system, key): int(event_id) for system, key, event_id in found if (system, key) not in new}
        return new, old


def _as_is(value: Any) -> Any:
    return value


def _by_system(keys: Iterable[Key]) -> dict[str, list[str]]:
    by_system: dict[str, list[str]] = {}
    for system, delivery_id in keys:
        by_system.setdefault(system, []).append(delivery_id)
    return by_system
