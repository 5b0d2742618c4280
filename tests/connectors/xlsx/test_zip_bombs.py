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
from connectors.xlsx import workbook
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
