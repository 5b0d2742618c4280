"""Rows larger than a MariaDB/MySQL server takes in one statement, found before they are sent.

The server takes no statement larger than its ``max_allowed_packet`` (16 MiB
by default on MariaDB): it closes the connection, and the driver sees "Lost
connection to MySQL server during query" (error 2013), a passing error. The
whole batch was then retried, at every run, for ever, and no record of it
was written. A record whose row cannot fit in one statement now fails alone,
with its size, the column that makes it large and the server's limit; the
rest of its batch is written. The driver writes a batch as statements of many
rows up to about 1 MB each; only a row of its own is ever larger than that.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import chain
from operator import length_hint
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.base import PermanentError, Write
from connectors.sql.errors import database_errors

SMALLEST_LIMIT = 1024
"""The smallest ``max_allowed_packet`` a server can have: below it, no row needs a closer look."""
_OTHER_VALUE = 80
"""The most SQL that a value other than text or bytes takes (a number of 65 digits, a timestamp, NULL)."""
_PER_NAME = 12
"""What a column's name takes besides its letters: quotes, commas, ``= VALUES(…)``."""
_NESTED = frozenset({dict, list, tuple})
_ESCAPED = ("\\", "'", '"', "\x00", "\n", "\r", "\x1a")
"""What the driver writes with a backslash before it, inside a string literal."""
_ESCAPED_BYTES = tuple(character.encode() for character in _ESCAPED)


class PacketLimit:
    """The server's ``max_allowed_packet``, asked once, and the records too large for it.

    :param where: ``system.stream``, for messages
    :param table: the table's name, part of every statement
    """

    def __init__(self, where: str, table: str) -> None:
        self.where = where
        self.table = table
        self.limit: int | None = None

    async def too_large(
        self, engine: AsyncEngine, writes: Sequence[Write], secret: str | None
    ) -> dict[int, PermanentError]:
        """The writes (by index) whose row is too large for one statement, each with its error.

        A batch whose rows together fit is told apart at C speed; the server is asked once.

        :param secret: the database's password, never in a message
        :raises TransientError: when the server cannot be asked (it is not reachable)
        """
        records = [write.record for write in writes if write.record]
        values = list(chain.from_iterable(record.values() for record in records))
        names = sum(map(len, chain.from_iterable(records))) + _PER_NAME * len(values)
        together = _at_most(values) + _statement(self.table, names)
        if together < SMALLEST_LIMIT:
            return {}
        limit = await self._limit(engine, secret)
        if together < limit:
            return {}
        found: dict[int, PermanentError] = {}
        for index, write in enumerate(writes):
            record = write.record
            if not record:
                continue
            names = sum(map(len, record)) + _PER_NAME * len(record)
            if _at_most(record.values()) + _statement(self.table, names) < limit:
                continue
            sizes = {name: _sql_size(value) for name, value in record.items()}
            size = sum(sizes.values()) + _statement(self.table, names)
            if size >= limit:
                found[index] = self._error(sizes, size, limit)
        return found

    async def _limit(self, engine: AsyncEngine, secret: str | None) -> int:
        if self.limit is None:
            with database_errors(f"{self.where}: asking the server's max_allowed_packet", secret):
                async with engine.connect() as conn:
                    self.limit = int((await conn.execute(text("SELECT @@max_allowed_packet"))).scalar_one())
        return self.limit

    def _error(self, sizes: dict[str, int], size: int, limit: int) -> PermanentError:
        largest = max(sizes, key=sizes.__getitem__)
        return PermanentError(
            f"{self.where}: column {largest} holds {_shown(sizes[largest])}: its row, {_shown(size)} as SQL, is more "
            f"than the database server takes in one statement (max_allowed_packet = {limit}, {_shown(limit)}): raise "
            f"max_allowed_packet on the server (SET GLOBAL max_allowed_packet = {_suggested(size)}, and in its "
            "option file), or leave the column out of the sync"
        )


def _at_most(values: Iterable[Any]) -> int:
    """The most SQL that ``values`` can take: four bytes a character of text (UTF-8, or a backslash and the
    character), two a byte, :data:`_OTHER_VALUE` each besides. An object or a list (a JSON column) would
    count its items only: where there is one, the count is made too large to pass, so that its row takes the
    closer look."""
    values = list(values)
    nested = bool(set(map(type, values)) & _NESTED)
    return 4 * sum(map(length_hint, values)) + _OTHER_VALUE * len(values) + (1 << 62 if nested else 0)


def _statement(table: str, names: int) -> int:
    """The most that an upsert of one row takes besides its values: its words, the table's name, and each
    column's name three times (``INSERT … (`a`) VALUES (…) ON DUPLICATE KEY UPDATE `a` = VALUES(`a`)``).

    :param names: the length of the column names, :data:`_PER_NAME` each included
    """
    return 256 + 2 * len(table) + 3 * names


def _sql_size(value: Any) -> int:
    """The bytes ``value`` takes in a statement as the driver writes it (a string literal with its
    escapes, UTF-8), or a little more."""
    if isinstance(value, str):
        return len(value.encode("utf-8", "surrogatepass")) + sum(map(value.count, _ESCAPED)) + 2
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        return len(data) + sum(map(data.count, _ESCAPED_BYTES)) + 9  # _binary'…'
    if isinstance(value, dict | list | tuple):
        return 2 * len(str(value)) + 2
    return _OTHER_VALUE


def _shown(size: int) -> str:
    return f"{size} bytes" if size < 1024 * 1024 else f"{size / (1024 * 1024):.1f} MiB"


def _suggested(size: int) -> int:
    """The next power of two above ``size``, at most MariaDB's largest (1 GiB)."""
    return min(1 << size.bit_length(), 1 << 30)
