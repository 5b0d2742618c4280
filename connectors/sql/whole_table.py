"""Whether a failed write concerns its table rather than its rows: then the run stops, once.

A batch the database refuses is written again in halves, down to single rows,
so that only the rows it refuses fail (see :mod:`connectors.sql.writing`). A
table dropped, renamed or closed to Brygga's user in the middle of a run
refuses every row: each of them failed alone, 28,000 dead letters for one
missing table, each to be retried by hand once it was back. Such a failure is
the table's: the write raises it for the whole batch, and the run stops with
it, as it would have had the table been missing when the run began.

Most databases say which it is by the error's code (:func:`~connectors.sql.errors.whole_table`).
Where a code means either (SQLite's generic ``SQLITE_ERROR``, PostgreSQL's
``insufficient_privilege``, which a row-level security policy gives one row
too), the table is looked at: gone, or without a column written, or (on
PostgreSQL) without row-level security to refuse single rows, it is the table's.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Connection, Table, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.sql.errors import translated_types, whole_table

_ROW_SECURITY = text("SELECT relrowsecurity FROM pg_class WHERE oid = to_regclass(:table)")


async def table_refused(engine: AsyncEngine, exc: BaseException, table: Table, columns: Collection[str]) -> bool:
    """Whether ``exc``, raised writing ``columns`` of ``table``, refuses the table rather than the rows written.

    Where the table cannot even be looked at, it is taken for the rows' failure, as before: they fail alone.
    """
    verdict = whole_table(exc)
    if verdict is not None:
        return verdict
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_not_writable, table, columns)
    except translated_types():
        return False


def _not_writable(conn: Connection, table: Table, columns: Collection[str]) -> bool:
    inspector = inspect(conn)
    if not inspector.has_table(table.name, table.schema):
        return True
    there = {column["name"] for column in inspector.get_columns(table.name, table.schema)}
    if not set(columns) <= there:
        return True
    if conn.dialect.name != "postgresql":
        return False
    name = conn.dialect.identifier_preparer.format_table(table)
    return not conn.execute(_ROW_SECURITY, {"table": name}).scalar()  # a policy refuses rows, not the table
