"""The SQL of a stream's writes: upserts, updates, deletes and key look-ups, each built once per stream.

Statements are kept in the stream's cache (:attr:`StreamShape.cache`) under a name: building and
compiling one for every batch cost more than sending it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Executable, Table, and_, bindparam, delete, select, tuple_, update
from sqlalchemy.engine import Dialect

from connectors.sql.coercion import ColumnType, Kind
from connectors.sql.databases import Backend
from connectors.sql.many import DriverStatement, driver_statement
from connectors.sql.second_fractions import cut_to
from connectors.sql.streams import StreamShape

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite


class WriteStatements:
    """One stream's write statements, built once.

    :param soft: the soft-delete column, if the stream deletes softly
    :param alive: what the soft-delete column holds for a row not deleted (``False`` for a boolean column,
        else ``None``)
    """

    def __init__(self, shape: StreamShape, table: Table, soft: str | None, alive: bool | None) -> None:
        self.shape = shape
        self.table = table
        self.soft = soft
        self.alive = alive

    def named(self, name: tuple[Any, ...], build: Callable[[], Executable]) -> Executable:
        """The statement ``name`` of this stream, built once."""
        cached = self.shape.cache.get(name)
        if cached is None:
            cached = self.shape.cache[name] = build()
        statement: Executable = cached
        return statement

    def driver(
        self, dialect: Dialect, name: tuple[Any, ...], statement: Executable, names: tuple[str, ...]
    ) -> DriverStatement | None:
        """The statement ``name`` compiled once for the driver (``None``: it goes SQLAlchemy's way)."""
        key = ("driver", *name)
        if key in self.shape.cache:
            prepared: DriverStatement | None = self.shape.cache[key]
        else:
            prepared = self.shape.cache[key] = driver_statement(statement, dialect, names)
        return prepared

    def upsert(self, columns: tuple[str, ...]) -> Executable:
        """The upsert of rows holding ``columns``."""
        return self.named(
            ("upsert", columns), lambda: upsert_statement(self.shape.backend, self.table, self.shape.key, columns)
        )

    def update(self, columns: tuple[str, ...], changed: Sequence[str]) -> Executable:
        """The ``UPDATE`` by key of rows holding ``columns``, setting ``changed`` (bound by :func:`update_params`)."""
        return self.named(("update", columns), lambda: _update(self.table, self.shape.key, changed))

    def existing(self) -> Executable:
        """Which of the keys bound as ``keys`` are in the table, locked for the transaction."""
        return self.named(("existing",), lambda: _existing(self.table, self.shape.key))

    def delete(self) -> Executable:
        """The delete (or soft delete) of the row of one key, bound by :meth:`delete_params`."""
        return self.named(("delete",), lambda: _deletion(self.table, self.shape.key, self.soft, self.alive is None))

    def delete_params(self, key: tuple[Any, ...]) -> dict[str, Any]:
        params = {f"key_{i}": value for i, value in enumerate(key)}
        if self.soft is not None:
            soft_kind = self.shape.types[self.soft]
            params["deleted_at"] = True if soft_kind.kind is Kind.BOOLEAN else _deleted_at(soft_kind)
        return params


def upsert_statement(backend: Backend, table: Table, key: Sequence[str], columns: Sequence[str]) -> Executable:
    """``INSERT … ON CONFLICT (key) DO UPDATE`` or ``ON DUPLICATE KEY UPDATE`` of ``columns``, for executemany."""
    changed = [name for name in columns if name not in key]
    # Each backend's dialect imported for its own tables only: PostgreSQL's and MySQL's cost ~30 ms at start-up.
    if backend is Backend.MYSQL:
        from sqlalchemy.dialects.mysql import insert as mysql_insert  # noqa: PLC0415

        statement = mysql_insert(table)
        # with nothing to change, "update" the key to itself: a no-op that keeps the row
        return statement.on_duplicate_key_update({name: statement.inserted[name] for name in changed or key[:1]})
    upsert: postgresql.Insert | sqlite.Insert
    if backend is Backend.POSTGRESQL:
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert  # noqa: PLC0415

        upsert = postgresql_insert(table)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert  # noqa: PLC0415

        upsert = sqlite_insert(table)
    if not changed:
        return upsert.on_conflict_do_nothing(index_elements=list(key))
    return upsert.on_conflict_do_update(
        index_elements=list(key), set_={name: upsert.excluded[name] for name in changed}
    )


def update_params(row: dict[str, Any], key: Sequence[str], changed: Sequence[str]) -> dict[str, Any]:
    """The parameters of :meth:`WriteStatements.update` for one row."""
    params = {f"key_{i}": row[name] for i, name in enumerate(key)}
    params.update({f"value_{i}": row[name] for i, name in enumerate(changed)})
    return params


def _existing(table: Table, key: Sequence[str]) -> Executable:
    columns = [table.c[name] for name in key]
    compared = columns[0] if len(columns) == 1 else tuple_(*columns)
    return select(*columns).where(compared.in_(bindparam("keys", expanding=True))).with_for_update()


def _deletion(table: Table, key: Sequence[str], soft: str | None, keep_first: bool) -> Executable:
    """``DELETE`` the row of the key bound as ``key_0``, …, or set its soft-delete column to ``deleted_at``."""
    if soft is None:
        return delete(table).where(_key_match(table, key))
    column = table.c[soft]
    match = and_(_key_match(table, key), column.is_(None)) if keep_first else _key_match(table, key)
    return update(table).where(match).values({column: bindparam("deleted_at", type_=column.type)})


def _key_match(table: Table, key: Sequence[str]) -> ColumnElement[bool]:
    return and_(*(table.c[name] == bindparam(f"key_{i}", type_=table.c[name].type) for i, name in enumerate(key)))


def _update(table: Table, key: Sequence[str], changed: Sequence[str]) -> Executable:
    match = _key_match(table, key)
    values = {table.c[name]: bindparam(f"value_{i}", type_=table.c[name].type) for i, name in enumerate(changed)}
    return update(table).where(match).values(values)


def _deleted_at(column: ColumnType) -> Any:
    """The time of a soft delete as its column keeps it: today (in UTC) in a date column, now (in UTC) to the
    digits of a second a timestamp column keeps, else as text."""
    now = datetime.now(UTC)
    if column.kind is Kind.DATE:
        return now.date()
    return column.convert(cut_to(now, column.fraction) if column.fraction is not None else now)
