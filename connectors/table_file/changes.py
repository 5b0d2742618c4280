"""A batch of writes folded into one change per key: the rules every file kind writes by.

Each write is checked on its own (its key, its columns, its values), so one bad record fails alone in
its result. The checked writes fold into one :class:`Change` per key, in order: a create then a delete
of one key in one batch leaves no row, and a create of a key that is there updates its row. A kind
says how a record becomes its cells and how a cell reads as a key; how the changes reach the file
(rows streamed past, cells of a sheet) is its own.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from connectors.base import PermanentError, Record, Write, WriteAction, WriteResult, format_key, parse_key
from connectors.table_file.messages import quoted

CellT = TypeVar("CellT")


@dataclass
class Change(Generic[CellT]):
    """What happens to the row(s) of one key."""

    key_parts: tuple[str, ...]
    cells: dict[str, CellT] = field(default_factory=dict)
    delete: bool = False
    fresh: bool = False
    """The row was deleted earlier in the batch: columns this change does not set start empty."""
    found: bool = False
    """The row was met in the file (for a kind that applies changes as the rows stream past)."""


class KeyedChanges(ABC, Generic[CellT]):
    """Writes against one file's columns, folded into :attr:`changes` (one per key, by the key's text).

    :param key: the stream's key columns
    """

    def __init__(self, key: Sequence[str]) -> None:
        self.key = tuple(key)
        self.changes: dict[str, Change[CellT]] = {}

    @property
    def empty(self) -> bool:
        return not self.changes

    def result(self, write: Write) -> WriteResult:
        """Fold ``write`` in; its result: its key, or why it cannot be applied (the plan is then as it was)."""
        try:
            return WriteResult(target_key=self.add(write))
        except PermanentError as exc:
            return WriteResult(target_key=write.target_key, error=exc)

    def add(self, write: Write) -> str:
        """Fold ``write`` into the changes; its key afterwards, as text.

        :raises PermanentError: when the write cannot be applied (no key, an unknown column, a value that
            cannot be written); the changes are then as they were
        """
        if write.action is WriteAction.DELETE:
            where = self._given_key(write.target_key, "a delete")
            change = self._change(where)
            change.delete, change.fresh, change.cells = True, True, {}
            return format_key(where)
        cells = self._cells(write.record or {})
        if blank := [name for name in self.key if name in cells and self._key_part(cells[name]) == ""]:
            raise self._error(f"the record has no value for its key {quoted(blank)}")
        own = self._own_key(cells)
        where = self._located(write, cells, own)
        change = self._change(where)
        change.delete = False
        change.cells.update(cells)
        return format_key(own or where)

    # --- what a kind says ------------------------------------------------------

    @abstractmethod
    def _cells(self, record: Record) -> dict[str, CellT]:
        """``record``'s values as the cells they are written as.

        :raises PermanentError: naming a column the file does not have, or a value no cell can hold
        """

    @abstractmethod
    def _key_part(self, cell: CellT) -> str:
        """A key cell as one part of the key's text; ``""`` for an empty cell."""

    @abstractmethod
    def _error(self, problem: str) -> PermanentError:
        """An error about this file."""

    # --- finding a write's row -------------------------------------------------

    def _own_key(self, cells: dict[str, CellT]) -> tuple[str, ...] | None:
        """The key the record itself carries, or ``None`` when a key column is missing or empty."""
        parts = tuple(self._key_part(cells[name]) if name in cells else "" for name in self.key)
        return None if "" in parts else parts

    def _located(self, write: Write, cells: dict[str, CellT], own: tuple[str, ...] | None) -> tuple[str, ...]:
        """The key of the row a create or update goes to: an update finds its row by the target key."""
        if write.action is WriteAction.UPDATE and write.target_key is not None:
            return self._given_key(write.target_key, "an update")
        if own is not None:
            return own
        if write.target_key is not None:
            return self._given_key(write.target_key, f"a {write.action}")
        missing = [name for name in self.key if name not in cells or self._key_part(cells[name]) == ""]
        raise self._error(f"the record has no value for its key {quoted(missing)}")

    def _given_key(self, text: str | None, what: str) -> tuple[str, ...]:
        if text is None:
            raise self._error(f"{what} needs the target key, and none was given")
        width = len(self.key)
        try:
            parts = parse_key(text, width)
        except ValueError as exc:
            raise self._error(f"{what}: {text!r} is not a key of {width} parts (a JSON list of {width} texts)") from exc
        if "" in parts:
            raise self._error(f"{what}: the key {text!r} has an empty part")
        return parts

    def _change(self, where: tuple[str, ...]) -> Change[CellT]:
        return self.changes.setdefault(format_key(where), Change(where))


def new_columns(key: Sequence[str], writes: Sequence[Write]) -> list[str]:
    """A new file's columns when none were prepared: the key, then each field as it first appears."""
    names = dict.fromkeys(key)
    for write in writes:
        names.update(dict.fromkeys(write.record or {}))
    return list(names)
