"""A sheet's XML read once before calamine loads it: how far its valued cells reach, and where its error cells are.

calamine holds a sheet as one block of cells from its first valued cell to its last, whatever lies between
(calamine issue 693): a workbook of a few kilobytes with a value in cell XFD1048576 asks for 17 billion cells,
and the failed allocation aborts the process, with no exception to catch (a ``brygga serve`` would be gone,
every sync with it). Excel's Solver leaves such far cells in real workbooks too. The survey bounds the
block first, so a sheet too large to hold is refused with a message, and the rest of the project runs on.

It costs one pass over the sheet's XML, at C speed in the common case: cells written ``<c r="B2" …>`` (as
Excel, LibreOffice and openpyxl write them) and none beyond column Z or row 99,999 need no Python work per
cell. Anything else (cells reaching further, cells without a reference or written another way) is looked at
cell by cell, and only then.

An error cell (``#DIV/0!``, ``#N/A``) is ``<c r="H2" t="e"><v>#DIV/0!</v></c>``: calamine reads it as empty
text, so it is found here as well, like the date cells calamine reads wrong (:mod:`.date_cells`).
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from xml.etree import ElementTree

from connectors.xlsx import date_cells, sheet_text
from connectors.xlsx.workbook import XlsxFile, column_index

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_RELATIONSHIP = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_PACKAGE_RELS = "{http://schemas.openxmlformats.org/package/2006/relationships}"

_CHUNK = 1 << 18
_OVERLAP = 1 << 16
"""Bytes of one chunk kept for the next: an error cell cut at a chunk's end is whole in the next search."""
_MARK = b't="e"'
_ERROR_CELL = re.compile(rb'<c\b[^>]*\bt="e"[^>]*>(.*?)</c>', re.DOTALL)
_REFERENCE = re.compile(rb'\br="([A-Z]{1,3})([0-9]{1,7})"')
_VALUE = re.compile(rb"<v>([^<]*)</v>")


def sheet_part(archive: zipfile.ZipFile, sheet: str | None) -> str | None:
    """The name of ``sheet``'s XML part in the archive (the first sheet's when ``None``); ``None`` if not found."""
    workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    sheets = workbook.findall(f"{_MAIN}sheets/{_MAIN}sheet")
    chosen = next((entry for entry in sheets if sheet is None or entry.get("name") == sheet), None)
    if chosen is None:
        return None
    relations = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    wanted = chosen.get(_RELATIONSHIP)
    for relation in relations.iter(f"{_PACKAGE_RELS}Relationship"):
        if relation.get("Id") == wanted:
            target = relation.get("Target", "")
            return target.lstrip("/") if target.startswith("/") else posixpath.normpath(f"xl/{target}")
    return None


MAX_CELLS = 50_000_000
"""The most cells a sheet's block may hold (all of Excel's 1,048,576 rows at 47 columns; ~1.6 GB in calamine)."""
_FAR = re.compile(rb"""r\s*=\s*["']([A-Za-z]{2,}[0-9]+|[A-Za-z]*[0-9]{6,})["']""")
"""A reference beyond column Z or row 99,999, wherever and however it is written (calamine takes either case,
either quotes, spaces around ``=``, and a cell's last ``r`` where it has two): no match at all in most sheets.
References beyond Excel's last row and column count too: calamine takes ``ZZZZ99999999``, and asked for a
block of that reach."""
_FARTHEST = 1 << 40
"""A row or column index that stands for any beyond it: past :data:`MAX_CELLS` alone, so a reference of
thousands of digits is refused without being computed (which would take time of its own)."""
_NEAR_ROWS, _NEAR_COLUMNS = 99_999, 26
_UNREFERENCED = re.compile(rb'<c(?! r="[A-Z]{1,3}[0-9]{1,7}")[\s/>]')
"""A cell whose first attribute is not its reference, or that has none: calamine places one without a
reference after the cell before it, so such cells are placed one by one (the C-speed bound cannot)."""
_PREFIXED = re.compile(rb"<[\w.-]+:c[\s/>]")
"""A cell with a namespace prefix (``<x:c …>``), which calamine reads as a cell too."""
_PLACE = re.compile(rb"([A-Za-z]+)([0-9]+)")
_R = re.compile(rb"""(?<![\w:.-])r\s*=\s*(["'])([^"']*)\1""")

_TAG = re.compile(rb"""<(?:[\w.-]+:)?(row|c)(?=[\s/>])((?:[^>"']|"[^"]*"|'[^']*')*)>""")
"""A row's or cell's start tag, quoted values and all (they may hold ``>``)."""


