"""A source's ``prepare`` loads the sheet to read its header; the read after it uses that load, not a second one."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import openpyxl
import pytest
import python_calamine

from connectors.xlsx import reading
from tests.connectors.xlsx.conftest import SystemMaker, records_of


def _workbook(path: Path, rows: list[list[Any]]) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in [["id", "name"], *rows]:
        sheet.append(row)
    book.save(path)


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every workbook calamine loads, in order."""
    loaded: list[Path] = []

    def from_path(path: Path) -> Any:
        loaded.append(Path(path))
        return python_calamine.CalamineWorkbook.from_path(path)

    workbook = SimpleNamespace(from_path=from_path)
    monkeypatch.setattr(reading, "python_calamine", SimpleNamespace(CalamineWorkbook=workbook))
    return loaded


async def test_a_read_after_prepare_loads_the_workbook_once(
    system: SystemMaker, folder: Path, loads: list[Path]
) -> None:
    _workbook(folder / "p.xlsx", [[1, "a"], [2, "b"]])
    connector = system(p="{file: p.xlsx, key: id}")

    assert (await connector.prepare("p")).fields == ["id", "name"]
    assert await records_of(connector, "p") == [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
    assert await records_of(connector, "p") == [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
    await connector.close()

    assert loads == [folder / "p.xlsx", folder / "p.xlsx"]  # prepare's load read once; the second read loads again


async def test_a_workbook_saved_between_prepare_and_read_is_read_as_saved(
    system: SystemMaker, folder: Path, loads: list[Path]
) -> None:
    _workbook(folder / "p.xlsx", [[1, "a"]])
    connector = system(p="{file: p.xlsx, key: id}")
    await connector.prepare("p")

    _workbook(folder / "p.xlsx", [[1, "a"], [2, "b"], [3, "c"]])

    assert [record["id"] for record in await records_of(connector, "p")] == [1, 2, 3]
    assert len(loads) == 2
    await connector.close()


async def test_closing_lets_go_of_a_sheet_no_read_took(system: SystemMaker, folder: Path) -> None:
    _workbook(folder / "p.xlsx", [[1, "a"]])
    connector = system(p="{file: p.xlsx, key: id}")
    await connector.prepare("p")
    (scan,) = [scan for _, scan in connector._opened.values()]

    await connector.close()

    assert scan._workbook is None and not connector._opened
