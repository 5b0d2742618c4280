"""Files that are not workbooks, damaged workbooks, hostile cells: a clear error naming the file, or read as is."""

from __future__ import annotations

import io
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest

from app.mapping.conversions import ConversionError, converter
from app.mapping.hashing import UnfitRecordError, mapped_hash
from app.record_checks import UnreadableValue
from app.records import dumps, loads
from connectors.base import Write, WriteAction
from connectors.xlsx.workbook import XlsxFileError
from tests.connectors.xlsx.conftest import SystemMaker, records_of


def _workbook(rows: list[list[object]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _zip(parts: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return out.getvalue()


def _edited(data: bytes, part: str, edit: Callable[[str], str]) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    parts[part] = edit(parts[part].decode()).encode()
    return _zip(parts)


GOOD = _workbook([["id", "name"], [1, "Ann"]])
SHEET = "xl/worksheets/sheet1.xml"

NOT_WORKBOOKS = {
    "csv-renamed": (
        b"id;name\r\n1;\xc5sa\r\n",
        "not an Excel workbook (.xlsx): the file is text (a CSV file renamed?); save it from Excel as .xlsx",
    ),
    "empty": (b"", "the file is empty (0 bytes), not an Excel workbook: save a workbook as .xlsx here"),
    "zip": (
        _zip({"hello.txt": b"hi"}),
        "not an Excel workbook (.xlsx) but a zip archive: save it from Excel or LibreOffice as .xlsx",
    ),
    "ods": (
        _zip({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "content.xml": b"<x/>"}),
        "not an Excel workbook (.xlsx) but an OpenDocument spreadsheet (.ods): save it from Excel or LibreOffice "
        "as .xlsx",
    ),
    "xls": (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504),
        "this is an old Excel 97-2003 (.xls) or a password-protected workbook, which Brygga cannot read: save it "
        "as an Excel Workbook (.xlsx) without a password",
    ),
    "garbage": (
        bytes(range(256)) * 4,
        "not an Excel workbook (.xlsx): the file is neither a workbook nor text; save it from Excel as .xlsx",
    ),
    "truncated": (GOOD[: len(GOOD) // 2], "not an Excel workbook (.xlsx): a damaged zip archive"),
    "broken-xml": (
        _edited(GOOD, SHEET, lambda xml: xml[: len(xml) // 2]),
        "the workbook cannot be read",
    ),
}


@pytest.mark.parametrize(("data", "message"), list(NOT_WORKBOOKS.values()), ids=list(NOT_WORKBOOKS))
async def test_a_file_that_is_not_a_workbook_is_a_clear_error_naming_it(
    system: SystemMaker, folder: Path, data: bytes, message: str
) -> None:
    (folder / "prices.xlsx").write_bytes(data)
    connector = system(prices="{file: prices.xlsx, key: id}")

    with pytest.raises(XlsxFileError) as as_source:
        await connector.prepare("prices")
    with pytest.raises(XlsxFileError) as as_target:
        await connector.write("prices", [Write(WriteAction.CREATE, {"id": 2, "name": "Bo"}, None)])

    assert str(as_source.value).startswith(f"files/prices.xlsx: {message}")
    assert str(as_target.value).startswith(f"files/prices.xlsx: {message}")
    assert (folder / "prices.xlsx").read_bytes() == data


async def test_nul_bytes_in_text_come_through_for_the_engine_to_judge(system: SystemMaker, folder: Path) -> None:
    data = _edited(
        _workbook([["id", "note"], [1, "AAA"], [2, "BBB"]]), SHEET, lambda xml: xml.replace("AAA", "a_x0000_b")
    )
    (folder / "h.xlsx").write_bytes(data)

    assert await records_of(system(h="{file: h.xlsx, key: id}"), "h") == [
        {"id": 1, "note": "a\x00b"},
        {"id": 2, "note": "BBB"},
    ]


async def test_an_error_cell_fails_only_a_record_that_maps_it(system: SystemMaker, folder: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["id", "price", "name"])
    sheet.append([1, "#DIV/0!", "Pen"])  # openpyxl writes a known error text as an error cell
    sheet.append(["#REF!", 2, "Ink"])
    sheet.append([3, 4, "Cap"])
    book.save(folder / "e.xlsx")

    first, second, third = await records_of(system(e="{file: e.xlsx, key: id}"), "e")

    assert first["price"] == UnreadableValue("#DIV/0!", "files/e.xlsx, Sheet!B2")
    assert second["id"] is None  # an error in the key cell: the record has no key and fails alone
    assert third == {"id": 3, "price": 4, "name": "Cap"}
    with pytest.raises(UnfitRecordError, match=r"field 'price' holds the error #DIV/0! \(files/e.xlsx, Sheet!B2\)"):
        mapped_hash({"price": first["price"]}, "s", "1")
    assert mapped_hash({"name": first["name"]}, "s", "1")  # a sync that does not map it is not stopped
    with pytest.raises(ConversionError, match=r"cannot convert the error #DIV/0! \(files/e.xlsx, Sheet!B2\) to string"):
        converter("string")(first["price"])  # its text is no value either
    assert loads(dumps(first)) == first  # a dead letter keeps it


async def test_a_large_sheet_is_read_a_batch_at_a_time(system: SystemMaker, folder: Path) -> None:
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Big")
    sheet.append(["id", "filler"])
    for number in range(50_000):
        sheet.append([number, "x" * 40])
    book.save(folder / "big.xlsx")
    reads = system(big="{file: big.xlsx, key: id}").read("big", None, 100)

    tracemalloc.start()
    try:
        first = await anext(reads)
        _, peak = tracemalloc.get_traced_memory()  # Python's share; calamine keeps the sheet's cells in Rust
    finally:
        tracemalloc.stop()
        await reads.aclose()  # type: ignore[attr-defined]

    assert len(first.records) == 100
    assert peak < 2_500_000  # the whole sheet's records would take some 15 MB; the error-cell scan streams the XML