@dataclass
class SheetSurvey:
    """What the survey of one sheet found.

    :param errors: the error cells by (row, column) counting from 0, each its error text
    :param block: at least as many cells as calamine's block of the sheet holds
    """

    errors: dict[tuple[int, int], str] = field(default_factory=dict)
    block: int = 0
    text: int = 0
    """At least as many bytes as the sheet's text cells hold once read (see :mod:`.sheet_text`)."""
    dates: dict[tuple[int, int], float] = field(default_factory=dict)
    """The date cells calamine reads wrong, by (row, column) counting from 0, each its serial number (see
    :mod:`.date_cells`)."""
    in_1904: bool = False
    """Whether the workbook counts its dates from 1904."""


def survey_sheet(path: Path, sheet: str | None) -> SheetSurvey:
    """Survey ``sheet`` (the first when ``None``).

    :raises zipfile.BadZipFile, KeyError, ElementTree.ParseError: when the workbook's parts are damaged
    """
    survey = SheetSurvey()
    with zipfile.ZipFile(path) as archive:
        part = sheet_part(archive, sheet)
        if part is None:
            return survey
        rows, columns, odd, size = _NEAR_ROWS, _NEAR_COLUMNS, False, 0
        survey.in_1904 = date_cells.is_1904(archive)
        styles = date_cells.date_styles(archive)
        dates = date_cells.DateCells(styles, survey.in_1904) if styles else None
        with archive.open(part) as xml:
            for body in _bodies(xml):
                if dates is not None:
                    dates.collect(body, survey.dates)
                if _MARK in body:
                    _collect(body, survey.errors)
                if _SHARED_MARK in body:
                    _collect_bad_shared(body, survey.errors)
                size += len(body)
                odd = odd or _UNREFERENCED.search(body) is not None
                odd = odd or (b":c" in body and _PREFIXED.search(body) is not None)
                for reference in _FAR.findall(body):
                    place = _PLACE.fullmatch(reference)
                    if place is None:  # a row's number
                        rows = max(rows, _row_number(reference))
                    else:
                        rows = max(rows, _row_number(place.group(2)))
                        columns = max(columns, _column_index(place.group(1).upper()) + 1)
        survey.block = rows * columns
        if odd or survey.block > MAX_CELLS:
            with archive.open(part) as xml:
                survey.block = _exact_block(xml)
        survey.text = sheet_text.held_text(archive, part, size)
    return survey


MAX_TARGET_CELLS = 2_000_000
"""The most cells (of every sheet) a workbook Brygga writes into may hold: openpyxl, which rewrites it, holds
each cell written in it, values and formatting alike, as ~500 bytes of objects (a target of a million rows
of five columns took 2.6 GB and two minutes for one record)."""
_CELL_TAGS = (b"<c ", b"<c>", b"<c/", b"<c\t", b"<c\n", b"<c\r", b":c ", b":c>", b":c/")


def count_cells(path: Path) -> int:
    """The cells written in all of the workbook's sheets (formatting-only cells too: openpyxl keeps them),
    counted at C speed over each sheet's XML, up to just past :data:`MAX_TARGET_CELLS`."""
    cells = 0
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if not name.lower().startswith("xl/worksheets/") or not name.lower().endswith(".xml"):
                continue
            with archive.open(name) as xml:
                for body in _bodies(xml):
                    cells += sum(body.count(tag) for tag in _CELL_TAGS)
                    if cells > MAX_TARGET_CELLS:
                        return cells
    return cells


def check_target_size(file: XlsxFile) -> None:
    """:raises XlsxFileError: when the workbook holds more cells than Brygga rewrites (:data:`MAX_TARGET_CELLS`)"""
    cells = count_cells(file.path)
    if cells > MAX_TARGET_CELLS:
        raise file.error(
            f"the workbook holds more than {MAX_TARGET_CELLS:,} cells (in all its sheets, formatting-only cells "
            "included), and Brygga rewrites a target workbook whole, in memory: write into a smaller workbook "
            "(delete rows, sheets or formatting beyond the data), or use a csv or sql target for data of this size"
        )


