"""Storing webhook deliveries: the inbox's hot path, where a busy sender's deliveries arrive.

Deliveries that come while another is being committed are committed together
(:mod:`app.store.group_commit`), each still before its 202. A group is one
insert that skips deliveries stored before and one read-back; on SQLite through
aiosqlite's own connection, on PostgreSQL through asyncpg's, where SQLAlchemy's
work per statement would cost more than the statement.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from asyncpg import InterfaceError, PostgresError
from sqlalchemy import bindparam, insert, select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.errors import StoreError
from app.store.group_commit import GroupCommit
from app.store.tables import WEBHOOK_EVENTS, WEBHOOK_PROGRESS, utc_now

if TYPE_CHECKING:
    from app.store.store import Store

EVENTS, PROGRESS = WEBHOOK_EVENTS, WEBHOOK_PROGRESS


@dataclass(frozen=True)
class Delivery:
    """A checked delivery, to be stored."""

    system: str
    delivery_id: str | None
    body: str
    records: int
    syncs: tuple[str, ...]

    def values(self, now: datetime) -> dict[str, Any]:
        """The event's row."""
        return {"system": self.system, "delivery_id": self.delivery_id, "received_at": now, "body": self.body,
                "records": self.records, "status": "pending" if self.syncs else "processed"}  # fmt: skip


def progress_rows(event_id: int, syncs: Sequence[str], now: datetime) -> list[dict[str, Any]]:
    return [{"event_id": event_id, "sync": sync, "status": "pending", "updated_at": now} for sync in syncs]


