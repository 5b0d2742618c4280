"""Connections that can only read, for a stream's ``query:``.

The query text is the user's: even as one checked ``SELECT``
(:mod:`connectors.sql.query_text`) it can change data, through a
data-modifying ``WITH`` on PostgreSQL or a function that writes. So it runs
where the database itself refuses writes: a ``READ ONLY`` transaction on
PostgreSQL and MariaDB/MySQL, ``PRAGMA query_only`` on SQLite. Tables are
read the usual way (their statements are Brygga's own), and writes of the
same system use the same pool of connections: MariaDB's session setting and
SQLite's pragma are undone before a connection goes back to the pool, and a
connection that cannot be put back as it was is closed instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from connectors.sql.databases import Backend

_BEGIN = {
    # the transaction's first statement: it ends (rolled back) when the connection goes back to the pool
    Backend.POSTGRESQL: ("SET TRANSACTION READ ONLY",),
    # the session's too: a DDL statement ends a transaction by committing it, and the next one must read only
    Backend.MYSQL: ("SET SESSION TRANSACTION READ ONLY", "START TRANSACTION READ ONLY"),
    Backend.SQLITE: ("PRAGMA query_only = ON",),
}
_END = {
    Backend.POSTGRESQL: (),
    Backend.MYSQL: ("SET SESSION TRANSACTION READ WRITE",),  # for the next transaction; this one is rolled back
    Backend.SQLITE: ("PRAGMA query_only = OFF",),
}


@asynccontextmanager
async def read_only_connection(engine: AsyncEngine, backend: Backend) -> AsyncIterator[AsyncConnection]:
    """A connection of ``engine`` on which the database refuses every write until it is given back."""
    async with engine.connect() as conn:
        try:
            for statement in _BEGIN[backend]:
                await conn.execute(text(statement))
            yield conn
            for statement in _END[backend]:
                await conn.execute(text(statement))
        except BaseException:
            await conn.invalidate()  # it may still refuse writes: never hand it to a writer
            raise
