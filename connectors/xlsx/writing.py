"""Applying a batch of writes to a stream's sheet with openpyxl: check each write, then save the workbook once.

The workbook is loaded whole (its other sheets, styles, column widths, formulas and the header row's
formatting stay as they are), changed by key, and saved to a temporary file in the same folder that is then
renamed onto it (:mod:`connectors.xlsx.rewrite`). Writes fold by key as every file kind's do
(:mod:`connectors.table_file.changes`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import openpyxl
from openpyxl.cell.cell import Cell
from openpyxl.utils import get_column_letter, range_boundaries
from openpyxl.worksheet.worksheet import Worksheet

from connectors.base import Record, Write, WriteResult, format_key, key_text
from connectors.table_file.changes import Change, KeyedChanges, new_columns
from connectors.table_file.messages import columns_are, quoted
from connectors.table_file.replace import file_lock
from connectors.xlsx.rewrite import save_atomically
from connectors.xlsx.sheet_survey import check_reach, check_target_size, survey_sheet
from connectors.xlsx.values import CellValueError, cell_value, header_name, record_value
from connectors.xlsx.workbook import (
    WorkbookOpenError,
    XlsxFile,
    XlsxFileError,
    check_is_workbook,
    check_writable,
    errors_translated,
    lock_file,
)

DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
"""How a date and time written into a cell without a date format of its own shows (ISO 8601, 24 hours)."""
_OPENPYXL_DATETIME = "yyyy-mm-dd h:mm:ss"


def write_batch(
    file: XlsxFile, key: Sequence[str], writes: Sequence[Write], new_header: Sequence[str] | None
) -> list[WriteResult]:
    """Apply ``writes`` to ``file``'s sheet in one atomic save; one result per write, in order. Blocks.

    A write that cannot be applied (no key, an unknown column, a value no cell holds) fails alone. When
    the workbook itself cannot be saved, nothing is written and the error is raised.

    :param new_header: the columns of a workbook or sheet that does not exist yet, in order
    :raises WorkbookOpenError: when someone has the workbook open (its lock file is beside it)
    :raises XlsxFileError: when the workbook cannot be read or its folder cannot be written (permanent)
    """
    check_writable(file)
    if (lock := lock_file(file.path)) is not None:
        raise WorkbookOpenError(file.shown, lock.name)
    with file_lock(file.path), errors_translated(file):
        exists = file.path.exists()
        if exists:
            check_is_workbook(file)
            check_reach(file, file.sheet, survey_sheet(file.path, file.sheet))  # openpyxl's rows span the block
            check_target_size(file)
            read_from = file.path.stat()
            with file.path.open("rb") as raw:  # openpyxl leaves its own file open when the workbook is damaged
                workbook = openpyxl.load_workbook(raw)
        else:
            read_from, workbook = None, openpyxl.Workbook()
        sheet = _sheet(file, workbook, created=not exists)
        header = _header(file, sheet, new_header or new_columns(key, writes))
        plan = _Plan(file, header, key)
        results = [plan.result(write) for write in writes]
        if not plan.empty:
            plan.apply(sheet)
            save_atomically(file, workbook, read_from=read_from)
        return results


def _sheet(file: XlsxFile, workbook: openpyxl.Workbook, *, created: bool) -> Worksheet:
    if created:
        sheet = workbook.active
        assert isinstance(sheet, Worksheet)
        sheet.title = file.sheet or "Sheet1"
        return sheet
    if file.sheet is None:
        first = workbook.worksheets[0]
        assert isinstance(first, Worksheet)
        return first
    if file.sheet not in workbook.sheetnames:
        raise file.error(
            f"the workbook has no sheet named {file.sheet!r}; its sheets are: {quoted(workbook.sheetnames)}"
        )
    found = workbook[file.sheet]
    if not isinstance(found, Worksheet):
        raise file.error(f"{file.sheet!r} is a chart sheet, not a sheet of cells")
    return found


def _header(file: XlsxFile, sheet: Worksheet, new_header: Sequence[str]) -> list[str | None]:
    """The header row's names by column (``None`` for a blank cell); written first into an empty sheet."""
    row = file.header_row
    names = [header_name(cell.value) for cell in sheet[row]] if sheet.max_row >= row else []
    while names and names[-1] is None:
        names.pop()
    if not names:
        for at, name in enumerate(new_header, start=1):
            sheet.cell(row=row, column=at, value=name)
        return list(new_header)
    return names


