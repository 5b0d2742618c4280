"""Reading sheets that LibreOffice made: every cell as LibreOffice shows it, types kept, layouts people use."""

from __future__ import annotations

import logging
import re
import zipfile
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from app.record_checks import UnreadableValue
from connectors.base import connector_class
from connectors.xlsx.connector import XlsxConnector
from connectors.xlsx.workbook import XlsxFileError
from tests.connectors.xlsx.conftest import Books, SystemMaker, records_of
from tests.connectors.xlsx.libreoffice import shows_as


def test_the_xlsx_kind_is_registered_as_this_class() -> None:
    assert connector_class("xlsx") is XlsxConnector


async def test_every_cell_reads_as_libreoffice_shows_it(books: Books, system: SystemMaker, folder: Path) -> None:
    books.copy("types.xlsx", folder)
    records = await records_of(system(types="{file: types.xlsx, key: id}"), "types")

    header, *rows = books.shown[("types", "types")]
    rows = [row for row in rows if any(row)]
    assert [list(record) for record in records] == [header] * len(rows)
    mismatches = [
        (record["id"], name, record[name], text)
        for record, row in zip(records, rows, strict=True)
        for name, text in zip(header, row, strict=True)
        if not shows_as(record[name], text)
    ]
    assert mismatches == []


async def test_cells_keep_their_types(books: Books, system: SystemMaker, folder: Path) -> None:
    books.copy("types.xlsx", folder)
    first, second, third = await records_of(system(types="{file: types.xlsx, key: id}"), "types")

    assert first == {
        "id": 1,
        "whole": 42,
        "fraction": Decimal("0.1"),
        "code": "007",
        "day": date(2024, 5, 17),
        "moment": datetime(2024, 5, 17, 8, 30),
        "flag": True,
        "ratio": UnreadableValue("#DIV/0!", "files/types.xlsx, types!H2"),
        "big": Decimal("1.23456789012346E+19"),
        "sum": Decimal("42.1"),
        "clock": time(13, 45),
        "note": 'Åsa "the" Öberg',
    }
    assert [type(first[name]) for name in ("id", "whole", "flag")] == [int, int, bool]
    assert second["code"] == "0012" and second["sum"] == "x" and second["clock"] is None
    assert second["ratio"] == UnreadableValue("#N/A", "files/types.xlsx, types!H4")
    assert third["code"] == "+46 70" and third["big"] == 999999999999999 and type(third["big"]) is int
    assert third["sum"] == Decimal("0.333333333333333") and third["ratio"] == Decimal("0.5")
    assert third["fraction"] == Decimal("-0.000001") and third["whole"] == 0 and third["clock"] == time(0, 0)


async def test_a_title_above_the_header_and_merged_cells(books: Books, system: SystemMaker, folder: Path) -> None:
    books.copy("layout.xlsx", folder)
    connector = system(prices="{file: layout.xlsx, sheet: Prices, header_row: 3, key: sku}")

    info = await connector.prepare("prices")

    assert info.fields == ["sku", "name", "price", "group"]
    assert await records_of(connector, "prices") == [
        {"sku": "A-1", "name": "Pen", "price": Decimal("12.5"), "group": "Office"},
        {"sku": "A-2", "name": "Paper", "price": 3, "group": None},  # merged cells: the value is in the first one
        {"sku": "A-3", "name": "Ink", "price": None, "group": "Misc"},
    ]
    _, header, *rows = [row for row in books.shown[("layout", "Prices")] if any(row)]
    assert header == info.fields
    assert rows == [["A-1", "Pen", "12.5", "Office"], ["A-2", "Paper", "3", ""], ["A-3", "Ink", "", "Misc"]]


async def test_the_first_sheet_is_the_default(books: Books, system: SystemMaker, folder: Path) -> None:
    books.copy("layout.xlsx", folder)

    assert await records_of(system(notes="{file: layout.xlsx, key: keep}"), "notes") == []
    assert (await system(notes="{file: layout.xlsx, key: keep}").prepare("notes")).fields == ["keep", "me"]


