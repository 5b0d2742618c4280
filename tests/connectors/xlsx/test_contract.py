"""The contract suite (:mod:`connectors.testing`) over the ``xlsx`` kind."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from app.config import load_project
from connectors.base import Connector, create_connector
from connectors.testing import ConnectorContract, Subject
from tests.connectors.xlsx.conftest import write_system

STREAMS = {"people": "{file: people.xlsx, key: id}", "gone": "{file: gone.xlsx, key: id}"}


def xlsx_system(root: Path, path: str = "files") -> Connector:
    return create_connector(load_project(write_system(root, STREAMS, path=path), environ={}).systems["files"])


class TestXlsxContract(ConnectorContract):
    @pytest.fixture
    def subject(self, tmp_path: Path, folder: Path) -> Subject:
        records = [
            {"id": "A-1", "name": "Ada", "city": "Oslo", "credit": 100},
            {"id": "A-2", "name": "Bo", "city": "Umeå", "credit": 2.5},
            {"id": "A-3", "name": "Cy", "city": "Turku", "credit": 0},
        ]
        book = openpyxl.Workbook()
        sheet = book.active
        sheet.append(list(records[0]))
        for record in records:
            sheet.append(list(record.values()))
        book.save(folder / "people.xlsx")
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        return Subject(
            make=lambda: xlsx_system(tmp_path),
            stream="people",
            key="id",
            records=records,
            new_records=[
                {"id": "A-4", "name": "Di", "city": "Bergen", "credit": 7},
                {"id": "A-5", "name": "Ed", "city": "Malmö", "credit": 12.25},
            ],
            changed={"city": "Lund", "credit": 150},
            refused={"id": None, "name": "Fa", "city": "Lund", "credit": 1},
            refusing=lambda: xlsx_system(elsewhere, path="no-such-folder"),
            missing_stream="gone",
        )
