"""A sheet whose cells reach too far is refused before calamine holds it: a few kilobytes must not end the process.

calamine holds a sheet as one block from its first valued cell to its last and aborts the process when that
block cannot be allocated (calamine issue 693). Each hostile way of writing a far cell below aborted
``python_calamine`` before the survey (connectors/xlsx/sheet_survey.py) was added; the reads that reach
calamine run in a subprocess with its address space bounded, so a regression fails here, not the machine.
"""

from __future__ import annotations

import io
import resource
import sqlite3
import subprocess
import zipfile
from pathlib import Path

import openpyxl
import pytest
import python_calamine

from connectors.xlsx.sheet_survey import MAX_CELLS, survey_sheet
from tests.cli.helpers import BRYGGA

SHEET = "xl/worksheets/sheet1.xml"
HEADER = (
    '<row r="1"><c r="A1" t="inlineStr"><is><t>id</t></is></c><c r="B1" t="inlineStr"><is><t>name</t></is></c></row>'
)
NEAR = '<row r="2"><c r="A2"><v>1</v></c><c r="B2" t="inlineStr"><is><t>Ann</t></is></c></row>'


def _workbook_with(sheet_data: str) -> bytes:
    """A workbook made by openpyxl whose sheet's cells are ``sheet_data`` (the XML inside ``<sheetData>``)."""
    book = openpyxl.Workbook()
    out = io.BytesIO()
    book.save(out)
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    xml = parts[SHEET].decode()
    start, end = xml.index("<sheetData"), xml.index("</worksheet>")
    parts[SHEET] = (xml[:start] + f"<sheetData>{sheet_data}</sheetData>" + xml[end:]).encode()
    written = io.BytesIO()
    with zipfile.ZipFile(written, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return written.getvalue()


FAR = {
    "a-value-in-the-last-cell": '<row r="1048576"><c r="XFD1048576"><v>9</v></c></row>',
    "two-references-the-last-far": '<row r="3"><c r="A3" r="XFD1048576"><v>9</v></c></row>',
    "spaces-around-the-equals-sign": '<row r="3"><c r = "XFD1048576"><v>9</v></c></row>',
    "single-quotes": "<row r=\"3\"><c r='XFD1048576'><v>9</v></c></row>",
    "a-tab-before-the-reference": '<row r="3"><c\tr="XFD1048576"><v>9</v></c></row>',
    "lower-case": '<row r="3"><c r="xfd1048576"><v>9</v></c></row>',
    "a-namespace-prefix": '<row r="3"><x:c xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'r="XFD1048576"><v>9</v></x:c></row>',
    "a-greater-than-sign-in-a-value": '<row r="3"><c t="n" note="a>b" r="XFD1048576"><v>9</v></c></row>',
    "unreferenced-cells-in-the-last-row": '<row r="1048576">' + "<c><v>9</v></c>" * 60 + "</row>",
    "wide-and-long-apart": '<row r="3"><c r="ZZZ3"><v>9</v></c></row><row r="99999"><c r="A99999"><v>9</v></c></row>',
    "beyond-excels-last-column-and-row": '<row r="3"><c r="ZZZZ99999999"><v>1</v></c></row>',
    "beyond-excels-last-row": '<row r="4"><c r="A104857600"><v>1</v></c></row>',
    "beyond-excels-last-column": '<row r="99999"><c r="AAAA99999"><v>1</v></c></row>',
    "a-row-number-of-thousands-of-digits": '<row r="3"><c r="A' + "9" * 5000 + '"><v>1</v></c></row>',
    "a-column-of-thousands-of-letters": '<row r="3"><c r="' + "Z" * 5000 + '3"><v>1</v></c></row>',
    "a-row-beyond-excel-then-unreferenced-cells": '<row r="104857600"><c><v>1</v></c></row>',
}

NOT_FAR = {
    "only-formatting-in-the-last-cell": ('<row r="1048576"><c r="XFD1048576" s="1"/></row>', 2 * 2),
    "two-references-the-last-near": ('<row r="3"><c r="XFD1048576" r="C3"><v>9</v></c></row>', 3 * 3),
    "rows-and-cells-without-references": ("<row><c><v>3</v></c><c><v>4</v></c></row><row><c><v>5</v></c></row>", 4 * 2),
    "a-long-narrow-sheet": ('<row r="1000000"><c r="A1000000"><v>9</v></c></row>', 1_000_000 * 2),
}
"""Sheets calamine holds, and the cells of its block."""


@pytest.mark.parametrize("cells", list(FAR.values()), ids=list(FAR))
def test_a_sheet_reaching_too_far_is_found_however_its_cells_are_written(tmp_path: Path, cells: str) -> None:
    path = tmp_path / "far.xlsx"
    path.write_bytes(_workbook_with(HEADER + NEAR + cells))

    assert survey_sheet(path, None).block > MAX_CELLS


@pytest.mark.parametrize(("cells", "block"), list(NOT_FAR.values()), ids=list(NOT_FAR))
def test_a_sheet_calamine_can_hold_passes_with_at_least_its_block(tmp_path: Path, cells: str, block: int) -> None:
    path = tmp_path / "near.xlsx"
    path.write_bytes(_workbook_with(HEADER + NEAR + cells))

    sheet = python_calamine.CalamineWorkbook.from_path(path).get_sheet_by_index(0)  # safe: small blocks

    assert sheet.start is not None and sheet.end is not None
    assert (sheet.end[0] - sheet.start[0] + 1) * (sheet.end[1] - sheet.start[1] + 1) == block
    assert block <= survey_sheet(path, None).block <= MAX_CELLS


PROJECT = """\
version: 1
state: sqlite:///state.db
systems:
  sheets:
    connector: xlsx
    path: sheets
    streams:
      far: {file: far.xlsx, key: id}
      fine: {file: fine.xlsx, key: id}
  db:
    connector: sql
    url: sqlite:///db.sqlite
    streams:
      people: {table: people, key: id}
      copies: {table: copies, key: id}
"""
SYNCS = {
    "far-in": "source: sheets.far\ntarget: db.copies\nfields: {id: id, name: name}\n",
    "fine-in": "source: sheets.fine\ntarget: db.people\nfields: {id: id, name: name}\n",
    "out-to-far": "source: db.people\ntarget: sheets.far\nfields: {id: id, name: name}\n",
}


def _bounded_memory() -> None:
    """A child's address space at 4 GB: a failed guard aborts the child (the test fails), never the machine."""
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))


