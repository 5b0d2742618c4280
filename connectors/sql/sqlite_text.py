"""SQLite text that is not UTF-8: read as it is, so that only its own record fails.

SQLite stores whatever bytes a program puts in a ``TEXT`` value; Python's driver
refuses to decode such a value and the whole query fails, so one bad row would
stop every read of its table for ever. A query that meets one is read again with
the bytes that do not decode kept as lone surrogates (``surrogateescape``): the
engine fails a record holding one alone, into the dead letters, with its value
spelt out. The usual reads keep the driver's own decoding, at C speed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncConnection

UNDECODABLE = "Could not decode to UTF-8"
"""How Python's sqlite3 module says a ``TEXT`` value is not UTF-8."""


def is_undecodable(error: BaseException) -> bool:
    """Whether ``error`` (SQLAlchemy's, or the driver's it wraps) says a text value was not UTF-8."""
    return UNDECODABLE in str(getattr(error, "orig", None) or error)


def _kept_as_bytes(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


@asynccontextmanager
async def undecodable_text_kept(connection: AsyncConnection) -> AsyncIterator[None]:
    """Within: ``connection`` (SQLite's) reads text that is not UTF-8 with its bytes kept as lone surrogates."""
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None
    before = driver.text_factory
    driver.text_factory = _kept_as_bytes
    try:
        yield
    finally:
        driver.text_factory = before
