"""Where a sheet's error cells are (``#DIV/0!``, ``#N/A``): calamine reads them as empty text, so they are found here.

An error cell is ``<c r="H2" t="e"><v>#DIV/0!</v></c>`` in the sheet's XML. The XML is streamed out of the
zip archive in chunks, and only chunks holding ``t="e"`` at all are searched further (a byte search at C
speed): a sheet without errors costs one decompression pass.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree

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


def error_cells(path: Path, sheet: str | None) -> dict[tuple[int, int], str]:
    """The error cells of ``sheet`` (the first when ``None``) by (row, column) counting from 0, each its error text.

    :raises zipfile.BadZipFile, KeyError, ElementTree.ParseError: when the workbook's parts are damaged
    """
    found: dict[tuple[int, int], str] = {}
    with zipfile.ZipFile(path) as archive:
        part = sheet_part(archive, sheet)
        if part is None:
            return found
        with archive.open(part) as xml:
            tail = b""
            while chunk := xml.read(_CHUNK):
                window = tail + chunk
                if _MARK in window:
                    _collect(window, found)
                tail = window[-_OVERLAP:]
    return found


def _collect(window: bytes, found: dict[tuple[int, int], str]) -> None:
    for match in _ERROR_CELL.finditer(window):
        reference = _REFERENCE.search(match.group(0))
        if reference is None:  # a writer that leaves out cell references: the cell cannot be placed
            continue
        letters, digits = reference.groups()
        value = _VALUE.search(match.group(1))
        text = value.group(1).decode("utf-8", "replace") if value else "#ERROR"
        found[(int(digits) - 1, _column_index(letters))] = text


def _column_index(letters: bytes) -> int:
    index = 0
    for letter in letters:
        index = index * 26 + letter - 64
    return index - 1