def check_reach(file: XlsxFile, sheet: str | None, survey: SheetSurvey) -> None:
    """:raises XlsxFileError: when the sheet's block is larger than :data:`MAX_CELLS`, or its text cells would
    hold more than :data:`~.sheet_text.MAX_SHEET_TEXT`, saying how to mend it"""
    most_text = sheet_text.MAX_SHEET_TEXT
    if survey.text > most_text:
        raise file.error(
            f"{'the first sheet' if sheet is None else f'sheet {sheet!r}'} holds too much text to be read: its "
            f"text cells would hold about {survey.text >> 20:,} MB once read (a text named by many cells counts in "
            f"each), and Brygga reads at most {most_text >> 20:,} MB; a workbook made to exhaust memory, or "
            "one long text copied into many cells: shorten it in Excel and save, or ask its sender for another"
        )
    if survey.block > MAX_CELLS:
        raise file.error(
            f"{'the first sheet' if sheet is None else f'sheet {sheet!r}'} reaches too far to be read: from its "
            f"first cell with a value to its last, it spans {survey.block:,} cells, and Brygga reads at most "
            f"{MAX_CELLS:,}. Usually a value was left far below or right of the data (in Excel, Ctrl+End goes to "
            "the last cell): delete the rows and columns beyond the data, or copy the data to a new sheet, and save"
        )


def _bodies(xml: IO[bytes]) -> Iterator[bytes]:
    """The XML in pieces that end before a cell's start (before a tag's, where a cell is longer than
    :data:`_OVERLAP`): no tag, and no cell short of that, is cut in two."""
    carry = b""
    while chunk := xml.read(_CHUNK):
        window = carry + chunk
        cut = window.rfind(b"<c")
        if cut <= 0 or len(window) - cut > _OVERLAP:
            cut = window.rfind(b"<")
        if cut <= 0:
            cut = len(window)
        yield window[:cut]
        carry = window[cut:]
    if carry:
        yield carry


def _exact_block(xml: IO[bytes]) -> int:
    """The cells of calamine's block, every cell placed as calamine places it (by its reference, else after
    the cell before it in its row); cells that end at once (``<c r="B2" s="1"/>``) left out as calamine leaves
    them out. Stops once the cells alone are more than :data:`MAX_CELLS`."""
    first_row = first_column = _FARTHEST
    last_row = last_column = -1
    row, column, cells = -1, 0, 0
    for body in _bodies(xml):
        for name, attributes in _TAG.findall(body):
            references = _R.findall(attributes)
            reference = references[-1][1] if references else b""  # calamine takes the last
            if name == b"row":
                row, column = (_row_number(reference) - 1 if reference.isdigit() else row + 1), 0
                continue
            cells += 1
            place = _PLACE.fullmatch(reference)
            if place is not None:
                row, column = _row_number(place.group(2)) - 1, _column_index(place.group(1).upper())
            if not attributes.endswith(b"/"):  # a cell that ends at once is empty: calamine leaves it out
                first_row, last_row = min(first_row, row), max(last_row, row)
                first_column, last_column = min(first_column, column), max(last_column, column)
            column += 1
        if cells > MAX_CELLS:
            return cells
    if last_row < 0:
        return 0
    return (last_row - first_row + 1) * (last_column - first_column + 1)


_SHARED_MARK = b't="s"'
_BAD_SHARED = re.compile(rb'<c\b[^>]*\bt="s"[^>]*>\s*<v>(?![0-9]{1,10}</v>)([^<]{0,40})')
"""A shared-text cell whose index is no number (``<v>x</v>``, ``<v>-1</v>``): calamine reads it as the first
shared text, silently (often the header's first name). Found here, its record fails alone, naming the cell."""


def _collect_bad_shared(window: bytes, found: dict[tuple[int, int], str]) -> None:
    for match in _BAD_SHARED.finditer(window):
        reference = _REFERENCE.search(match.group(0))
        if reference is not None:
            letters, digits = reference.groups()
            shown = match.group(1).decode("utf-8", "replace")
            found[(int(digits) - 1, _column_index(letters))] = f"a damaged cell: its shared text index is {shown!r}"


def _collect(window: bytes, found: dict[tuple[int, int], str]) -> None:
    for match in _ERROR_CELL.finditer(window):
        reference = _REFERENCE.search(match.group(0))
        if reference is None:  # a writer that leaves out cell references: the cell cannot be placed
            continue
        letters, digits = reference.groups()
        value = _VALUE.search(match.group(1))
        text = value.group(1).decode("utf-8", "replace") if value else "#ERROR"
        found[(int(digits) - 1, _column_index(letters))] = text


def _row_number(digits: bytes) -> int:
    return int(digits) if len(digits) <= 12 else _FARTHEST


def _column_index(letters: bytes) -> int:
    return _FARTHEST if len(letters) > 8 else column_index(letters)
