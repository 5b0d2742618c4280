"""LibreOffice as the maker and judge of workbooks: ``soffice --headless --convert-to``.

Each call starts LibreOffice (seconds), so tests convert many files per call from session-scoped
fixtures. Every call has its own profile folder, so parallel runs never share one.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import cast
from xml.sax.saxutils import escape

import pytest

from app.record_checks import UnreadableValue
from tests.services import services_required

CSV_IMPORT = "CSV Text - txt - csv (StarCalc):44,34,76,1,,1033,true,true,false,false,false,-1,true"
"""Comma-separated UTF-8 from line 1, US English; quoted cells stay text (``"007"``); dates, times and
numbers detected; formulas (``=1/0``) evaluated."""
CSV_EXPORT = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true,false,false,-1"
"""Comma-separated UTF-8, cells as shown, every sheet to its own file ``NAME-SHEET.csv``."""


def soffice() -> str:
    """The ``soffice`` program; skips the test when LibreOffice is missing (fails under BRYGGA_REQUIRE_SERVICES=1)."""
    found = shutil.which("soffice")
    if found is not None:
        return found
    message = "LibreOffice (soffice) is not installed: apt-get install -y libreoffice-calc-nogui"
    if services_required():
        pytest.fail(f"{message}, and BRYGGA_REQUIRE_SERVICES=1 requires it")
    pytest.skip(message)


def convert(sources: Sequence[Path], to: str, outdir: Path, *, infilter: str | None = None) -> None:
    """Convert every one of ``sources`` in one LibreOffice run; output files land in ``outdir``."""
    program = soffice()
    with tempfile.TemporaryDirectory(prefix="lo-profile-") as profile:
        command = [program, f"-env:UserInstallation=file://{profile}", "--headless"]
        if infilter is not None:
            command.append(f"--infilter={infilter}")
        command += ["--convert-to", to, "--outdir", str(outdir), *map(str, sources)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr


def sheets_as_shown(workbooks: Sequence[Path], outdir: Path) -> dict[tuple[str, str], list[list[str]]]:
    """Every sheet of ``workbooks`` as LibreOffice shows its cells, by (workbook stem, sheet name)."""
    outdir.mkdir(parents=True, exist_ok=True)
    convert(workbooks, CSV_EXPORT, outdir)
    shown: dict[tuple[str, str], list[list[str]]] = {}
    for book in workbooks:
        for exported in outdir.glob(f"{book.stem}-*.csv"):
            with exported.open(encoding="utf-8", newline="") as text:
                shown[(book.stem, exported.stem[len(book.stem) + 1 :])] = list(csv.reader(text))
    return shown


def shows_as(value: object, text: str) -> bool:
    """Whether a record's ``value`` is what LibreOffice shows as ``text`` (US English formats)."""
    if value is None:
        return text == ""
    if isinstance(value, UnreadableValue):
        return text == value.text
    if isinstance(value, bool):
        return text == ("TRUE" if value else "FALSE")
    if isinstance(value, int | Decimal):
        try:
            return Decimal(text) == value
        except InvalidOperation:
            return False
    if isinstance(value, datetime):
        return text == value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return text == value.isoformat()
    if isinstance(value, time):
        return text == value.strftime("%I:%M:%S %p")
    return isinstance(value, str) and text == value


# --- flat OpenDocument spreadsheets (.fods), for what CSV cannot say ---------------------------------

Cell = str | int | float | None | tuple[str, object]
"""Text, a number, empty, or a tagged cell: ``("merge", (columns, rows, value))``, ``("bold", "text")``,
``("covered", None)`` (under a cell merged over rows)."""

_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<office:document '
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" '
    'xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'office:version="1.2" office:mimetype="application/vnd.oasis.opendocument.spreadsheet">'
    '<office:automatic-styles><style:style style:name="bold" style:family="table-cell">'
    '<style:text-properties fo:font-weight="bold"/></style:style></office:automatic-styles>'
    "<office:body><office:spreadsheet>"
)


def fods(sheets: dict[str, list[list[Cell]]]) -> str:
    """A flat OpenDocument spreadsheet with these sheets, in order."""
    body = "".join(
        f'<table:table table:name="{escape(name)}">{"".join(_row(row) for row in rows)}</table:table>'
        for name, rows in sheets.items()
    )
    return f"{_HEAD}{body}</office:spreadsheet></office:body></office:document>"


def _row(cells: list[Cell]) -> str:
    return f"<table:table-row>{''.join(_cell(cell) for cell in cells)}</table:table-row>"


def _cell(cell: Cell, style: str = "") -> str:
    if isinstance(cell, tuple):
        tag, content = cell
        if tag == "covered":
            return "<table:covered-table-cell/>"
        if tag == "bold":
            return _cell(cast(Cell, content), ' table:style-name="bold"')
        columns, rows, value = cast(tuple[int, int, Cell], content)
        spans = f' table:number-columns-spanned="{columns}" table:number-rows-spanned="{rows}"'
        return _cell(value).replace("<table:table-cell", f"<table:table-cell{spans}", 1) + (
            "<table:covered-table-cell/>" * (columns - 1)
        )
    if cell is None:
        return f"<table:table-cell{style}/>"
    if isinstance(cell, str):
        return f'<table:table-cell{style} office:value-type="string"><text:p>{escape(cell)}</text:p></table:table-cell>'
    return f'<table:table-cell{style} office:value-type="float" office:value="{cell}"/>'
