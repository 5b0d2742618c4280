"""Reading a stream's sheet as records or keys, a batch at a time.

calamine holds the sheet's cells (not the file's other sheets); rows become Python values one at a time,
so a large sheet is never a list of records in memory.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import date, datetime, time
from itertools import islice, repeat
from typing import Any, TypeVar

import python_calamine

from connectors.base import Record, UnreadableValue, format_key
from connectors.table_file.messages import columns_are, quoted
from connectors.xlsx.date_cells import cell_date
from connectors.xlsx.sheet_survey import check_reach, survey_sheet
from connectors.xlsx.values import column_values, header_name, record_value
from connectors.xlsx.workbook import (
    EmptySheetError,
    XlsxFile,
    cell_name,
    check_is_workbook,
    errors_translated,
)

log = logging.getLogger(__name__)
_T = TypeVar("_T")


class Header:
    """A sheet's header row: its column names and where they are.

    :param names: by column index (counting from 0 at the sheet's first used column), the named columns
    """

    def __init__(self, file: XlsxFile, sheet: str, cells: Sequence[Any], first_column: int) -> None:
        self.file = file
        names = [header_name(value) for value in cells]
        while names and names[-1] is None:
            names.pop()
        row = file.header_row - 1
        if not names:
            raise file.error(
                f"the header row (row {file.header_row}) is blank: it must name the columns "
                "(or set the stream's `header_row` to the row that does)",
                sheet=sheet,
            )
        if None in names:
            at = names.index(None)
            raise file.error(
                "this header cell is blank, between named columns: name the column, or delete it",
                sheet=sheet,
                cell=cell_name(row, first_column + at),
            )
        twice = sorted(name for name, count in Counter(names).items() if name is not None and count > 1)
        if twice:
            problem = f"the header names {quoted(twice)} more than once: give each column its own name"
            raise file.error(f"sheet {sheet!r}: {problem}")
        self.names: list[str] = [name for name in names if name is not None]
        self.first_column = first_column

    def positions(self, key: Sequence[str], sheet: str) -> list[int]:
        """The positions of the key columns. :raises XlsxFileError: naming the missing ones and those there are"""
        if missing := [name for name in key if name not in self.names]:
            raise self.file.error(
                f"the {columns_are(missing, 'key column')} not in the header (row {self.file.header_row}) of "
                f"sheet {sheet!r}; its columns are: {quoted(self.names)}"
            )
        return [self.names.index(name) for name in key]


class SheetScan:
    """One pass over a sheet's data rows, in sheet order; the workbook opens on the first call.

    Rows with no value are skipped. Error cells (``#DIV/0!``) read as
    :class:`~app.record_checks.UnreadableValue`, so only a record that a sync maps them into fails; an
    error in a key cell leaves the record without a key. Cells past the header's last column are dropped,
    and one warning at the end says how many rows had some.

    Each method blocks: call them from one worker thread at a time, then :meth:`close`.

    :raises XlsxFileError: when the file is missing, not a workbook, lacks the sheet or a key column
    """

    def __init__(self, file: XlsxFile, key: Sequence[str]) -> None:
        self.file = file
        self.key = tuple(key)
        self.header: Header | None = None
        self.sheet_name = file.sheet or ""
        self._workbook: python_calamine.CalamineWorkbook | None = None
        self._rows: Iterator[tuple[int, list[Any]]] = iter(())
        self._positions: list[int] = []
        self._errors: dict[int, dict[int, UnreadableValue]] = {}
        self._dates: dict[int, dict[int, date | datetime | UnreadableValue]] = {}
        self._wide = 0

    def open(self) -> Header:
        """Open the workbook, find the sheet and read its header row."""
        if self.header is None:
            with errors_translated(self.file):
                self._open()
        assert self.header is not None
        return self.header

    def records(self, size: int) -> list[Record] | None:
        """The next (at most) ``size`` records, or ``None`` at the end of the sheet."""
        rows = self._next_rows(size)
        return None if not rows else self._records(rows)

    def keys(self, size: int) -> list[str] | None:
        """The keys of the next (at most) ``size`` rows, rows without a key left out; ``None`` at the end."""
        rows = self._next_rows(size)
        if not rows:
            return None
        keys = (self._key_of(self._record(number, row)) for number, row in rows)
        return [key for key in keys if key is not None]

    def find(self, wanted: dict[str, str]) -> dict[str, Record]:
        """The records whose key is in ``wanted`` (key text → the caller's text), by the caller's text.

        Reads the whole sheet, then closes it. A workbook that is not there (a target that its first
        write will create) has no records.
        """
        found: dict[str, Record] = {}
        if not self.file.path.exists():
            return found
        try:
            while rows := self._next_rows(1000):
                for number, row in rows:
                    record = self._record(number, row)
                    key = self._key_of(record)
                    if key is not None and key in wanted:
                        found[wanted[key]] = record
        finally:
            self.close()
        return found

    def close(self) -> None:
        if self._workbook is not None:
            self._workbook.close()
            self._workbook = None
        if self._wide:
            log.warning(
                "%s: %d row(s) of sheet %r had values right of the header's last column; they were ignored",
                self.file.shown,
                self._wide,
                self.sheet_name,
            )
            self._wide = 0

    # --- rows -----------------------------------------------------------------

    def _next_rows(self, size: int) -> list[tuple[int, list[Any]]]:
        self.open()
        with errors_translated(self.file):
            return list(islice(self._rows, size))

    def _records(self, rows: list[tuple[int, list[Any]]]) -> list[Record]:
        """The rows' records, converted column by column (see :func:`column_values`) when all are as wide."""
        assert self.header is not None
        names = self.header.names
        cells = [row for _, row in rows]
        widths = set(map(len, cells))
        if len(widths) != 1 or widths.pop() < len(names):
            return [self._record(number, row) for number, row in rows]
        columns = [column_values(column) for column in list(zip(*cells, strict=True))[: len(names)]]
        # every column is as long as the batch: zip's strictness would cost a fifth of building the dicts
        records: list[Record] = list(map(dict, map(zip, repeat(names), zip(*columns, strict=False))))
        if self._errors or self._dates:
            for (number, _), record in zip(rows, records, strict=True):
                if number in self._errors or number in self._dates:
                    self._mark_cells(record, number)
        return records

    def _record(self, number: int, row: list[Any]) -> Record:
        assert self.header is not None
        record = dict(zip(self.header.names, map(record_value, row), strict=False))
        if len(row) < len(self.header.names):
            record.update(dict.fromkeys(self.header.names[len(row) :]))
        if number in self._errors or number in self._dates:
            self._mark_cells(record, number)
        return record

    def _mark_cells(self, record: Record, number: int) -> None:
        """Put the values the survey found in place of what calamine read for the row's error and date cells."""
        assert self.header is not None
        names = self.header.names
        for at, value in self._errors.get(number, {}).items():
            if at < len(names):
                record[names[at]] = None if names[at] in self.key else value
        for at, day in self._dates.get(number, {}).items():
            # only where calamine too read a date or time: a format it takes for a number stays a number
            if at < len(names) and isinstance(record[names[at]], date | time):
                unreadable = isinstance(day, UnreadableValue)
                record[names[at]] = None if unreadable and names[at] in self.key else day

    def _key_of(self, record: Record) -> str | None:
        values = [record[name] for name in self.key]
        return None if any(value is None for value in values) else format_key(values)

    def _open(self) -> None:
        check_is_workbook(self.file)
        workbook = python_calamine.CalamineWorkbook.from_path(self.file.path)
        try:
            self._read_header(workbook)
        except BaseException:
            workbook.close()
            raise
        self._workbook = workbook

    def _read_header(self, workbook: python_calamine.CalamineWorkbook) -> None:
        if self.file.sheet is not None and self.file.sheet not in workbook.sheet_names:
            raise self.file.error(
                f"the workbook has no sheet named {self.file.sheet!r}; its sheets are: {quoted(workbook.sheet_names)}"
            )
        if not workbook.sheet_names:
            raise self.file.error("the workbook has no sheets: open it in Excel and save it again")
        name = workbook.sheet_names[0] if self.file.sheet is None else self.file.sheet
        # Surveyed before calamine loads it: a sheet too large to hold must never reach calamine (see
        # connectors/xlsx/sheet_survey.py); the survey finds the error cells on the way.
        survey = survey_sheet(self.file.path, name)
        check_reach(self.file, name, survey)
        sheet = workbook.get_sheet_by_name(name)
        self.sheet_name = sheet.name
        if sheet.start is None:
            raise EmptySheetError(
                self.file.shown, f"sheet {sheet.name!r} is empty: it needs a header row naming its columns"
            )
        start = sheet.start
        header_at = self.file.header_row - 1
        skip = header_at - start[0]
        rows = sheet.iter_rows()
        cells = [] if skip < 0 else next(islice(rows, skip, None), [])
        self.header = Header(self.file, sheet.name, cells, start[1])
        self._positions = self.header.positions(self.key, sheet.name)
        errors = {at: UnreadableValue(text, self._where(*at)) for at, text in survey.errors.items()}
        dates = {at: cell_date(serial, survey.in_1904, self._where(*at)) for at, serial in survey.dates.items()}
        self._errors = self._by_row(errors, start[1])
        self._dates = self._by_row(dates, start[1])
        self._rows = self._data_rows(rows, header_at + 1)

    def _by_row(self, cells: dict[tuple[int, int], _T], first_column: int) -> dict[int, dict[int, _T]]:
        """The data rows' ``cells`` by row number, then by column counting from the header's first."""
        by_row: dict[int, dict[int, _T]] = {}
        for (row, column), value in cells.items():
            if row >= self.file.header_row:
                by_row.setdefault(row, {})[column - first_column] = value
        return by_row

    def _where(self, row: int, column: int) -> str:
        return f"{self.file.shown}, {self.sheet_name}!{cell_name(row, column)}"

    def _data_rows(self, rows: Iterator[list[Any]], first: int) -> Iterator[tuple[int, list[Any]]]:
        assert self.header is not None
        width = len(self.header.names)
        errors = self._errors
        for number, row in enumerate(rows, start=first):  # empty cells counted at C speed: once per row
            if row.count("") == len(row) and number not in errors:
                continue
            if len(row) > width and row[width:].count("") != len(row) - width:
                self._wide += 1
            yield number, row
