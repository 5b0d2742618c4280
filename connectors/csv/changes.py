"""What a batch of writes does to a file's rows: one change per key, applied as the rows stream past.

Each write is checked on its own (its key, its columns, whether its values can
be written in the file's encoding), so one bad record fails alone. The
checked writes fold into one :class:`Change` per key, in order: a create then
a delete of one key in one batch leaves no row.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, time
from decimal import Decimal
from typing import Any

from connectors.base import Record, Write, WriteAction, format_key, parse_key
from connectors.csv.files import CsvFile, CsvFileError, columns_are, quoted, row_key


def cell_text(value: Any) -> str:
    """A value as the text of its cell: ``None`` → empty, ``True`` → ``true``, decimals plain, dates ISO."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


@dataclass
class Change:
    """What happens to the row(s) of one key."""

    key_parts: tuple[str, ...]
    cells: dict[str, str] = field(default_factory=dict)
    delete: bool = False
    fresh: bool = False
    """The row was deleted earlier in the batch: columns this change does not set start empty."""
    found: bool = False


class WritePlan:
    """A batch of writes against one file's header, ready to apply to its rows.

    :param header: the file's columns (for a file not yet there, the columns it will be created with)
    :param key: the stream's key columns
    """

    def __init__(self, file: CsvFile, header: Sequence[str], key: Sequence[str]) -> None:
        self.file = file
        self.header = list(header)
        self.key = tuple(key)
        self._at = {name: at for at, name in enumerate(self.header) if name}
        self._key_at = [self._at[name] for name in self.key]
        self._changes: dict[str, Change] = {}

    @property
    def empty(self) -> bool:
        return not self._changes

    def add(self, write: Write) -> str:
        """Fold ``write`` into the plan; its key afterwards, as text.

        :raises CsvFileError: when the write cannot be applied (no key, an unknown column, a value
            that cannot be written); the plan is then as it was
        """
        if write.action is WriteAction.DELETE:
            where = self._given_key(write.target_key, "a delete")
            change = self._change(where)
            change.delete, change.fresh, change.cells = True, True, {}
            return format_key(where)
        cells = self._cells(write.record or {})
        if blank := [name for name in self.key if cells.get(name) == ""]:
            raise CsvFileError(self.file.shown, f"the record has no value for its key {quoted(blank)}")
        own = self._own_key(cells)
        where = self._located(write, cells, own)
        change = self._change(where)
        change.delete = False
        change.cells.update(cells)
        return format_key(own or where)

    def rows(self, rows: Iterable[list[str]]) -> Iterator[list[str]]:
        """The file's new rows: ``rows`` with the changes applied, then the rows of keys not found."""
        for row in rows:
            key = row_key(row, self._key_at)
            change = None if key is None else self._changes.get(key)
            if change is None:
                yield row
                continue
            change.found = True
            if not change.delete:
                yield self._applied(change, row)
        for change in self._changes.values():
            if not change.found and not change.delete:
                yield self._applied(change, [])

    # --- checking one write -------------------------------------------------

    def _cells(self, record: Record) -> dict[str, str]:
        unknown = [name for name in record if name not in self._at]
        if unknown:
            columns = f"{columns_are(unknown)} not in the file; its columns are: {quoted(self.header)}"
            raise CsvFileError(self.file.shown, f"{columns} (Brygga never adds columns)")
        return {name: self._cell(name, value) for name, value in record.items()}

    def _cell(self, name: str, value: Any) -> str:
        try:
            text = cell_text(value)
        except Exception as exc:
            raise CsvFileError(self.file.shown, f"field '{name}' cannot be written as text: {exc!r}") from exc
        try:
            text.encode(self.file.encoding)
        except UnicodeEncodeError as exc:
            bad = text[exc.start : exc.end]
            raise CsvFileError(
                self.file.shown, f"field '{name}': {bad!r} cannot be written in {self.file.encoding}"
            ) from exc
        return text

    def _own_key(self, cells: dict[str, str]) -> tuple[str, ...] | None:
        """The key the record itself carries, or ``None`` when a key column is missing or empty."""
        parts = tuple(cells.get(name, "") for name in self.key)
        return None if "" in parts else parts

    def _located(self, write: Write, cells: dict[str, str], own: tuple[str, ...] | None) -> tuple[str, ...]:
        """The key of the row a create or update goes to: an update finds its row by the target key."""
        if write.action is WriteAction.UPDATE and write.target_key is not None:
            return self._given_key(write.target_key, "an update")
        if own is not None:
            return own
        if write.target_key is not None:
            return self._given_key(write.target_key, f"a {write.action}")
        missing = [name for name in self.key if not cells.get(name)]
        raise CsvFileError(self.file.shown, f"the record has no value for its key {quoted(missing)}")

    def _given_key(self, text: str | None, what: str) -> tuple[str, ...]:
        if text is None:
            raise CsvFileError(self.file.shown, f"{what} needs the target key, and none was given")
        try:
            parts = parse_key(text, len(self.key))
        except ValueError as exc:
            width = len(self.key)
            raise CsvFileError(
                self.file.shown, f"{what}: {text!r} is not a key of {width} parts (a JSON list of {width} texts)"
            ) from exc
        if "" in parts:
            raise CsvFileError(self.file.shown, f"{what}: the key {text!r} has an empty part")
        return parts

    def _change(self, where: tuple[str, ...]) -> Change:
        return self._changes.setdefault(format_key(where), Change(where))

    # --- applying ------------------------------------------------------------

    def _applied(self, change: Change, row: list[str]) -> list[str]:
        width = len(self.header)
        if change.fresh or not row:
            new = [""] * width
            for at, part in zip(self._key_at, change.key_parts, strict=True):
                new[at] = part
        else:
            new = row + [""] * (width - len(row))
        for name, text in change.cells.items():
            new[self._at[name]] = text
        return new
