"""The contract suite (:mod:`connectors.testing`) over the ``csv`` kind."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.testing import ConnectorContract, Subject
from tests.connectors.csv.conftest import csv_system

STREAMS = {"people": "{file: people.csv, key: id}", "gone": "{file: gone.csv, key: id}"}


class TestCsvContract(ConnectorContract):
    @pytest.fixture
    def subject(self, tmp_path: Path, folder: Path) -> Subject:
        (folder / "people.csv").write_text("id,name,city\n1,Ada,Oslo\n2,Bo,Umeå\n3,Cy,Turku\n", encoding="utf-8")
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        return Subject(
            make=lambda: csv_system(tmp_path, STREAMS),
            stream="people",
            key="id",
            records=[
                {"id": "1", "name": "Ada", "city": "Oslo"},
                {"id": "2", "name": "Bo", "city": "Umeå"},
                {"id": "3", "name": "Cy", "city": "Turku"},
            ],
            new_records=[{"id": "4", "name": "Di", "city": "Bergen"}, {"id": "5", "name": "Ed", "city": "Malmö"}],
            changed={"city": "Lund"},
            refused={"id": None, "name": "Fa", "city": "Lund"},
            refusing=lambda: csv_system(elsewhere, STREAMS, path="no-such-folder"),
            missing_stream="gone",
        )
