"""Reading a workbook imports no openpyxl (the writing library): a ``brygga run`` from a workbook is spared
its import. An import discipline, not a timing; the figures are in ``bench/xlsx.py``."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import openpyxl

READ = textwrap.dedent("""\
    import asyncio, sys
    from pathlib import Path
    from app.config import load_project
    from connectors.base import create_connector

    async def read():
        connector = create_connector(load_project(Path("brygga.yaml"), environ={}).systems["sheets"])
        await connector.prepare("items")
        rows = [record async for batch in connector.read("items", None, 100) for record in batch.records]
        await connector.close()
        return rows

    rows = asyncio.run(read())
    print(len(rows), "openpyxl" in sys.modules)
""")


def test_reading_a_workbook_imports_no_openpyxl(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["id", "name"])
    sheet.append([1, "Ann"])
    sheet.append([2, "Bo"])
    book.save(tmp_path / "items.xlsx")
    (tmp_path / "brygga.yaml").write_text(
        "version: 1\nsystems:\n  sheets:\n    connector: xlsx\n    path: .\n    streams:\n"
        "      items: {file: items.xlsx, key: id}\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", READ], cwd=tmp_path, capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.split() == ["2", "False"]
