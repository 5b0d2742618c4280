"""Writes turned into operations on a table: each record's row converted to its columns' types, its key found.

A write that cannot become an operation (a value that does not convert, a key missing or holding a list, a
delete on a stream without a ``delete`` option) raises :class:`~app.errors.PermanentError` for that record
alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table

from connectors.base import PermanentError, Record, Write, WriteAction, format_key, key_text, parse_key
from connectors.sql.coercion import ColumnValueError, Kind
from connectors.sql.streams import StreamShape, require_column


@dataclass(frozen=True, slots=True)
class Upsert:
    """A create or update: ``row`` holds converted values by column.

    ``update_only``: an update that leaves out a column the table requires (``NOT NULL`` without a
    default), such as a two-way sync's update of the fields that changed: an upsert would be refused
    for the row it could insert, so it is an ``UPDATE`` by key of the columns it holds.
    """

    index: int
    key: tuple[Any, ...]
    row: dict[str, Any]
    update_only: bool = False


@dataclass(frozen=True, slots=True)
class Delete:
    index: int
    key: tuple[Any, ...]


Operation = Upsert | Delete


class Operations:
    """Makes one stream's operations from its writes."""

    def __init__(self, shape: StreamShape, table: Table) -> None:
        self.shape = shape
        self.where = shape.where
        self.names = [column.name for column in table.columns]
        self.types = {name: shape.types[name] for name in self.names}
        self.natives = {name: kind.taken_as_is for name, kind in self.types.items()}
        """The type a column's value is taken as it is (see :attr:`ColumnType.taken_as_is`)."""
        soft = shape.options.delete.soft if shape.options.delete is not None else None
        self.soft = soft
        self.alive = False if soft is not None and shape.types[soft].kind is Kind.BOOLEAN else None
        self.required = frozenset(
            column.name
            for column in table.columns
            if not column.nullable and column.server_default is None and column.name not in shape.key
        )
        """Columns a row must hold to be inserted: an update without one of them is an ``UPDATE``."""

    def leaves_out_required(self, write: Write) -> bool:
        """Whether ``write`` is an update without a column an insert needs (it must be an ``UPDATE``)."""
        return write.action is WriteAction.UPDATE and not self.required <= set(write.record or ())

    def operation(self, index: int, write: Write) -> Operation:
        """``write`` (the ``index``-th of its batch) as an operation.

        :raises PermanentError: when it cannot be one, saying why
        """
        if write.action is WriteAction.DELETE:
            if self.shape.options.delete is None:
                raise PermanentError(
                    f"{self.where}: cannot delete {write.target_key}: the stream has no 'delete' option; "
                    "add delete: hard or delete: {soft: COLUMN} to its config"
                )
            return Delete(index, self.key_from_text(write.target_key))
        row = self.row(write.record or {})
        key = self.key_of(row)
        if None in key and write.target_key is not None:
            key = self.key_from_text(write.target_key)
            row.update(zip(self.shape.key, key, strict=True))
        if None in key:
            missing = ", ".join(name for name, value in zip(self.shape.key, key, strict=True) if value is None)
            raise PermanentError(f"{self.where}: the record has no value for the key column {missing}")
        for name, value in zip(self.shape.key, key, strict=True):
            if isinstance(value, dict | list | tuple | set | frozenset):
                kind = "an object" if isinstance(value, dict) else "a list"
                raise PermanentError(
                    f"{self.where}: the record's key column {name} would get {kind}, which no key column holds: "
                    "map the key field to one value (a field of it, or an expression)"
                )
        if self.soft is not None and self.soft not in row:
            row[self.soft] = self.alive  # written again: not deleted (any more)
        update_only = write.action is WriteAction.UPDATE and not self.required <= row.keys()
        return Upsert(index, key, row, update_only)

    def key_of(self, row: dict[str, Any]) -> tuple[Any, ...]:
        """The key of a converted row."""
        return (
            tuple(row.get(name) for name in self.shape.key)
            if len(self.shape.key) > 1
            else (row.get(self.shape.key[0]),)
        )

    def row(self, record: Record) -> dict[str, Any]:
        """``record`` with every value converted to its column's type.

        :raises PermanentError: naming the column that is not there, or whose value does not convert
        """
        types, natives = self.types, self.natives
        try:
            # a value already of its column's type is taken as it is: the common case, kept fast
            return {
                name: value if value is None or type(value) is natives[name] else types[name].convert(value)
                for name, value in record.items()
            }
        except (KeyError, ColumnValueError):
            pass  # find which column, and say so
        for name, value in record.items():
            require_column(self.where, f"table {self.shape.options.table}", name, self.names)
            self._convert(name, value)
        raise AssertionError("a record failed to convert, then converted")  # pragma: no cover

    def _convert(self, name: str, value: Any) -> Any:
        kind = self.shape.types[name]
        try:
            return kind.convert(value)
        except ColumnValueError as exc:
            raise PermanentError(f"{self.where}: column {name} ({kind.name}): {exc}") from None

    def key_from_text(self, text: str | None) -> tuple[Any, ...]:
        """A target key's text as the key columns' values. :raises PermanentError: when it does not fit them"""
        if text is None:
            raise PermanentError(f"{self.where}: a write without a target key cannot be applied")
        try:
            parts = parse_key(text, len(self.shape.key))
        except ValueError as exc:
            raise PermanentError(f"{self.where}: {exc}") from None
        return tuple(self._key_value(name, part) for name, part in zip(self.shape.key, parts, strict=True))

    def _key_value(self, name: str, text: str) -> Any:
        kind = self.shape.types[name]
        try:
            return kind.key_value(text)
        except ColumnValueError as exc:
            raise PermanentError(f"{self.where}: column {name} ({kind.name}): {exc}") from None


def columns_of(operations: Sequence[Operation], key: Sequence[str]) -> set[str]:
    """The columns ``operations`` write: the key's, and those of every row."""
    columns = set(key)
    for operation in operations:
        if isinstance(operation, Upsert):
            columns.update(operation.row)
    return columns


def shown_key(key: tuple[Any, ...]) -> str:
    """A key as the text a write's result gives it."""
    return key_text(key[0]) if len(key) == 1 else format_key(key)


def rounds(operations: Sequence[Operation]) -> list[list[Operation]]:
    """``operations`` in order, cut wherever a key comes again: within a round every row is another."""
    cut: list[list[Operation]] = []
    current: list[Operation] = []
    seen: set[tuple[Any, ...]] = set()
    for operation in operations:
        if operation.key in seen:
            cut.append(current)
            current, seen = [], set()
        current.append(operation)
        seen.add(operation.key)
    if current:
        cut.append(current)
    return cut