class _SqliteIntake:
    """A group's inserts and read-back on SQLite through the driver's own connection, inside the
    caller's transaction: one trip to the driver's thread each, where SQLAlchemy's cursor makes four,
    and on a busy service each trip waits its turn on the event loop. (A lone delivery takes this way
    too: two trips, where an ``INSERT … RETURNING`` through SQLAlchemy costs more.)"""

    INSERT = (
        f"INSERT INTO {EVENTS.name} (system, delivery_id, received_at, body, records, status)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (system, delivery_id) DO NOTHING"
    )
    FIND = f"SELECT id, delivery_id, received_at FROM {EVENTS.name} WHERE system = ? AND delivery_id IN "
    PROGRESS = f"INSERT INTO {PROGRESS.name} (event_id, sync, status, updated_at) VALUES (?, ?, ?, ?)"

    def __init__(self, dialect: Dialect) -> None:
        # received_at exactly as SQLAlchemy writes it, so that a row read back compares with it as text
        processor = EVENTS.c.received_at.type.dialect_impl(dialect).bind_processor(dialect)
        self._stamp: Callable[[Any], Any] = processor if processor is not None else _as_is

    async def insert_and_read_back(
        self, connection: AsyncConnection, fresh: Sequence[Delivery], now: datetime
    ) -> dict[tuple[str, str], tuple[int, bool]]:
        """Insert ``fresh`` (each with a delivery id, each once), skipping those stored before; then
        (event id, whether this insert stored it) by (system, delivery id)."""
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None
        stamp = self._stamp(now)
        rows = [(d.system, d.delivery_id, stamp, d.body, d.records, "pending" if d.syncs else "processed")
                for d in fresh]  # fmt: skip
        await driver.executemany(self.INSERT, rows)
        stored: dict[tuple[str, str], tuple[int, bool]] = {}
        for system, ids in _by_system((d.system, d.delivery_id or "") for d in fresh).items():
            query = self.FIND + "(" + ", ".join("?" * len(ids)) + ")"
            for event_id, delivery_id, at in await driver.execute_fetchall(query, (system, *ids)):
                stored[(system, delivery_id)] = (int(event_id), at == stamp)
        return stored

    async def insert_progress(self, connection: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
        """Insert webhook progress rows (as :func:`progress_rows` makes them)."""
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None
        values = [(row["event_id"], row["sync"], row["status"], self._stamp(row["updated_at"])) for row in rows]
        await driver.executemany(self.PROGRESS, values)


class _PostgresIntake:
    """A group of deliveries (each with a delivery id) on PostgreSQL through asyncpg itself, in its own
    transaction: one insert of all that answers with the new rows, one insert of their progress, and a
    look-up only when some were stored before; each a round trip, without SQLAlchemy's work per
    statement."""

    INSERT = (
        f"INSERT INTO {EVENTS.name} (system, delivery_id, received_at, body, records, status)"
        " SELECT * FROM unnest($1::text[], $2::text[], $3::timestamp[], $4::text[], $5::int[], $6::text[])"
        " ON CONFLICT (system, delivery_id) DO NOTHING RETURNING system, delivery_id, id"
    )
    FIND = (
        f"SELECT system, delivery_id, id FROM {EVENTS.name}"
        " WHERE system = ANY($1::text[]) AND delivery_id = ANY($2::text[])"
    )
    PROGRESS = (
        f"INSERT INTO {PROGRESS.name} (event_id, sync, status, updated_at)"
        " SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::timestamp[])"
    )

    async def accept(
        self, engine: AsyncEngine, deliveries: Sequence[Delivery], now: datetime
    ) -> list[tuple[int, bool]]:
        """For each delivery, (event id, whether it was stored before).

        :raises StoreError: when the database fails
        """
        first: dict[tuple[str, str | None], Delivery] = {}
        for delivery in deliveries:
            first.setdefault((delivery.system, delivery.delivery_id), delivery)
        at = now.astimezone(UTC).replace(tzinfo=None)  # naive UTC, as UtcDateTime stores it
        try:
            async with engine.connect() as connection:
                driver = (await connection.get_raw_connection()).driver_connection
                assert driver is not None
                async with driver.transaction():
                    new, old = await self._insert(driver, list(first.values()), at)
                    progress = [(new[key], sync) for key, delivery in first.items() if key in new
                                for sync in delivery.syncs]  # fmt: skip
                    if progress:
                        events, syncs = zip(*progress, strict=True)
                        count = len(progress)
                        await driver.execute(
                            self.PROGRESS, list(events), list(syncs), ["pending"] * count, [at] * count
                        )
        except (OSError, SQLAlchemyError, PostgresError, InterfaceError) as exc:
            raise StoreError(f"the state database failed: {exc}") from exc
        accepted: list[tuple[int, bool]] = []
        for delivery in deliveries:
            key = (delivery.system, delivery.delivery_id)
            if key in new:
                accepted.append((new.pop(key), False))  # popped: the same delivery again in the group is seen
                old[key] = accepted[-1][0]
            else:
                accepted.append((old[key], True))
        return accepted

    async def _insert(
        self, driver: Any, fresh: list[Delivery], at: datetime
    ) -> tuple[dict[tuple[str, str | None], int], dict[tuple[str, str | None], int]]:
        """Insert ``fresh`` (distinct delivery ids); the new events' ids and those stored before."""
        columns = (
            [d.system for d in fresh], [d.delivery_id for d in fresh], [at] * len(fresh), [d.body for d in fresh],
            [d.records for d in fresh], ["pending" if d.syncs else "processed" for d in fresh],
        )  # fmt: skip
        new = {(system, key): int(event_id) for system, key, event_id in await driver.fetch(self.INSERT, *columns)}
        old: dict[tuple[str, str | None], int] = {}
        if len(new) < len(fresh):
            systems, keys = list({d.system for d in fresh}), [d.delivery_id for d in fresh]
            found = await driver.fetch(self.FIND, systems, keys)
            old = {(system, key): int(event_id) for system, key, event_id in found if (system, key) not in new}
        return new, old


def _as_is(value: Any) -> Any:
    return value


def _by_system(keys: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    by_system: dict[str, list[str]] = {}
    for system, delivery_id in keys:
        by_system.setdefault(system, []).append(delivery_id)
    return by_system


class Intake:
    """Stores deliveries for an :class:`~app.store.inbox.Inbox`, in groups."""

    def __init__(self, store: Store) -> None:
        self.store = store
        # Built once, values bound at each call: a statement made per delivery (``.values(...)``) costs
        # SQLAlchemy a cache key each time, as much again as the insert itself.
        new = store._insert(EVENTS).on_conflict_do_nothing(index_elements=[EVENTS.c.system, EVENTS.c.delivery_id])
        self._insert_new = new.returning(EVENTS.c.id)
        self._find = select(EVENTS.c.id).where(
            EVENTS.c.system == bindparam("system"), EVENTS.c.delivery_id == bindparam("delivery_id")
        )
        self._insert_unless_stored = new
        self._insert_loose = insert(EVENTS).returning(EVENTS.c.id)
        self._find_many = select(EVENTS.c.id, EVENTS.c.delivery_id, EVENTS.c.received_at).where(
            EVENTS.c.system == bindparam("system"), EVENTS.c.delivery_id.in_(bindparam("delivery_ids", expanding=True))
        )
        self._sqlite = None if store._postgres else _SqliteIntake(store.engine.dialect)
        self._postgres = _PostgresIntake() if store._postgres else None
        self._group = GroupCommit(self._accept_all)

    async def accept(self, delivery: Delivery) -> tuple[int, bool]:
        """Store ``delivery`` with whatever else is waiting; (event id, whether it was seen before)."""
        return await self._group.submit(delivery)

    async def _accept_all(self, deliveries: Sequence[Delivery]) -> list[tuple[int, bool]]:
        """Store deliveries in one transaction; for each, (event id, whether it was seen before)."""
        now = utc_now()
        if self._postgres is not None and all(delivery.delivery_id is not None for delivery in deliveries):
            return await self._postgres.accept(self.store.engine, deliveries, now)
        try:
            async with self.store._begin() as connection:
                if len(deliveries) == 1 and self._sqlite is None:
                    accepted = [await self._accept_one(connection, deliveries[0], now)]
                else:
                    accepted = await self._accept_many(connection, deliveries, now)
                progress = [
                    row
                    for (event_id, seen), delivery in zip(accepted, deliveries, strict=True)
                    if not seen
                    for row in progress_rows(event_id, delivery.syncs, now)
                ]
                if progress and self._sqlite is not None:
                    await self._sqlite.insert_progress(connection, progress)
                elif progress:
                    await connection.execute(insert(PROGRESS), progress)
        except sqlite3.Error as exc:  # from the driver's own connection (SQLAlchemy's are StoreErrors already)
            raise StoreError(f"the state database failed: {exc}") from exc
        return accepted

    async def _accept_one(self, connection: AsyncConnection, delivery: Delivery, now: datetime) -> tuple[int, bool]:
        event_id = (await connection.execute(self._insert_new, delivery.values(now))).scalar()
        if event_id is not None:
            return int(event_id), False
        key = {"system": delivery.system, "delivery_id": delivery.delivery_id}  # seen before
        return int((await connection.execute(self._find, key)).scalar_one()), True

    async def _accept_many(
        self, connection: AsyncConnection, deliveries: Sequence[Delivery], now: datetime
    ) -> list[tuple[int, bool]]:
        """Several deliveries: one insert of those with a delivery id (each given once), skipping
        any stored before, then one read-back. A row read back with this group's own ``received_at``
        is new; any other was there before, from an earlier delivery or another process. Deliveries
        without an id (rare) are inserted one by one.
        """
        first: dict[tuple[str, str], int] = {}  # a delivery given twice in this group: its first
        for index, delivery in enumerate(deliveries):
            if delivery.delivery_id is not None:
                first.setdefault((delivery.system, delivery.delivery_id), index)
        stored: dict[tuple[str, str], tuple[int, bool]] = {}
        if first:
            fresh = [deliveries[index] for index in first.values()]
            if self._sqlite is not None:
                stored = await self._sqlite.insert_and_read_back(connection, fresh, now)
            else:
                await connection.execute(self._insert_unless_stored, [delivery.values(now) for delivery in fresh])
                stored = await self._stored(connection, first, now)
        accepted: list[tuple[int, bool]] = []
        for index, delivery in enumerate(deliveries):
            if delivery.delivery_id is None:
                found = await connection.execute(self._insert_loose, delivery.values(now))
                accepted.append((int(found.scalar_one()), False))
                continue
            key = (delivery.system, delivery.delivery_id)
            event_id, inserted = stored[key]
            accepted.append((event_id, first[key] != index or not inserted))
        return accepted

    async def _stored(
        self, connection: AsyncConnection, keys: Iterable[tuple[str, str]], now: datetime
    ) -> dict[tuple[str, str], tuple[int, bool]]:
        """(event id, whether received ``now``) of the stored deliveries with these (system, delivery id) keys."""
        stored: dict[tuple[str, str], tuple[int, bool]] = {}
        for system, ids in _by_system(keys).items():
            rows = await connection.execute(self._find_many, {"system": system, "delivery_ids": ids})
            stored.update(((system, delivery_id), (int(event_id), at == now)) for event_id, delivery_id, at in rows)
        return stored
