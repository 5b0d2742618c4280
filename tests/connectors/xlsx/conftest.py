"""``xlsx`` systems in temporary project folders, and workbooks made by LibreOffice once per test session."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.config import load_project
from connectors.base import Connector, create_connector
from connectors.xlsx.connector import XlsxConnector
from tests.connectors.xlsx.libreoffice import CSV_IMPORT, convert, fods, sheets_as_shown

SystemMaker = Callable[..., XlsxConnector]

TYPES_CSV = (
    "id,whole,fraction,code,day,moment,flag,ratio,big,sum,clock,note\n"
    '1,42,0.1,"007",2024-05-17,2024-05-17 08:30:00,TRUE,=1/0,12345678901234567890,=B2+C2,13:45:00,"Åsa ""the"" Öberg"\n'
    ",,,,,,,,,,,\n"
    '2,-3,1.5e-7,"0012",1999-12-31,2000-01-01 00:00:01,FALSE,=NA(),99999999999999999999999,="x",,"a, b"\n'
    '3,0,-0.000001,"+46 70",2024-02-29,,TRUE,=2/4,999999999999999,=1/3,00:00:00,\n'
)
"""Every kind of cell a price list or an export holds, typed by LibreOffice's CSV import."""

LAYOUT = {
    "Notes": [["keep", "me"]],
    "Prices": [
        [("merge", (3, 1, "Price list 2024"))],
        [],
        [("bold", "sku"), ("bold", "name"), ("bold", "price"), ("bold", "group")],
        ["A-1", "Pen", 12.5, ("merge", (1, 2, "Office"))],
        ["A-2", "Paper", 3, ("covered", None)],
        [],
        ["A-3", ("merge", (2, 1, "Ink")), "Misc"],
    ],
    "Gaps": [["id", None, "name"], [1, "x", "y"]],
    "Twice": [["id", "name", "name"], [1, "x", "y"]],
    "Wide": [["id", "name"], [1, "a", None, "extra"], [2, "b"]],
}
"""A workbook laid out as people make them: a title above the header, merged cells, sheets of mistakes."""

TARGET = {
    "Customers": [
        [("bold", "id"), ("bold", "name"), ("bold", "since"), ("bold", "vip"), ("bold", "balance")],
        [1, "Ann", None, None, 10],
        [2, "Bo", None, None, 20],
        [3, "Cy", None, None, 30],
    ],
    "Notes": [["keep me"]],
}


@dataclass(frozen=True)
class Books:
    """Workbooks LibreOffice made (``types.xlsx``, ``layout.xlsx``, ``target.xlsx``) and how it shows them."""

    folder: Path
    shown: dict[tuple[str, str], list[list[str]]]

    def copy(self, name: str, into: Path) -> Path:
        return Path(shutil.copy(self.folder / name, into / name))


@pytest.fixture(scope="session")
def books(tmp_path_factory: pytest.TempPathFactory) -> Books:
    """Two LibreOffice runs make every workbook from CSV and flat OpenDocument; a third shows them as CSV."""
    sources = tmp_path_factory.mktemp("lo-sources")
    folder = tmp_path_factory.mktemp("lo-books")
    (sources / "types.csv").write_text(TYPES_CSV, encoding="utf-8")
    (sources / "layout.fods").write_text(fods(LAYOUT), encoding="utf-8")  # type: ignore[arg-type]
    (sources / "target.fods").write_text(fods(TARGET), encoding="utf-8")  # type: ignore[arg-type]
    convert([sources / "types.csv"], "xlsx", folder, infilter=CSV_IMPORT)
    convert([sources / "layout.fods", sources / "target.fods"], "xlsx", folder)
    shown = sheets_as_shown([folder / "types.xlsx", folder / "layout.xlsx"], tmp_path_factory.mktemp("lo-shown"))
    return Books(folder, shown)


def write_system(root: Path, streams: dict[str, str], *, path: str = "files", batch_size: int = 1000) -> Path:
    """Write ``root/brygga.yaml`` with one ``xlsx`` system named ``files``; each stream a YAML flow mapping."""
    lines = ["version: 1", "systems:", "  files:", "    connector: xlsx", f"    path: {path}"]
    lines += [f"    batch_size: {batch_size}", "    streams:"]
    lines += [f"      {name}: {options}" for name, options in streams.items()]
    project = root / "brygga.yaml"
    project.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return project


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """The system's folder, ``files/`` in the project folder."""
    created = tmp_path / "files"
    created.mkdir()
    return created


@pytest.fixture
def system(tmp_path: Path, folder: Path) -> SystemMaker:
    """Make a connector for streams given as YAML flow mappings: ``system(prices="{file: p.xlsx, key: sku}")``."""

    def make(batch_size: int = 1000, **streams: str) -> XlsxConnector:
        project = load_project(write_system(tmp_path, streams, batch_size=batch_size), environ={})
        connector = create_connector(project.systems["files"])
        assert isinstance(connector, XlsxConnector)
        return connector

    return make


async def records_of(connector: Connector, stream: str, batch_size: int = 1000) -> list[dict[str, object]]:
    return [record async for batch in connector.read(stream, None, batch_size) for record in batch.records]
