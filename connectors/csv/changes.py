"""What a batch of writes does to a CSV file's rows: one change per key, applied as the rows stream past.

The rules of folding writes by key are in :mod:`connectors.table_file.changes`; here a record's values
become text that the file's encoding can hold.
"""

from __future__ import annotations

import base64
import csv
import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, time, timedelta
from decimal import Decimal
from typing import Any

from connectors.base import Record, duration_text, key_text
from connectors.csv.files import CsvFile, CsvFileError, row_key
from connectors.table_file.changes import Change, KeyedChanges
from connectors.table_file.messages import columns_are, quoted


def cell_text(value: Any) -> str:
    """A value as the text of its cell: ``None`` → empty, ``True`` → ``true``, decimals plain, dates and
    durations ISO 8601;
    lists and mappings as JSON (what another program reads back, not Python's spelling), bytes as base64."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):  # plain, but never a million digits for 1E+1000000: as a key's text
        return key_text(value)
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):  # ISO 8601 (PT100H), not Python's "4 days, 4:00:00"
        return duration_text(value)
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_in_json)
    if isinstance(value, set | frozenset):  # a MariaDB SET: a,b as the database spells it, not {'b', 'a'}
        return ",".join(sorted(map(cell_text, value)))
    return str(value)


def _in_json(value: Any) -> Any:
    """A value inside a list or mapping, as JSON holds it: text, as its own cell would be."""
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    return cell_text(value)


class WritePlan(KeyedChanges[str]):
    """A batch of writes against one file's header, ready to apply to its rows as they stream past.

    :param header: the file's columns (for a file not yet there, the columns it will be created with)
    :param key: the stream's key columns
    """

    def __init__(self, file: CsvFile, header: Sequence[str], key: Sequence[str]) -> None:
        super().__init__(key)
        self.file = file
        self.header = list(header)
        self._at = {name: at for at, name in enumerate(self.header) if name}
        self._key_at = [self._at[name] for name in self.key]

    def rows(self, rows: Iterable[list[str]]) -> Iterator[list[str]]:
        """The file's new rows: ``rows`` with the changes applied, then the rows of keys not found."""
        for row in rows:
            key = row_key(row, self._key_at)
            change = None if key is None else self.changes.get(key)
            if change is None:
                yield row
                continue
            change.found = True
            if not change.delete:
                yield self._applied(change, row)
        for change in self.changes.values():
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
        most = csv.field_size_limit()
        if len(text) > most:  # the reader would refuse the whole file from then on: this record fails alone
            raise CsvFileError(
                self.file.shown,
                f"field '{name}' is {len(text):,} characters long; a CSV cell that Brygga reads back holds at most "
                f"{most:,}: shorten the value in the mapping (a `truncate:N` transform) or in the source",
            )
        try:
            text.encode(self.file.encoding)
        except UnicodeEncodeError as exc:
            bad = text[exc.start : exc.end]
            raise CsvFileError(
                self.file.shown, f"field '{name}': {bad!r} cannot be written in {self.file.encoding}"
            ) from exc
        return text

    def _key_part(self, cell: str) -> str:
        return cell

    def _error(self, problem: str) -> CsvFileError:
        return CsvFileError(self.file.shown, problem)

    # --- applying ------------------------------------------------------------

    def _applied(self, change: Change[str], row: list[str]) -> list[str]:
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