class _Plan(KeyedChanges[Any]):
    """A batch of writes against one sheet's header, folded into one change per key."""

    def __init__(self, file: XlsxFile, header: list[str | None], key: Sequence[str]) -> None:
        super().__init__(key)
        self.file = file
        self.header = header
        self.at = {name: at for at, name in enumerate(header) if name is not None}
        if missing := [name for name in self.key if name not in self.at]:
            named = [name for name in header if name is not None]
            raise file.error(
                f"the {columns_are(missing, 'key column')} not in the header (row {file.header_row}); "
                f"its columns are: {quoted(named)}"
            )

    def _cells(self, record: Record) -> dict[str, Any]:
        if unknown := [name for name in record if name not in self.at]:
            named = [name for name in self.header if name is not None]
            columns = f"{columns_are(unknown)} not in the sheet's header; its columns are: {quoted(named)}"
            raise self.file.error(f"{columns} (Brygga never adds columns)")
        cells: dict[str, Any] = {}
        for name, value in record.items():
            try:
                cells[name] = cell_value(value)
            except CellValueError as exc:
                raise self.file.error(f"field '{name}': {exc}") from exc
        return cells

    def _key_part(self, cell: Any) -> str:
        return "" if cell is None or cell == "" else key_text(cell)

    def _error(self, problem: str) -> XlsxFileError:
        return self.file.error(problem)

    # --- applying ----------------------------------------------------------------

    def apply(self, sheet: Worksheet) -> None:
        """Change the sheet: rows of changed keys in place, deleted rows out, new rows after the last one."""
        self._unmerge_rows(sheet)
        rows = self._rows_by_key(sheet)
        doomed: list[int] = []
        last = self._last_row(sheet)
        for text, change in self.changes.items():
            found = rows.get(text, [])
            if change.delete:
                doomed += found
                continue
            if not found:
                last += 1
                self._fill(sheet, last, change, fresh=True)
            for number in found:
                self._fill(sheet, number, change, fresh=change.fresh)
        for number in sorted(set(doomed), reverse=True):
            sheet.delete_rows(number)
        self._fit_tables(sheet)

    def _unmerge_rows(self, sheet: Worksheet) -> None:
        """Merged cells that reach below the header are split: each row is a record of its own, written cell
        by cell (openpyxl refuses a value for the covered cells, and failed the whole write). The first cell
        keeps the value, as a reader sees it; merged titles above the header stay."""
        for merged in list(sheet.merged_cells.ranges):
            if merged.max_row > self.file.header_row:
                sheet.unmerge_cells(merged.coord)

    def _fit_tables(self, sheet: Worksheet) -> None:
        """Stretch each Excel table ("Format as Table") and filter that starts at the header row over the rows
        now there, so rows Brygga adds are in the table, and a table never covers rows that are gone."""
        last = max(self._last_row(sheet), self.file.header_row + 1)  # a table keeps one data row, if empty
        for table in sheet.tables.values():
            table.ref = self._fitted(table.ref, last)
            if table.autoFilter is not None and table.autoFilter.ref:
                table.autoFilter.ref = self._fitted(table.autoFilter.ref, last)
        if sheet.auto_filter.ref:
            sheet.auto_filter.ref = self._fitted(sheet.auto_filter.ref, last)

    def _fitted(self, ref: str, last: int) -> str:
        first_column, first_row, last_column, _ = range_boundaries(ref)
        if first_row != self.file.header_row or first_column is None or last_column is None:
            return ref
        return f"{get_column_letter(first_column)}{first_row}:{get_column_letter(last_column)}{last}"

    def _rows_by_key(self, sheet: Worksheet) -> dict[str, list[int]]:
        positions = [self.at[name] + 1 for name in self.key]
        found: dict[str, list[int]] = {}
        first = self.file.header_row + 1
        for number, row in enumerate(sheet.iter_rows(min_row=first, values_only=True), start=first):
            values = [record_value(row[at - 1]) if at - 1 < len(row) else None for at in positions]
            if any(value is None for value in values):
                continue
            found.setdefault(format_key(values), []).append(number)
        return found

    def _last_row(self, sheet: Worksheet) -> int:
        """The last row with a value (openpyxl's ``max_row`` counts rows that only have formatting)."""
        for number in range(sheet.max_row, self.file.header_row, -1):
            if any(cell.value is not None for cell in sheet[number]):
                return number
        return self.file.header_row

    def _fill(self, sheet: Worksheet, number: int, change: Change[Any], *, fresh: bool) -> None:
        if fresh:
            for at in self.at.values():
                sheet.cell(row=number, column=at + 1).value = None
            for name, part in zip(self.key, change.key_parts, strict=True):
                _set(sheet.cell(row=number, column=self.at[name] + 1), part)
        for name, value in change.cells.items():
            _set(sheet.cell(row=number, column=self.at[name] + 1), value)


def _set(cell: Cell, value: Any) -> None:
    """Write ``value`` (from :func:`~connectors.xlsx.values.cell_value`) into ``cell``, keeping its formatting."""
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"  # text, even when it starts with "=": never a formula from a record
    elif isinstance(value, datetime) and cell.number_format == _OPENPYXL_DATETIME:
        cell.number_format = DATETIME_FORMAT