async def test_cells_right_of_the_header_are_dropped_with_one_warning(
    books: Books, system: SystemMaker, folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    books.copy("layout.xlsx", folder)
    with caplog.at_level(logging.WARNING):
        records = await records_of(system(wide="{file: layout.xlsx, sheet: Wide, key: id}"), "wide")

    assert records == [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
    assert "1 row(s) of sheet 'Wide' had values right of the header's last column" in caplog.text


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            "{file: layout.xlsx, sheet: Gaps, key: id}",
            "files/layout.xlsx (Gaps!B1): this header cell is blank, between named columns: name the column, or "
            "delete it",
        ),
        (
            "{file: layout.xlsx, sheet: Twice, key: id}",
            "files/layout.xlsx: sheet 'Twice': the header names 'name' more than once: give each column its own name",
        ),
        (
            "{file: layout.xlsx, sheet: Prices, key: sku}",
            "files/layout.xlsx: the key column 'sku' is not in the header (row 1) of sheet 'Prices'; "
            "its columns are: 'Price list 2024'",
        ),
        (
            "{file: layout.xlsx, sheet: Prices, header_row: 2, key: sku}",
            "files/layout.xlsx: the header row (row 2) is blank: it must name the columns (or set the stream's "
            "`header_row` to the row that does)",
        ),
        (
            "{file: layout.xlsx, sheet: Nope, key: id}",
            "files/layout.xlsx: the workbook has no sheet named 'Nope'; its sheets are: 'Notes', 'Prices', 'Gaps', "
            "'Twice', 'Wide'",
        ),
        (
            "{file: missing.xlsx, key: id}",
            "files/missing.xlsx: the workbook does not exist; the folder has: 'layout.xlsx'",
        ),
    ],
    ids=["blank-header-cell", "header-twice", "key-not-in-header", "blank-header-row", "no-such-sheet", "no-file"],
)
async def test_a_sheet_that_cannot_be_read_says_where_and_why(
    books: Books, system: SystemMaker, folder: Path, options: str, message: str
) -> None:
    books.copy("layout.xlsx", folder)
    with pytest.raises(XlsxFileError) as caught:
        await system(s=options).prepare("s")

    assert str(caught.value) == message


async def test_reading_by_key_and_every_key(books: Books, system: SystemMaker, folder: Path) -> None:
    books.copy("types.xlsx", folder)
    connector = system(types="{file: types.xlsx, key: [id, code]}")

    found = await connector.get("types", ['["2","0012"]', '["3","0012"]', "not json"])
    keys = [key async for batch in connector.scan_keys("types", 2) for key in batch]

    assert list(found) == ['["2","0012"]'] and found['["2","0012"]']["whole"] == -3
    assert keys == ['["1","007"]', '["2","0012"]', '["3","+46 70"]']


async def test_batches_and_checkpoints(books: Books, system: SystemMaker, folder: Path) -> None:
    books.copy("types.xlsx", folder)
    batches = [batch async for batch in system(types="{file: types.xlsx, key: id}").read("types", None, 2)]

    assert [[record["id"] for record in batch.records] for batch in batches] == [[1, 2], [3]]
    assert [batch.checkpoint for batch in batches] == [{}, {}]


async def test_a_date_cell_beyond_every_date_is_a_clear_error_not_a_crash(system: SystemMaker, folder: Path) -> None:
    """calamine panics on a date-formatted cell holding -1E+300 (a Rust panic: a ``BaseException``, which
    passed every ``except Exception`` and ended the run with its traceback), and reads no row after it."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["id", "when"])
    sheet.append([1, 45000])
    sheet.append([2, -1e300])
    sheet.append([3, 45001])
    for row in (2, 3, 4):
        sheet.cell(row, 2).number_format = "yyyy-mm-dd"
    book.save(folder / "dates.xlsx")

    with pytest.raises(XlsxFileError) as caught:
        await records_of(system(s="{file: dates.xlsx, key: id}"), "s")

    assert "a cell's value is beyond what its reader takes" in str(caught.value)
    assert "a date- or time-formatted cell holds a number far outside Excel's dates" in str(caught.value)


async def test_a_shared_text_cell_with_a_damaged_index_fails_its_record_alone(
    books: Books, system: SystemMaker, folder: Path
) -> None:
    """calamine reads ``<c t="s"><v>x</v></c>`` (or ``-1``) as the workbook's first shared text, silently: the
    header's first name became the cell's value."""
    books.copy("types.xlsx", folder)
    connector = system(s="{file: types.xlsx, key: id}")
    before = await records_of(connector, "s")
    with zipfile.ZipFile(folder / "types.xlsx") as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    sheet = next(name for name in parts if name.startswith("xl/worksheets/") and name.endswith(".xml"))
    xml = parts[sheet].decode()
    damaged: dict[int, tuple[str, str]] = {}  # row → (cell, the index written), the first text cell of two rows
    for found in re.finditer(r'<c r="([A-Z]+)([0-9]+)"[^>]*t="s"[^>]*><v>[0-9]+</v>', xml):
        row = int(found.group(2))
        if row > 1 and row not in damaged and len(damaged) < 2:
            damaged[row] = (found.group(1) + found.group(2), "x" if not damaged else "-1")
    for cell, index in damaged.values():
        xml = re.sub(rf'(<c r="{cell}"[^>]*><v>)[0-9]+(</v>)', rf"\g<1>{index}\g<2>", xml)
    parts[sheet] = xml.encode()
    with zipfile.ZipFile(folder / "types.xlsx", "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)

    after = await records_of(connector, "s")

    broken = [
        value for record, was in zip(after, before, strict=True) for name, value in record.items() if value != was[name]
    ]
    assert len(damaged) == 2 and len(after) == len(before)
    unreadable = [value for value in broken if isinstance(value, UnreadableValue)]
    assert len(unreadable) == len(broken), broken
    assert sorted((value.where.rsplit("!", 1)[1], value.text) for value in unreadable) == sorted(
        (cell, f"a damaged cell: its shared text index is '{index}'") for cell, index in damaged.values()
    )
