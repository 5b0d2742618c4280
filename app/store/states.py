"""What the service keeps about each sync between runs: paused, failing and backing off, schedule slots."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.store.tables import STATES, utc_now

if TYPE_CHECKING:
    from app.store.access import StoreAccess


@dataclass(frozen=True)
class SyncStateInfo:
    sync: str
    paused: bool = False
    failures: int = 0
    backoff_until: datetime | None = None
    announced: str | None = None


class SyncStates:
    """The store's per-sync service state. A sync without a row has the defaults."""

    def __init__(self, store: StoreAccess) -> None:
        self.store = store

    async def get(self, sync: str) -> SyncStateInfo:
        async with self.store._begin() as connection:
            row = (await connection.execute(select(STATES).where(STATES.c.sync == sync))).mappings().first()
        return _info(row) if row is not None else SyncStateInfo(sync)

    async def all(self) -> dict[str, SyncStateInfo]:
        async with self.store._begin() as connection:
            rows = (await connection.execute(select(STATES))).mappings().all()
        return {row["sync"]: _info(row) for row in rows}

    async def set_paused(self, sync: str, paused: bool) -> SyncStateInfo:
        await self._ensure(sync)
        async with self.store._begin() as connection:
            await connection.execute(
                update(STATES).where(STATES.c.sync == sync).values(paused=paused, updated_at=utc_now())
            )
        return await self.get(sync)

    async def after_run(
        self, sync: str, failed: bool, failing_after: int, backoff: timedelta, max_backoff: timedelta
    ) -> SyncStateInfo:
        """Count a run: one that failed adds a failure and, from ``failing_after`` on, a backoff that doubles
        each time up to ``max_backoff``; a run that got through clears both. The sync's state after it."""
        if not failed:  # the usual case: one statement, where reading the state first took two
            cleared = (
                update(STATES)
                .where(STATES.c.sync == sync)
                .values(failures=0, backoff_until=None, updated_at=utc_now())
                .returning(*STATES.c)
            )
            async with self.store._begin() as connection:
                row = (await connection.execute(cleared)).mappings().first()
            if row is not None:
                return _info(row)
        state = await self._row(sync)
        failures = state.failures + 1 if failed else 0
        until = None
        if failures >= failing_after:
            delay = min(backoff * 2 ** (failures - failing_after), max_backoff)
            until = utc_now() + delay
        async with self.store._begin() as connection:
            await connection.execute(
                update(STATES)
                .where(STATES.c.sync == sync)
                .values(failures=failures, backoff_until=until, updated_at=utc_now())
            )
        return SyncStateInfo(sync, state.paused, failures, until, state.announced)

    async def claim_slot(self, sync: str, slot: datetime) -> bool:
        """Claim the scheduled run due at ``slot``: ``True`` for exactly one process of those asking."""
        return sync in await self.claim_due_many({sync: slot}, None)

    async def claim_due(self, sync: str, slot: datetime, now: datetime) -> bool:
        """Claim the scheduled run due at ``slot`` if the sync may run at ``now`` (not paused, not backing
        off): ``True`` for exactly one process of those asking, ``False`` when it may not run.

        One statement for what took three (read the state, insert its row, claim): with hundreds of syncs
        due in the same second, the state database's round trips are what delays their starts."""
        return sync in await self.claim_due_many({sync: slot}, now)

    async def claim_due_many(self, due: Mapping[str, datetime], now: datetime | None) -> set[str]:
        """:meth:`claim_due` for many syncs at once (``due``: sync → slot); the syncs claimed. With ``now``
        ``None`` a slot is claimed whether the sync may run or not (:meth:`claim_slot`).

        The syncs a schedule fires in the same second are claimed in one statement per slot, not one
        each: hundreds of claims queued on the state database were what made their runs start late.
        Rows are locked in the order of their names (PostgreSQL), so two processes claiming the same
        syncs never deadlock; a transaction only ever waits while it holds rows in that order."""
        by_slot: dict[datetime, list[str]] = defaultdict(list)
        for sync, slot in due.items():
            by_slot[slot].append(sync)
        claimed: set[str] = set()
        missing: dict[datetime, list[str]] = {}
        async with self.store._begin() as connection:
            for slot, syncs in by_slot.items():
                got = await self._claim_each(connection, syncs, slot, now)
                claimed |= got
                missing[slot] = await self._without_row(connection, [sync for sync in syncs if sync not in got])
        for slot, syncs in missing.items():
            if syncs:  # their first slot: their rows, with the defaults, then the claim
                await self._ensure_all(syncs)
                async with self.store._begin() as connection:
                    claimed |= await self._claim_each(connection, syncs, slot, now)
        return claimed

    async def _claim_each(
        self, connection: AsyncConnection, syncs: list[str], slot: datetime, now: datetime | None
    ) -> set[str]:
        where = _claimable(slot, now)
        locked = select(STATES.c.sync).where(STATES.c.sync.in_(syncs), *where).order_by(STATES.c.sync)
        statement = (
            update(STATES)
            .where(STATES.c.sync.in_(locked.with_for_update()), *where)
            .values(last_slot=slot, updated_at=utc_now())
            .returning(STATES.c.sync)
        )
        return set((await connection.execute(statement)).scalars())

    async def _without_row(self, connection: AsyncConnection, syncs: list[str]) -> list[str]:
        if not syncs:
            return []
        found = set((await connection.execute(select(STATES.c.sync).where(STATES.c.sync.in_(syncs)))).scalars())
        return [sync for sync in syncs if sync not in found]

    async def announce(self, sync: str, status: str, before: SyncStateInfo | None = None) -> str | None:
        """Record ``status`` as announced; the status it replaces, or ``None`` when it was announced already
        (by this process or another: each change is announced once).

        :param before: the sync's state, if the caller has just read it (after a run): a status announced
            already then costs no statement"""
        if before is None:
            before = await self._row(sync)
        if before.announced == status:
            return None
        statement = (
            update(STATES)
            .where(STATES.c.sync == sync, _same(STATES.c.announced, before.announced))
            .values(announced=status, updated_at=utc_now())
        )
        async with self.store._begin() as connection:
            result = await connection.execute(statement)
        if not result.rowcount:
            return None  # another process announced first
        return before.announced or "idle"

    async def _row(self, sync: str) -> SyncStateInfo:
        """The sync's state, its row inserted first when it has none (so a conditional update finds it)."""
        async with self.store._begin() as connection:
            row = (await connection.execute(select(STATES).where(STATES.c.sync == sync))).mappings().first()
        if row is not None:
            return _info(row)
        await self._ensure(sync)
        return await self.get(sync)

    async def _ensure(self, sync: str) -> None:
        await self._ensure_all([sync])

    async def _ensure_all(self, syncs: Collection[str]) -> None:
        """Rows with the defaults for those of ``syncs`` without one (inserted in name order: no deadlock)."""
        now = utc_now()
        rows = [{"sync": sync, "paused": False, "failures": 0, "updated_at": now} for sync in sorted(syncs)]
        statement = self.store._insert(STATES).values(rows)
        async with self.store._begin() as connection:
            await connection.execute(statement.on_conflict_do_nothing(index_elements=[STATES.c.sync]))


def _claimable(slot: datetime, now: datetime | None) -> list[Any]:
    """A sync's slot may be claimed: not claimed yet and, given ``now``, not paused and not backing off."""
    where = [or_(STATES.c.last_slot.is_(None), STATES.c.last_slot < slot)]
    if now is not None:
        where += [STATES.c.paused.is_(False), or_(STATES.c.backoff_until.is_(None), STATES.c.backoff_until <= now)]
    return where


def _same(column: Any, value: str | None) -> Any:
    return column.is_(None) if value is None else column == value


def _info(row: Any) -> SyncStateInfo:
    return SyncStateInfo(row["sync"], bool(row["paused"]), row["failures"], row["backoff_until"], row["announced"])
