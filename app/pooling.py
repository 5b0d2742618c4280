"""Database connection pools: connections checked before use only after sitting idle, and the driver's own
connection under a pooled one.

SQLAlchemy's ``pool_pre_ping`` asks the database on every checkout; on
asyncpg that is ``BEGIN``, an empty statement and ``ROLLBACK``, three round
trips. A run checks connections out several times per batch, milliseconds
apart: those pings were a third of its round trips. A connection that sat
idle for longer than :data:`IDLE_BEFORE_CHECK` (a server restarted
overnight, a firewall that dropped a quiet connection) is checked as
pre-ping would, and replaced if it fails; one in steady use is not. Should
its server go away in the moment between two batches, the next statement
fails as a passing error: SQLAlchemy discards the pool's connections and the
engine retries on a new one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

IDLE_BEFORE_CHECK = 5.0
"""Seconds a pooled connection may sit unused and still be taken without a check."""

_RETURNED_AT = "brygga_returned_at"


def check_when_idle(
    engine: AsyncEngine, idle_seconds: float = IDLE_BEFORE_CHECK, clock: Callable[[], float] = time.monotonic
) -> None:
    """Ping each connection taken from ``engine``'s pool that was returned more than ``idle_seconds`` ago."""
    dialect = engine.sync_engine.dialect

    def returned(_dbapi_connection: Any, record: Any) -> None:
        record.info[_RETURNED_AT] = clock()

    def taken(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned_at = record.info.get(_RETURNED_AT)
        if returned_at is None or clock() - returned_at <= idle_seconds:
            return  # new, or in steady use
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as exc:  # any failure: the pool replaces the connection and tries again
            raise DisconnectionError(f"a pooled connection failed its check after sitting idle: {exc}") from exc

    event.listen(engine.sync_engine, "checkin", returned)
    event.listen(engine.sync_engine, "checkout", taken)


async def driver_connection(connection: AsyncConnection) -> Any:
    """The driver's own connection (asyncpg's) under ``connection``, for what SQLAlchemy does not offer (COPY)."""
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None
    return driver
