"""Writing sheets: by key, atomically, other sheets and the header's formatting kept; LibreOffice reads the result."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from openpyxl.worksheet.filters import AutoFilter
from openpyxl.worksheet.table import Table
from openpyxl.worksheet.worksheet import Worksheet

from app.errors import TransientError
from connectors.base import Write, WriteAction
from connectors.xlsx import sheet_survey
from connectors.xlsx.rewrite import FileChangedError
from connectors.xlsx.workbook import WorkbookOpenError, XlsxFileError
from tests.connectors.xlsx.conftest import Books, SystemMaker, records_of
from tests.connectors.xlsx.libreoffice import sheets_as_shown

CREATE, UPDATE, DELETE = WriteAction.CREATE, WriteAction.UPDATE, WriteAction.DELETE


def _temp_files(folder: Path) -> list[str]:
    return sorted(entry.name for entry in folder.iterdir() if entry.name.endswith(".brygga-tmp"))


async def test_a_written_workbook_opens_in_libreoffice_with_the_expected_values(
    books: Books, system: SystemMaker, folder: Path, tmp_path: Path
) -> None:
    books.copy("target.xlsx", folder)
    connector = system(customers="{file: target.xlsx, sheet: Customers, key: id}")
    await connector.prepare("customers", write_fields=["id", "name", "since", "vip", "balance"])

    results = await connector.write(
        "customers",
        [
            Write(UPDATE, {"id": 1, "name": "Ann Berg", "balance": Decimal("0.1")}, "1"),
            Write(DELETE, None, "2"),
            Write(CREATE, {"id": 4, "name": "007", "since": date(2024, 5, 17), "vip": True, "balance": 1234.56}, None),
            Write(CREATE, {"id": 5, "name": "=1+1", "since": datetime(2024, 5, 17, 8, 30, tzinfo=UTC)}, None),
            Write(CREATE, {"id": 6, "name": ["not", "a", "cell"]}, None),
            Write(CREATE, {"id": 7, "name": "bell\x07"}, None),
            Write(CREATE, {"id": 8, "nickname": "x"}, None),
        ],
    )

    assert [result.target_key for result in results] == ["1", "2", "4", "5", None, None, None]
    assert [str(result.error) for result in results[4:]] == [
        "files/target.xlsx: field 'name': a list cannot be written in one cell: map it to text first",
        "files/target.xlsx: field 'name': the text holds the control character '\\x07', which a workbook cannot hold",
        "files/target.xlsx: column 'nickname' is not in the sheet's header; its columns are: 'id', 'name', 'since', "
        "'vip', 'balance' (Brygga never adds columns)",
    ]
    shown = sheets_as_shown([folder / "target.xlsx"], tmp_path / "shown")
    assert shown[("target", "Customers")] == [
        ["id", "name", "since", "vip", "balance"],
        ["1", "Ann Berg", "", "", "0.1"],
        ["3", "Cy", "", "", "30"],
        ["4", "007", "2024-05-17", "TRUE", "1234.56"],
        ["5", "=1+1", "2024-05-17 08:30:00", "", ""],
    ]
    assert shown[("target", "Notes")] == [["keep me"]]
    header = openpyxl.load_workbook(folder / "target.xlsx")["Customers"]["A1"]
    assert header.font.b is True
    assert _temp_files(folder) == []


async def test_writes_read_back_the_same_values_and_repeat_safely(system: SystemMaker, folder: Path) -> None:
    connector = system(out="{file: out.xlsx, sheet: Data, key: [region, no]}")
    await connector.prepare("out", write_fields=["region", "no", "price", "day"])
    writes = [
        Write(CREATE, {"region": "N", "no": 1, "price": Decimal("0.1"), "day": date(2024, 1, 2)}, None),
        Write(CREATE, {"region": "S", "no": 12345678901234567890, "price": None, "day": None}, None),
    ]

    await connector.write("out", writes)
    await connector.write("out", writes)  # a batch written again after a crash leaves the same sheet

    assert await records_of(connector, "out") == [
        {"region": "N", "no": 1, "price": Decimal("0.1"), "day": date(2024, 1, 2)},
        {"region": "S", "no": "12345678901234567890", "price": None, "day": None},  # past 15 digits: text, exact
    ]
    assert openpyxl.load_workbook(folder / "out.xlsx").sheetnames == ["Data"]


async def test_a_decimal_a_cells_number_cannot_keep_is_written_as_its_text(system: SystemMaker, folder: Path) -> None:
    connector = system(out="{file: out.xlsx, key: no}")
    await connector.prepare("out", write_fields=["no", "price"])
    prices = ["1E+999999999", "-2.5E-400", "0.30000000000000000001", "12.50"]  # empty, 0, rounded; and a number

    await connector.write(
        "out", [Write(CREATE, {"no": no, "price": Decimal(text)}, None) for no, text in enumerate(prices)]
    )

    assert [record["price"] for record in await records_of(connector, "out")] == [*prices[:3], Decimal("12.5")]


async def test_text_that_looks_like_a_workbooks_escape_and_dates_before_its_first_stay_as_written(
    system: SystemMaker, folder: Path, tmp_path: Path
) -> None:
    """``_x0041_`` is how a workbook writes ``A``: written as it was, it read back as ``A`` (``PN_x00E9_7`` as
    ``PNé7``). A date before 1 March 1900 became serial 0 or less: a time of day, or another date."""
    connector = system(out="{file: out.xlsx, key: no}")
    await connector.prepare("out", write_fields=["no", "code", "day"])
    rows = [
        (1, "_x0041_", date(1899, 12, 31)),
        (2, "PN_x00E9_7", date(1, 1, 1)),
        (3, "_x005F_ and _x41_", datetime(1900, 2, 28, 12, 0)),
        (4, "plain", date(1900, 3, 1)),
    ]

    await connector.write("out", [Write(CREATE, {"no": no, "code": code, "day": day}, None) for no, code, day in rows])

    assert [(record["code"], record["day"]) for record in await records_of(connector, "out")] == [
        ("_x0041_", "1899-12-31"),
        ("PN_x00E9_7", "0001-01-01"),
        ("_x005F_ and _x41_", "1900-02-28T12:00:00"),
        ("plain", date(1900, 3, 1)),
    ]
    shown = sheets_as_shown([folder / "out.xlsx"], tmp_path / "shown")
    assert [row[1:] for row in next(iter(shown.values()))[1:]] == [
        ["_x0041_", "1899-12-31"],
        ["PN_x00E9_7", "0001-01-01"],
        ["_x005F_ and _x41_", "1900-02-28T12:00:00"],
        ["plain", "1900-03-01"],
    ]


async def test_a_workbook_open_in_excel_is_a_passing_error_and_nothing_is_written(
    books: Books, system: SystemMaker, folder: Path
) -> None:
    books.copy("target.xlsx", folder)
    before = (folder / "target.xlsx").read_bytes()
    (folder / "~$target.xlsx").write_bytes(b"\x00" * 165)
    connector = system(customers="{file: target.xlsx, key: id}")

    with pytest.raises(WorkbookOpenError) as caught:
        await connector.write("customers", [Write(DELETE, None, "1")])

    assert isinstance(caught.value, TransientError)
    assert "the workbook is open in Excel or LibreOffice (its lock file ~$target.xlsx is beside it)" in str(
        caught.value
    )
    assert (folder / "target.xlsx").read_bytes() == before
    assert len(await records_of(connector, "customers")) == 3  # reading an open workbook is fine


async def test_a_workbook_open_in_libreoffice_is_a_passing_error(
    books: Books, system: SystemMaker, folder: Path
) -> None:
    books.copy("target.xlsx", folder)
    (folder / ".~lock.target.xlsx#").write_text(",someone,host,01.01.2026 10:00,file:///home/someone;")

    with pytest.raises(WorkbookOpenError):
        await system(customers="{file: target.xlsx, key: id}").write("customers", [Write(DELETE, None, "1")])


async def test_a_target_workbook_that_does_not_exist_needs_its_key_mapped(system: SystemMaker) -> None:
    with pytest.raises(XlsxFileError, match="the sheet has no header yet, and the sync does not write its key 'id'"):
        await system(out="{file: out.xlsx, key: id}").prepare("out", write_fields=["name"])


async def test_a_workbook_saved_by_someone_else_meanwhile_is_kept_and_the_batch_retried(
    books: Books, system: SystemMaker, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    books.copy("target.xlsx", folder)
    theirs = folder / "target.xlsx"
    save = openpyxl.Workbook.save

    def save_while_someone_saves(book: openpyxl.Workbook, out: object) -> None:
        save(book, out)
        theirs.write_bytes(theirs.read_bytes() + b"")  # another program saves the workbook meanwhile
        os.utime(theirs, ns=(1, 1))

    monkeypatch.setattr(openpyxl.Workbook, "save", save_while_someone_saves)
    connector = system(customers="{file: target.xlsx, sheet: Customers, key: id}")

    with pytest.raises(FileChangedError) as caught:
        await connector.write("customers", [Write(DELETE, None, "1")])

    assert isinstance(caught.value, TransientError)
    assert len(await records_of(connector, "customers")) == 3
    assert _temp_files(folder) == []


async def test_a_missing_folder_is_named(system: SystemMaker, folder: Path) -> None:
    folder.rmdir()
    connector = system(customers="{file: target.xlsx, key: id}")

    with pytest.raises(XlsxFileError, match=r"^files: the folder does not exist: create it, or correct the system"):
        await connector.check()
    with pytest.raises(XlsxFileError, match=r"^files: the folder does not exist"):
        await connector.prepare("customers", write_fields=["id"])


async def test_an_empty_sheet_is_an_error_as_a_source_and_gets_a_header_as_a_target(
    system: SystemMaker, folder: Path
) -> None:
    book = openpyxl.Workbook()
    book.create_sheet("Other").append(["keep me"])
    book.save(folder / "empty.xlsx")
    connector = system(out="{file: empty.xlsx, key: id}")

    with pytest.raises(XlsxFileError, match="sheet 'Sheet' is empty: it needs a header row naming its columns"):
        await connector.prepare("out")
    await connector.prepare("out", write_fields=["id", "name"])
    await connector.write("out", [Write(CREATE, {"id": 1, "name": "Ann"}, None)])

    assert await records_of(connector, "out") == [{"id": 1, "name": "Ann"}]
    assert openpyxl.load_workbook(folder / "empty.xlsx")["Other"]["A1"].value == "keep me"


async def test_an_excel_table_and_its_filter_stretch_over_the_rows_there_are(system: SystemMaker, folder: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in (["id", "name"], [1, "Ann"], [2, "Bo"]):
        sheet.append(row)
    sheet.add_table(Table(displayName="People", ref="A1:B3", autoFilter=AutoFilter(ref="A1:B3")))
    book.save(folder / "people.xlsx")
    connector = system(people="{file: people.xlsx, key: id}")

    await connector.write("people", [Write(CREATE, {"id": n, "name": f"P{n}"}, None) for n in range(3, 6)])
    grown = openpyxl.load_workbook(folder / "people.xlsx").active
    await connector.write("people", [Write(DELETE, None, str(n)) for n in range(1, 6)])
    emptied = openpyxl.load_workbook(folder / "people.xlsx").active

    assert isinstance(grown, Worksheet) and isinstance(emptied, Worksheet)
    assert (grown.tables["People"].ref, grown.tables["People"].autoFilter.ref) == ("A1:B6", "A1:B6")
    assert emptied.tables["People"].ref == "A1:B2"  # a table keeps its one data row, empty
    assert await records_of(connector, "people") == []


async def test_a_macro_enabled_workbook_is_read_but_never_written(system: SystemMaker, folder: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["id"])
    sheet.append([7])
    book.save(folder / "book.xlsm")
    connector = system(book="{file: book.xlsm, key: id}")

    assert await records_of(connector, "book") == [{"id": 7}]

    with pytest.raises(XlsxFileError, match="Brygga does not write macro-enabled workbooks"):
        await connector.prepare("book", write_fields=["id"])
    with pytest.raises(XlsxFileError, match="rewriting it would lose its macros"):
        await connector.write("book", [Write(CREATE, {"id": 1}, None)])


async def test_a_key_that_looks_like_a_formula_is_written_as_text(system: SystemMaker, folder: Path) -> None:
    connector = system(out="{file: out.xlsx, key: code}")
    await connector.prepare("out", write_fields=["code", "name"])

    await connector.write("out", [Write(UPDATE, {"name": "by its target key"}, "=HYPERLINK(1)")])

    assert await records_of(connector, "out") == [{"code": "=HYPERLINK(1)", "name": "by its target key"}]
    assert openpyxl.load_workbook(folder / "out.xlsx").active["A2"].data_type == "s"


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (Write(UPDATE, {"id": None, "name": "key blanked"}, "1"), "the record has no value for its key 'id'"),
        (Write(CREATE, {"id": "", "name": "empty key"}, None), "the record has no value for its key 'id'"),
        (Write(DELETE, None, None), "a delete needs the target key, and none was given"),
        (Write(DELETE, None, ""), "a delete: the key '' has an empty part"),
    ],
    ids=["key-blanked", "empty-key", "delete-without-key", "empty-target-key"],
)
async def test_a_write_without_a_usable_key_fails_alone_as_in_csv(
    system: SystemMaker, write: Write, message: str
) -> None:
    """Writes by key follow one set of rules in every file kind (connectors.table_file.changes)."""
    connector = system(out="{file: out.xlsx, key: id}")
    await connector.prepare("out", write_fields=["id", "name"])
    await connector.write("out", [Write(CREATE, {"id": "1", "name": "Ann"}, None)])

    results = await connector.write("out", [write, Write(CREATE, {"id": "2", "name": "Bo"}, None)])

    assert str(results[0].error) == f"files/out.xlsx: {message}"
    assert results[1].error is None
    assert await records_of(connector, "out") == [{"id": "1", "name": "Ann"}, {"id": "2", "name": "Bo"}]


async def test_merged_cells_among_the_rows_are_split_and_written(system: SystemMaker, folder: Path) -> None:
    """openpyxl refuses a value for a cell a merge covers: the whole write failed (AttributeError), every run."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in (["Customers", None], ["id", "name"], [1, "old 1"], [2, "old 2"], [3, "old 3"]):
        sheet.append(row)
    sheet.merge_cells("A1:B1")  # a title above the header: kept
    sheet.merge_cells("B3:B4")
    book.save(folder / "merged.xlsx")
    connector = system(out="{file: merged.xlsx, key: id, header_row: 2}")
    await connector.prepare("out", write_fields=["id", "name"])

    results = await connector.write(
        "out", [Write(UPDATE, {"id": key, "name": f"new {key}"}, str(key)) for key in (1, 2)]
    )

    assert [result.ok for result in results] == [True, True]
    assert [(record["id"], record["name"]) for record in await records_of(connector, "out")] == [
        (1, "new 1"),
        (2, "new 2"),
        (3, "old 3"),
    ]
    assert [str(merged) for merged in openpyxl.load_workbook(folder / "merged.xlsx").active.merged_cells.ranges] == [
        "A1:B1"
    ]


