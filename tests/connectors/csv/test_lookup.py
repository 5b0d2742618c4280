"""Finding rows by key: ``get``, ``existing_keys`` and ``scan_keys`` read the file, keys as text."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.records import format_key
from connectors.csv.connector import CsvConnector
from connectors.csv.files import CsvFileError
from tests.connectors.csv.conftest import SystemMaker


@pytest.fixture
def customers(system: SystemMaker, folder: Path) -> CsvConnector:
    (folder / "c.csv").write_text("id,name\n1,Ann\n2,\n,nobody\n3,Cy\n", encoding="utf-8")
    return system(c="{file: c.csv, key: id}")


@pytest.fixture
def lines(system: SystemMaker, folder: Path) -> CsvConnector:
    (folder / "l.csv").write_text("order,line,qty\nA,1,5\nA,2,7\nB,1,\n", encoding="utf-8")
    return system(l="{file: l.csv, key: [order, line]}")


async def test_get_returns_the_rows_that_exist_by_key(customers: CsvConnector) -> None:
    found = await customers.get("c", ["3", "9", "1"])

    assert found == {"1": {"id": "1", "name": "Ann"}, "3": {"id": "3", "name": "Cy"}}


async def test_get_of_no_keys_is_empty(customers: CsvConnector) -> None:
    assert await customers.get("c", []) == {}


async def test_existing_keys_are_those_in_the_file(customers: CsvConnector) -> None:
    assert await customers.existing_keys("c", ["2", "4", "3", ""]) == {"2", "3"}


async def test_scan_keys_yields_every_key_in_batches_leaving_out_rows_without_one(customers: CsvConnector) -> None:
    batches = [keys async for keys in customers.scan_keys("c", 2)]

    assert batches == [["1", "2"], ["3"]]


async def test_composite_keys_are_json_lists_and_found_however_the_json_is_spaced(lines: CsvConnector) -> None:
    wanted = [format_key(["A", "2"]), '["B", "1"]', '["C","1"]', "not json"]

    found = await lines.get("l", wanted)

    assert found == {
        '["A","2"]': {"order": "A", "line": "2", "qty": "7"},
        '["B", "1"]': {"order": "B", "line": "1", "qty": None},
    }
    assert await lines.existing_keys("l", wanted) == {'["A","2"]', '["B", "1"]'}
    assert [keys async for keys in lines.scan_keys("l", 10)] == [['["A","1"]', '["A","2"]', '["B","1"]']]


async def test_a_file_not_there_yet_has_no_records_to_get(system: SystemMaker) -> None:
    connector = system(c="{file: c.csv, key: id}")

    assert await connector.get("c", ["1"]) == {}
    assert await connector.existing_keys("c", ["1"]) == set()


async def test_the_keys_of_a_missing_file_are_an_error_not_an_empty_list(system: SystemMaker) -> None:
    # a mirror sync would otherwise take every record for gone from the source
    connector = system(c="{file: c.csv, key: id}")

    with pytest.raises(CsvFileError, match=r"^files/c\.csv: No such file or directory"):
        [keys async for keys in connector.scan_keys("c", 10)]
