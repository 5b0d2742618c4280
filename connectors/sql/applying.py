"""Operations carried out in one transaction: one statement per set of columns, and one for the deletes.

Upserts go by ``COPY`` on PostgreSQL where that pays (and tells which rows were new); on MariaDB/MySQL a
table with more unique indexes than its key has its rows updated and inserted apart, since ``ON DUPLICATE
KEY UPDATE`` takes a clash on any of them for a clash on the key, and would overwrite another row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Executable, Table, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from connectors.sql.databases import Backend
from connectors.sql.lookups import LOOKUP_CHUNK
from connectors.sql.many import execute_many
from connectors.sql.operations import Operation, Operations, Upsert
from connectors.sql.pg_copy import copies, copy_upsert
from connectors.sql.statements import WriteStatements, update_params
from connectors.sql.streams import StreamShape, unique_column_sets

COPY_FROM = 500
"""Rows in one upsert from which PostgreSQL (asyncpg) gets them by COPY into a temporary table."""


class Applier:
    """Carries out one stream's operations.

    :param copy: upserts may go by COPY (PostgreSQL through asyncpg)
    :param report_created: every upsert goes by COPY and says which rows were new
    """

    def __init__(
        self,
        shape: StreamShape,
        table: Table,
        statements: WriteStatements,
        operations: Operations,
        *,
        copy: bool,
        report_created: bool,
    ) -> None:
        self.shape = shape
        self.table = table
        self.statements = statements
        self.operations = operations
        self.copy = copy
        self.report_created = report_created
        self.apart = shape.backend is Backend.MYSQL and any(
            columns != set(shape.key) for columns in unique_column_sets(table)
        )
        """MariaDB/MySQL with more unique indexes than the key: updates and inserts apart (see the module)."""
        self.key_is_primary = set(shape.key) == {column.name for column in table.primary_key.columns}

    async def apply(self, conn: AsyncConnection, operations: Sequence[Operation]) -> set[tuple[Any, ...]] | None:
        """Run ``operations`` (distinct keys) as one statement per column set, and one for the deletes.

        :returns: the keys of the rows that were new, where the upserts tell (by COPY on PostgreSQL), else ``None``
        """
        inserted: set[tuple[Any, ...]] | None = set()
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        doomed: list[tuple[Any, ...]] = []
        updates: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for operation in operations:
            if isinstance(operation, Upsert):
                (updates if operation.update_only else groups).setdefault(tuple(operation.row), []).append(
                    operation.row
                )
            else:
                doomed.append(operation.key)
        key, statements = self.shape.key, self.statements
        for columns, rows in updates.items():
            inserted = None
            changed = [name for name in columns if name not in key]
            if changed:
                params = [update_params(row, key, changed) for row in rows]
                await self.many(conn, ("update", columns), statements.update(columns, changed), params)
        for columns, rows in groups.items():
            by_copy = self.copy and (self.report_created or len(rows) >= COPY_FROM) and copies(self.shape, columns)
            if by_copy:
                news = await copy_upsert(conn, self.shape, self.table, columns, rows)
                inserted = inserted | news if inserted is not None else None
                continue
            inserted = None
            if self.apart:
                await self._update_or_insert(conn, columns, rows)
            else:
                await self.many(conn, ("upsert", columns), statements.upsert(columns), rows)
        if doomed:
            params = [statements.delete_params(key) for key in doomed]
            await self.many(conn, ("delete",), statements.delete(), params)
        return inserted

    async def many(
        self, conn: AsyncConnection, name: tuple[Any, ...], statement: Executable, rows: Sequence[dict[str, Any]]
    ) -> None:
        """Execute the stream's statement ``name`` once per row (each holding the same keys), compiled once."""
        await execute_many(conn, statement, self.statements.driver(conn.dialect, name, statement, tuple(rows[0])), rows)

    async def _update_or_insert(
        self, conn: AsyncConnection, columns: tuple[str, ...], rows: list[dict[str, Any]]
    ) -> None:
        """Update the rows whose key is in the table, insert the others: no clash is taken for another.

        A new row is a plain ``INSERT``, which fails on any clash. A row whose
        key exists is upserted when the key is the primary key (InnoDB finds a
        clash on it before any other), else updated by key.
        """
        key, key_of = self.shape.key, self.operations.key_of
        existing: set[tuple[Any, ...]] = set()
        find = self.statements.existing()
        for start in range(0, len(rows), LOOKUP_CHUNK):
            chunk = [key_of(row) for row in rows[start : start + LOOKUP_CHUNK]]
            bound = [values[0] for values in chunk] if len(key) == 1 else chunk
            existing.update(tuple(found) for found in await conn.execute(find, {"keys": bound}))
        present = [row for row in rows if key_of(row) in existing]
        new = [row for row in rows if key_of(row) not in existing]
        changed = [name for name in columns if name not in key]
        if present and self.key_is_primary:
            await conn.execute(self.statements.upsert(columns), present)
        elif present and changed:
            change = self.statements.update(columns, changed)
            await conn.execute(change, [update_params(row, key, changed) for row in present])
        if new:
            await conn.execute(insert(self.table), new)