def test_a_run_refuses_the_far_workbook_with_a_message_and_syncs_the_rest(tmp_path: Path) -> None:
    (tmp_path / "brygga.yaml").write_text(PROJECT)
    (tmp_path / "mappings").mkdir()
    for name, text in SYNCS.items():
        (tmp_path / "mappings" / f"{name}.yaml").write_text(text)
    (tmp_path / "sheets").mkdir()
    far = _workbook_with(HEADER + NEAR + FAR["a-value-in-the-last-cell"])
    (tmp_path / "sheets" / "far.xlsx").write_bytes(far)
    (tmp_path / "sheets" / "fine.xlsx").write_bytes(_workbook_with(HEADER + NEAR))
    with sqlite3.connect(tmp_path / "db.sqlite") as connection:
        connection.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT)")
        connection.execute("CREATE TABLE copies (id INTEGER PRIMARY KEY, name TEXT)")

    done = subprocess.run(
        [str(BRYGGA), "run", "--all"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        preexec_fn=_bounded_memory,
    )

    assert done.returncode not in (-6, 134), f"the process aborted: {done.stderr[-2000:]}"
    output = done.stdout + done.stderr
    assert "sheets/far.xlsx: sheet 'Sheet' reaches too far to be read" in output, output
    assert "17,179,869,184 cells" in output and "Ctrl+End" in output
    assert "fine-in: succeeded" in output, output
    with sqlite3.connect(tmp_path / "db.sqlite") as connection:
        assert connection.execute("SELECT id, name FROM people").fetchall() == [(1, "Ann")]
        assert connection.execute("SELECT count(*) FROM copies").fetchone() == (0,)
    assert (tmp_path / "sheets" / "far.xlsx").read_bytes() == far, "the far workbook, a target too, is unchanged"