async def test_a_target_workbook_too_large_to_rewrite_is_refused_before_it_is_loaded(
    system: SystemMaker, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """openpyxl holds every cell of every sheet (formatting-only ones too) as ~500 bytes: one record written
    into a million-row workbook took 2.6 GB. The bound counts the cells in the sheets' XML first."""
    monkeypatch.setattr(sheet_survey, "MAX_TARGET_CELLS", 100)
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["id", "name"])
    for key in range(30):
        sheet.append([key, f"n{key}"])
    other = book.create_sheet("Formats")
    for row in range(1, 61):
        other.cell(row, 1).number_format = "0.00"  # a formatted cell without a value: openpyxl keeps it
    book.save(folder / "big.xlsx")
    connector = system(out="{file: big.xlsx, key: id}")
    await connector.prepare("out", write_fields=["id", "name"])

    with pytest.raises(XlsxFileError, match=r"the workbook holds more than 100 cells .* use a csv or sql target"):
        await connector.write("out", [Write(UPDATE, {"id": 1, "name": "new"}, "1")])

    monkeypatch.setattr(sheet_survey, "MAX_TARGET_CELLS", 1000)
    [result] = await connector.write("out", [Write(UPDATE, {"id": 1, "name": "new"}, "1")])
    assert result.ok
