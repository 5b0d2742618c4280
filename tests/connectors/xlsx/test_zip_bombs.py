"""Parts read whole when a workbook is opened are measured first: one that unpacks to more than any workbook's
(a zip bomb: a few megabytes that unpack to gigabytes) is refused with a message, never read.

A 2.4 MB workbook whose shared texts unpack to 60 million entries made calamine abort the process when it
was opened. The limits are lowered here so the files stay small; the check is the same.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import openpyxl
import pytest

from connectors.base import Write, WriteAction
from connectors.xlsx import sheet_text, workbook
from connectors.xlsx.workbook import XlsxFileError
from tests.connectors.xlsx.conftest import SystemMaker, records_of


def _with_part(name: str, data: bytes) -> bytes:
    """A small workbook made by openpyxl, with the part ``name`` (added or replaced) holding ``data``."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["id", "name"])
    sheet.append([1, "Ann"])
    made = io.BytesIO()
    book.save(made)
    with zipfile.ZipFile(io.BytesIO(made.getvalue())) as archive:
        parts = {part: archive.read(part) for part in archive.namelist()}
    parts[name] = data
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for part, content in parts.items():
            archive.writestr(part, content)
    return out.getvalue()


def _shared_texts(count: int) -> bytes:
    body = b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    return body + b"<si><t>a</t></si>" * count + b"</sst>"


@pytest.fixture
def small_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workbook, "MAX_SHARED_TEXTS", 1000)
    monkeypatch.setattr(workbook, "MAX_SHARED_TEXT_BYTES", 64 << 10)
    monkeypatch.setattr(workbook, "MAX_PART_BYTES", 64 << 10)


BOMBS = {
    "too-many-shared-texts": ("xl/sharedStrings.xml", _shared_texts(1001), "shared texts (xl/sharedStrings.xml)"),
    "shared-texts-too-large": (
        "xl/sharedStrings.xml",
        _shared_texts(1)[:-6] + b"<si><t>" + b"a" * (65 << 10) + b"</t></si></sst>",
        "shared texts",
    ),
    "the-name-in-another-case": ("xl/SHAREDSTRINGS.XML", _shared_texts(1001), "shared texts (xl/SHAREDSTRINGS.XML)"),
    "styles-too-large": ("xl/styles.xml", b"<styleSheet>" + b" " * (65 << 10) + b"</styleSheet>", "part xl/styles.xml"),
    "relationships-too-large": ("_rels/.rels", b"<Relationships>" + b"\n" * (65 << 10) + b"</Relationships>", ".rels"),
}


@pytest.mark.usefixtures("small_limits")
@pytest.mark.parametrize(("part", "data", "named"), list(BOMBS.values()), ids=list(BOMBS))
async def test_a_part_unpacking_to_more_than_any_workbooks_is_refused_for_reading_and_writing(
    system: SystemMaker, folder: Path, part: str, data: bytes, named: str
) -> None:
    bomb = _with_part(part, data)
    (folder / "b.xlsx").write_bytes(bomb)
    connector = system(b="{file: b.xlsx, key: id}")

    with pytest.raises(XlsxFileError, match="or made to exhaust memory") as as_source:
        await connector.prepare("b")
    with pytest.raises(XlsxFileError, match="or made to exhaust memory") as as_target:
        await connector.write("b", [Write(WriteAction.CREATE, {"id": 2, "name": "Bo"}, None)])

    assert str(as_source.value).startswith("files/b.xlsx: ") and named in str(as_source.value)
    assert str(as_target.value) == str(as_source.value)
    assert (folder / "b.xlsx").read_bytes() == bomb


@pytest.mark.usefixtures("small_limits")
async def test_shared_texts_up_to_the_limit_are_read(system: SystemMaker, folder: Path) -> None:
    (folder / "fine.xlsx").write_bytes(_with_part("xl/sharedStrings.xml", _shared_texts(1000)))

    assert await records_of(system(fine="{file: fine.xlsx, key: id}"), "fine") == [{"id": 1, "name": "Ann"}]


def _text_cells_naming(indexes: list[int], long_text: int) -> bytes:
    """A workbook whose sheet's cell B of each row names the shared text of ``indexes`` (text 1 is
    ``long_text`` characters long, text 2 short)."""
    rows = "".join(
        f'<row r="{row}"><c r="A{row}"><v>{row}</v></c><c r="B{row}" t="s"><v>{index}</v></c></row>'
        for row, index in enumerate(indexes, start=2)
    )
    header = '<row r="1"><c r="A1" t="inlineStr"><is><t>id</t></is></c><c r="B1" t="s"><v>0</v></c></row>'
    book = _with_part("xl/sharedStrings.xml", _shared_texts(0)[:-6] + b"<si><t>name</t></si><si><t>"
                      + b"x" * long_text + b"</t></si><si><t>short</t></si></sst>")  # fmt: skip
    with zipfile.ZipFile(io.BytesIO(book)) as archive:
        parts = {part: archive.read(part) for part in archive.namelist()}
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    start, end = sheet.index("<sheetData"), sheet.index("</worksheet>")
    parts["xl/worksheets/sheet1.xml"] = (
        sheet[:start] + f"<sheetData>{header}{rows}</sheetData>" + sheet[end:]
    ).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for part, content in parts.items():
            archive.writestr(part, content)
    return out.getvalue()


@pytest.mark.parametrize(
    ("indexes", "refused"),
    [([1] * 200, True), ([1] * 20, False), ([1] + [2] * 2000, False)],
    ids=["one-long-text-in-many-cells", "in-a-few-cells", "once-among-many-short-ones"],
)
async def test_a_long_text_copied_into_many_cells_is_refused_before_it_is_read(
    system: SystemMaker, folder: Path, monkeypatch: pytest.MonkeyPatch, indexes: list[int], refused: bool
) -> None:
    """calamine copies a shared text into every cell naming it: one text of 32,767 characters named by 60,000
    cells (a file of 630 KB) took 2.2 GB. The bound is lowered here: 200 × 2,000 characters passes it."""
    monkeypatch.setattr(sheet_text, "MAX_SHEET_TEXT", 100_000)
    (folder / "t.xlsx").write_bytes(_text_cells_naming(indexes, 2_000))
    connector = system(t="{file: t.xlsx, key: id}")

    if refused:
        with pytest.raises(XlsxFileError, match=r"holds too much text to be read: its text cells would hold about"):
            await connector.prepare("t")
    else:
        await connector.prepare("t")
