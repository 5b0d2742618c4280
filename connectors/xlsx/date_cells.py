"""Date cells that calamine reads wrong, found in the sheet's XML and read as LibreOffice shows them.

A date cell holds a serial number of days. calamine reads every serial below 1 as a time of day: a
date-formatted 0 (Excel shows ``1900-01-00``, LibreOffice ``1899-12-30``) comes out as ``00:00``, a negative
one (LibreOffice ``1899-12-29``) as ``00:00`` too, and in a workbook of the 1904 date system (``date1904``,
old Mac Excel) serial 0, ``1904-01-01``, as ``00:00``. Those cells read here as the date LibreOffice shows
(Excel shows none for them). Serial 60 of the 1900 system is Excel's 29 February 1900, a day that never was
(kept from Lotus 1-2-3); calamine reads it as 28 February, the day serial 59 is. No honest date exists for
it, so the cell reads as an :class:`~app.record_checks.UnreadableValue`: a record that a sync maps it into
fails alone, naming the cell.

Serials 1 to 59 (1 January to 28 February 1900) read as Excel shows them, as the file format defines them;
LibreOffice, which counts no 29 February, shows each one day earlier.

The search costs nothing on a sheet without date-formatted cells, and a C-speed pass over the XML pieces
that hold some: only a date-formatted cell whose number is below 1 (or is 60) is looked at in Python.
"""

from __future__ import annotations

import math
import re
import zipfile
from datetime import date, datetime, timedelta
from xml.etree import ElementTree

from connectors.base import UnreadableValue
from connectors.xlsx.workbook import column_index

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_BUILT_IN_DATES = frozenset({14, 15, 16, 17, 22, *range(27, 37), *range(50, 59)})
"""Excel's built-in number formats that show a date (``m/d/yyyy``, ``d-mmm-yy``, …), time-only ones left out."""
_NOT_FORMAT = re.compile(r'"[^"]*"|\\.|\[[^\]]*\]|_.|\*.')
"""The parts of a format code that are no date part: quoted text, escapes, ``[Red]``, spacing characters."""
_ZERO_1900 = datetime(1899, 12, 30)
"""The day LibreOffice counts the 1900 system from, with no 29 February 1900 (serial 61, 1 March, is the same)."""
_ZERO_1904 = datetime(1904, 1, 1)
_FICTITIOUS = 60
"""The 1900 system's serial of 29 February 1900."""


def is_1904(archive: zipfile.ZipFile) -> bool:
    """Whether the workbook counts its dates from 1904 (``<workbookPr date1904="1"/>``)."""
    workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    properties = workbook.find(f"{_MAIN}workbookPr")
    return properties is not None and properties.get("date1904", "").lower() in ("1", "true")


def date_styles(archive: zipfile.ZipFile) -> list[int]:
    """The indexes of the workbook's cell styles whose number format shows a date."""
    name = next((entry for entry in archive.namelist() if entry.lower() == "xl/styles.xml"), None)
    if name is None:
        return []
    styles = ElementTree.fromstring(archive.read(name))
    custom = {
        int(entry.get("numFmtId", "-1")): entry.get("formatCode", "")
        for entry in styles.iter(f"{_MAIN}numFmt")
        if entry.get("numFmtId", "").isdigit()
    }
    cell_styles = styles.find(f"{_MAIN}cellXfs")
    if cell_styles is None:
        return []
    found = []
    for index, style in enumerate(cell_styles.iter(f"{_MAIN}xf")):
        number_format = style.get("numFmtId", "0")
        if number_format.isdigit() and _shows_a_date(int(number_format), custom):
            found.append(index)
    return found


def _shows_a_date(number_format: int, custom: dict[int, str]) -> bool:
    if number_format in custom:
        code = _NOT_FORMAT.sub("", custom[number_format]).lower()
        return "y" in code or "d" in code or ("m" in code and "h" not in code and "s" not in code)
    return number_format in _BUILT_IN_DATES


class DateCells:
    """Finds, in pieces of one sheet's XML, the date cells calamine reads wrong, with their serial numbers.

    :param styles: the workbook's date styles (:func:`date_styles`)
    :param in_1904: whether the workbook counts from 1904
    """

    def __init__(self, styles: list[int], in_1904: bool) -> None:
        self.in_1904 = in_1904
        self._marks = [f's="{index}"'.encode() for index in styles]
        numbers = rb"-[^<]*|0|0\.[^<]*|[0-9.]+[eE]-[^<]*" + (b"" if in_1904 else rb"|60|60\.[^<]*")
        alternatives = "|".join(map(str, styles)).encode()
        # From the style attribute, not from the cell's start: SRE finds a pattern's leading text at C speed,
        # and a sheet's cells are mostly not date cells (each ``<c`` tried here cost ten times as much).
        self._pattern = re.compile(
            rb's="(?:' + alternatives + rb')"[^>]*>'
            rb"(?:<f\b[^>]*/>|<f\b[^>]*>[^<]*</f>)?<v>(" + numbers + rb")</v>"
        )

    def collect(self, body: bytes, found: dict[tuple[int, int], float]) -> None:
        """Add the cells of ``body`` (whole cells only) to ``found``, by (row, column) counting from 0."""
        if not any(mark in body for mark in self._marks):
            return
        for match in self._pattern.finditer(body):
            at = match.start()
            if _WORD.match(body, at - 1):
                continue  # ``xs="1"``: another attribute, not the style
            start = body.rfind(b"<", 0, at)  # attributes hold no ``<``: the start of the tag
            cell = _CELL.match(body, start) if start >= 0 else None
            if cell is None:
                continue  # a row's style, or another element's
            attributes, number = cell.group(1), match.group(1)
            place = _PLACE.search(attributes)
            kind = _KIND.search(attributes)
            if place is None or (kind is not None and kind.group(1) != b"n"):
                continue  # a text, boolean or error cell styled as a date: not a date
            try:
                serial = float(number)
            except ValueError:
                continue
            if not math.isfinite(serial):
                continue
            if serial < 1 or (not self.in_1904 and _FICTITIOUS <= serial < _FICTITIOUS + 1):
                letters, digits = place.groups()
                found[(int(digits) - 1, column_index(letters))] = serial


_PLACE = re.compile(rb'\br="([A-Z]{1,3})([0-9]{1,7})"')
_CELL = re.compile(rb"<c\b([^>]*)>")
_WORD = re.compile(rb"[A-Za-z0-9_]")
_KIND = re.compile(rb'\bt="([^"]*)"')


def cell_date(serial: float, in_1904: bool, where: str) -> date | datetime | UnreadableValue:
    """The date (a whole serial) or date and time LibreOffice shows for a cell that :class:`DateCells` found.

    :param where: the cell, in the user's words (``files/prices.xlsx, Prices!B7``)
    """
    if not in_1904 and serial >= _FICTITIOUS:
        shown = "1900-02-29" + ("" if serial.is_integer() else f" {_ZERO_1900 + timedelta(days=serial % 1):%H:%M:%S}")
        return UnreadableValue(
            shown,
            where,
            "Excel's 29 February 1900, a day that never was (Excel counts it for Lotus 1-2-3's sake, "
            "LibreOffice shows 1900-02-28): enter the real date in the cell",
        )
    try:
        milliseconds = round(serial * 86_400_000)  # calamine's precision
        moment = (_ZERO_1904 if in_1904 else _ZERO_1900) + timedelta(milliseconds=milliseconds)
    except OverflowError:
        return UnreadableValue(
            f"{serial:g}", where, "a date-formatted number before year 1, which no date holds: correct the cell"
        )
    return moment.date() if serial.is_integer() else moment
