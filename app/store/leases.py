"""Leases: at most one run of a sync at a time, across every process sharing the state database.

A lease is a row naming its holder and when it expires. The holder renews it
while it works; a holder that dies stops renewing, its lease expires, and
another process may take the work over.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, select, update

from app.store.tables import LEASES, utc_now

if TYPE_CHECKING:
    from app.store.access import StoreAccess


class Leases:
    """The store's leases."""

    def __init__(self, store: StoreAccess) -> None:
        self.store = store

    async def acquire(self, name: str, holder: str, ttl: timedelta) -> bool:
        """Take the lease ``name`` for ``ttl``, if it is free or expired.

        Not re-entrant: a holder asking again for a lease it holds is refused, so one process
        (one holder) cannot start a second run of a sync while its first goes on.
        """
        return name in await self.acquire_many([name], holder, ttl)

    async def acquire_many(self, names: Collection[str], holder: str, ttl: timedelta) -> set[str]:
        """:meth:`acquire` for many leases in one statement; the names taken.

        Rows are written in name order, so two processes asking for overlapping leases never deadlock."""
        if not names:
            return set()
        now = utc_now()
        rows = [{"name": name, "holder": holder, "expires_at": now + ttl} for name in sorted(names)]
        values = self.store._insert(LEASES).values(rows)
        statement = values.on_conflict_do_update(
            index_elements=[LEASES.c.name],
            set_={"holder": values.excluded.holder, "expires_at": values.excluded.expires_at},
            where=LEASES.c.expires_at < now,
        ).returning(LEASES.c.name)
        async with self.store._begin() as connection:
            return {str(name) for name in (await connection.execute(statement)).scalars()}

    async def take_over(self, name: str, previous: str, holder: str, ttl: timedelta) -> bool:
        """Take the lease from ``previous``, known to be gone, if it is still theirs."""
        statement = (
            update(LEASES)
            .where(LEASES.c.name == name, LEASES.c.holder == previous)
            .values(holder=holder, expires_at=utc_now() + ttl)
        )
        async with self.store._begin() as connection:
            result = await connection.execute(statement)
        return bool(result.rowcount)

    async def holder(self, name: str) -> str | None:
        """Who holds the lease ``name`` now, if anyone."""
        query = select(LEASES.c.holder).where(LEASES.c.name == name, LEASES.c.expires_at >= utc_now())
        async with self.store._begin() as connection:
            found = (await connection.execute(query)).scalar()
        return str(found) if found is not None else None

    async def renew(self, name: str, holder: str, ttl: timedelta) -> bool:
        """Extend ``holder``'s lease; ``False`` when it is no longer theirs."""
        statement = (
            update(LEASES).where(LEASES.c.name == name, LEASES.c.holder == holder).values(expires_at=utc_now() + ttl)
        )
        async with self.store._begin() as connection:
            result = await connection.execute(statement)
        return bool(result.rowcount)

    async def release(self, name: str, holder: str) -> None:
        async with self.store._begin() as connection:
            await connection.execute(delete(LEASES).where(LEASES.c.name == name, LEASES.c.holder == holder))

    async def release_many(self, names: Collection[str], holder: str) -> None:
        async with self.store._begin() as connection:
            await connection.execute(delete(LEASES).where(LEASES.c.name.in_(sorted(names)), LEASES.c.holder == holder))

    async def held(self) -> dict[str, str]:
        """Every lease in force now: name → holder."""
        query = select(LEASES.c.name, LEASES.c.holder).where(LEASES.c.expires_at >= utc_now())
        async with self.store._begin() as connection:
            return {str(name): str(holder) for name, holder in (await connection.execute(query)).all()}
