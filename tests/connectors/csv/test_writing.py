"""Writing a stream: creates, updates and deletes by key, idempotent, in the file's own format."""

from __future__ import annotations

import stat
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from app.errors import PermanentError
from connectors.base import Write, WriteAction, WriteResult
from connectors.csv.changes import cell_text
from connectors.csv.connector import CsvConnector
from connectors.csv.files import MAX_CELL, CsvFileError
from tests.connectors.csv.conftest import SystemMaker, records_of, temp_files

CREATE, UPDATE, DELETE = WriteAction.CREATE, WriteAction.UPDATE, WriteAction.DELETE


@pytest.fixture
def customers(system: SystemMaker, folder: Path) -> CsvConnector:
    text = "id,name,city,note\r\n1,Ann,Lund,keep me\r\n2,Bo,Ystad,\r\n3,Cy,Visby,vip\r\n"
    (folder / "c.csv").write_text(text, encoding="utf-8", newline="")
    return system(c="{file: c.csv, key: id}")


def keys_of(results: list[WriteResult]) -> list[str | None]:
    assert all(result.ok for result in results), [result.error for result in results]
    return [result.target_key for result in results]


async def test_creates_updates_and_deletes_by_key_keeping_the_columns_not_written(
    customers: CsvConnector, folder: Path
) -> None:
    results = await customers.write(
        "c",
        [
            Write(UPDATE, {"id": "1", "city": "Malmö"}, "1"),
            Write(CREATE, {"id": 4, "name": "Di", "city": "Kiruna"}, None),
            Write(DELETE, None, "2"),
        ],
    )

    assert keys_of(results) == ["1", "4", "2"]
    assert (folder / "c.csv").read_text(encoding="utf-8") == (
        "id,name,city,note\n1,Ann,Malmö,keep me\n3,Cy,Visby,vip\n4,Di,Kiruna,\n"
    )
    assert (folder / "c.csv").read_bytes().count(b"\r\n") == 4  # the file's own line ends
    assert temp_files(folder) == []


async def test_a_batch_written_twice_leaves_the_file_as_written_once(customers: CsvConnector, folder: Path) -> None:
    batch = [
        Write(CREATE, {"id": "4", "name": "Di", "city": "Kiruna"}, None),
        Write(UPDATE, {"id": "3", "note": None}, "3"),
        Write(DELETE, None, "1"),
    ]
    await customers.write("c", batch)
    once = (folder / "c.csv").read_bytes()

    again = await customers.write("c", batch)

    assert keys_of(again) == ["4", "3", "1"]
    assert (folder / "c.csv").read_bytes() == once


async def test_a_create_of_a_key_that_is_there_updates_its_row(customers: CsvConnector) -> None:
    await customers.write("c", [Write(CREATE, {"id": "2", "name": "Bertil"}, None)])

    assert await customers.get("c", ["2"]) == {"2": {"id": "2", "name": "Bertil", "city": "Ystad", "note": None}}
    assert len(await records_of(customers, "c")) == 3


async def test_an_update_of_a_key_that_is_gone_adds_the_row_with_its_key(customers: CsvConnector) -> None:
    await customers.write("c", [Write(UPDATE, {"name": "Eva"}, "7")])

    assert await customers.get("c", ["7"]) == {"7": {"id": "7", "name": "Eva", "city": None, "note": None}}


async def test_writes_to_one_key_in_one_batch_apply_in_order(customers: CsvConnector) -> None:
    await customers.write(
        "c",
        [
            Write(CREATE, {"id": "5", "name": "Temp"}, None),
            Write(DELETE, None, "5"),
            Write(DELETE, None, "3"),
            Write(CREATE, {"id": "3", "name": "New Cy"}, None),
            Write(UPDATE, {"id": "1", "city": "Åre"}, "1"),
            Write(UPDATE, {"id": "1", "name": "Anna"}, "1"),
        ],
    )

    assert await records_of(customers, "c") == [
        {"id": "1", "name": "Anna", "city": "Åre", "note": "keep me"},
        {"id": "2", "name": "Bo", "city": "Ystad", "note": None},
        {"id": "3", "name": "New Cy", "city": None, "note": None},  # re-created: the old row's cells are gone
    ]


async def test_a_new_file_gets_the_prepared_fields_as_its_header_in_their_order(
    system: SystemMaker, folder: Path
) -> None:
    connector = system(c="{file: c.csv, key: id}")
    await connector.prepare("c", write_fields=["name", "id", "city"])

    await connector.write("c", [Write(CREATE, {"id": 1, "city": "Lund", "name": "Ann"}, None)])

    assert (folder / "c.csv").read_bytes() == b"name,id,city\r\nAnn,1,Lund\r\n"


async def test_without_prepare_a_new_file_gets_the_key_then_the_fields_as_they_come(
    system: SystemMaker, folder: Path
) -> None:
    connector = system(c="{file: c.csv, key: id}")

    await connector.write(
        "c", [Write(CREATE, {"name": "Ann", "id": 1}, None), Write(CREATE, {"id": 2, "city": "Lund"}, None)]
    )

    assert (folder / "c.csv").read_text(encoding="utf-8") == "id,name,city\n1,Ann,\n2,,Lund\n"


async def test_an_empty_file_is_written_like_a_new_one(system: SystemMaker, folder: Path) -> None:
    (folder / "c.csv").write_bytes(b"")
    connector = system(c="{file: c.csv, key: id}")
    await connector.prepare("c", write_fields=["id", "name"])

    await connector.write("c", [Write(CREATE, {"id": 1, "name": "Ann"}, None)])

    assert (folder / "c.csv").read_bytes() == b"id,name\r\n1,Ann\r\n"


async def test_cp1252_with_semicolons_is_written_back_in_cp1252(system: SystemMaker, folder: Path) -> None:
    (folder / "k.csv").write_bytes("kundnr;namn;ort\r\n1;Åsa;Malmö\r\n".encode("cp1252"))
    connector = system(k='{file: k.csv, key: kundnr, delimiter: ";", encoding: cp1252}')

    await connector.write("k", [Write(CREATE, {"kundnr": 2, "namn": "ÅÄÖ åäö", "ort": "Gävle; Sverige"}, None)])

    expected = 'kundnr;namn;ort\r\n1;Åsa;Malmö\r\n2;ÅÄÖ åäö;"Gävle; Sverige"\r\n'
    assert (folder / "k.csv").read_bytes() == expected.encode("cp1252")
    assert (await connector.get("k", ["2"]))["2"]["namn"] == "ÅÄÖ åäö"


@pytest.mark.parametrize("bom", [b"\xef\xbb\xbf", b""], ids=["with-bom", "without-bom"])
async def test_a_utf8_file_keeps_its_bom_or_its_lack_of_one_and_its_line_ends(
    system: SystemMaker, folder: Path, bom: bytes
) -> None:
    (folder / "c.csv").write_bytes(bom + "id,name\n1,Åsa\n".encode())
    connector = system(c="{file: c.csv, key: id}")

    await connector.write("c", [Write(CREATE, {"id": 2, "name": "Örjan"}, None)])

    assert (folder / "c.csv").read_bytes() == bom + "id,name\n1,Åsa\n2,Örjan\n".encode()


async def test_quotes_delimiters_and_line_breaks_in_values_round_trip(customers: CsvConnector) -> None:
    note = 'says "hi", then\nleaves'

    await customers.write("c", [Write(UPDATE, {"note": note}, "2")])

    assert (await customers.get("c", ["2"]))["2"]["note"] == note


def test_values_are_written_as_text() -> None:
    when = datetime(2024, 5, 17, 8, 30, tzinfo=UTC)
    values: list[Any] = [None, True, False, Decimal("1E+3"), Decimal("12.50"), date(2024, 5, 17), when, time(8, 30)]
    values += [7, 2.5, "x"]
    values += [timedelta(hours=100), -timedelta(hours=1, minutes=30, seconds=0.5)]  # a MariaDB TIME's durations

    assert [cell_text(value) for value in values] == [
        "",
        "true",
        "false",
        "1000",
        "12.50",
        "2024-05-17",
        "2024-05-17T08:30:00+00:00",
        "08:30:00",
        "7",
        "2.5",
        "x",
        "PT100H",  # not Python's "4 days, 4:00:00"
        "PT-1H-30M-0.5S",  # not "-1 day, 22:29:59.500000"
    ]


def test_a_decimal_of_a_huge_or_tiny_magnitude_is_written_exactly_in_scientific_notation() -> None:
    assert cell_text(Decimal("1E+999999999")) == "1E+999999999"  # not a billion digits
    assert cell_text(Decimal("-2.5E-400")) == "-2.5E-400"
    assert cell_text(Decimal("1E+99")) == "1" + "0" * 99  # up to 100 digits: plain


def test_lists_and_nested_records_are_written_as_json_and_bytes_as_base64() -> None:
    nested = {"tags": ["vip", "b2b"], "city": "Malmö", "balance": Decimal("12.50"), "since": date(2024, 5, 17)}

    assert cell_text(["vip", "b2b"]) == '["vip","b2b"]'
    assert cell_text(nested) == '{"tags":["vip","b2b"],"city":"Malmö","balance":"12.50","since":"2024-05-17"}'
    assert cell_text(("a", None, True, 1 << 70)) == f'["a",null,true,{1 << 70}]'
    assert cell_text(b"\x00\xffBrygga") == "AP9CcnlnZ2E="


async def test_a_key_written_as_a_number_is_found_again_as_text(customers: CsvConnector) -> None:
    results = await customers.write("c", [Write(CREATE, {"id": Decimal("10"), "name": "Ten"}, None)])

    assert keys_of(results) == ["10"]
    assert await customers.existing_keys("c", ["10"]) == {"10"}


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no text for you")


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (Write(CREATE, {"name": "no key"}, None), "the record has no value for its key 'id'"),
        (Write(CREATE, {"id": "", "name": "empty key"}, None), "the record has no value for its key 'id'"),
        (Write(UPDATE, {"id": None, "name": "key blanked"}, "1"), "the record has no value for its key 'id'"),
        (
            Write(UPDATE, {"id": "1", "emial": "a@b", "fax": "1"}, "1"),
            "columns 'emial', 'fax' are not in the file; its columns are: 'id', 'name', 'city', 'note' "
            "(Brygga never adds columns)",
        ),
        (Write(DELETE, None, None), "a delete needs the target key, and none was given"),
        (
            Write(UPDATE, {"note": Unprintable()}, "1"),
            "field 'note' cannot be written as text: RuntimeError('no text for you')",
        ),
        (
            Write(UPDATE, {"note": "x" * (MAX_CELL + 1)}, "1"),
            "field 'note' is 16,777,217 characters long; a CSV cell that Brygga reads back holds at most "
            "16,777,216: shorten the value in the mapping (a `truncate:N` transform) or in the source",
        ),
    ],
    ids=["no-key", "empty-key", "key-blanked", "unknown-columns", "delete-without-key", "str-raises", "cell-too-long"],
)
async def test_a_write_that_cannot_be_applied_fails_alone(
    customers: CsvConnector, folder: Path, write: Write, message: str
) -> None:
    results = await customers.write("c", [write, Write(UPDATE, {"name": "Bertil"}, "2")])

    error = results[0].error
    assert isinstance(error, PermanentError)
    assert str(error) == f"files/c.csv: {message}"
    assert results[1] == WriteResult("2")
    assert (await customers.get("c", ["2"]))["2"]["name"] == "Bertil"
    assert (await customers.get("c", ["1"]))["1"] == {"id": "1", "name": "Ann", "city": "Lund", "note": "keep me"}


async def test_a_character_the_encoding_cannot_hold_fails_that_write_only(system: SystemMaker, folder: Path) -> None:
    (folder / "k.csv").write_bytes("id;namn\r\n1;Åsa\r\n".encode("cp1252"))
    connector = system(k='{file: k.csv, key: id, delimiter: ";", encoding: cp1252}')

    results = await connector.write(
        "k", [Write(CREATE, {"id": 2, "namn": "Łukasz"}, None), Write(CREATE, {"id": 3, "namn": "Öl"}, None)]
    )

    assert str(results[0].error) == "files/k.csv: field 'namn': 'Ł' cannot be written in cp1252"
    assert results[1].ok
    assert (folder / "k.csv").read_bytes() == "id;namn\r\n1;Åsa\r\n3;Öl\r\n".encode("cp1252")


async def test_composite_keys_are_written_and_found_by_their_parts(system: SystemMaker, folder: Path) -> None:
    (folder / "l.csv").write_text("order,line,qty\nA,1,5\n", encoding="utf-8")
    connector = system(l="{file: l.csv, key: [order, line]}")

    results = await connector.write(
        "l",
        [
            Write(UPDATE, {"qty": 6}, '["A","1"]'),
            Write(CREATE, {"order": "A", "line": 2, "qty": 1}, None),
            Write(UPDATE, {"qty": 9}, '["B", "1"]'),
            Write(DELETE, None, "A"),
        ],
    )

    assert [result.target_key for result in results[:3]] == ['["A","1"]', '["A","2"]', '["B","1"]']
    assert str(results[3].error) == "files/l.csv: a delete: 'A' is not a key of 2 parts (a JSON list of 2 texts)"
    assert (folder / "l.csv").read_text(encoding="utf-8") == "order,line,qty\nA,1,6\nA,2,1\nB,1,9\n"


async def test_rows_not_written_stay_exactly_as_they_were(system: SystemMaker, folder: Path) -> None:
    (folder / "r.csv").write_text("id,name,city\n1,short\n2,Bo,Lund,extra\n\n3,Cy,Visby\n", encoding="utf-8")
    connector = system(r="{file: r.csv, key: id}")

    await connector.write("r", [Write(UPDATE, {"name": "Cyril"}, "3")])

    assert (folder / "r.csv").read_text(encoding="utf-8") == "id,name,city\n1,short\n2,Bo,Lund,extra\n\n3,Cyril,Visby\n"


async def test_an_updated_short_row_gets_its_missing_cells(system: SystemMaker, folder: Path) -> None:
    (folder / "r.csv").write_text("id,name,city\n1\n", encoding="utf-8")
    connector = system(r="{file: r.csv, key: id}")

    await connector.write("r", [Write(UPDATE, {"city": "Lund"}, "1")])

    assert (folder / "r.csv").read_text(encoding="utf-8") == "id,name,city\n1,,Lund\n"


async def test_a_rewrite_keeps_the_file_mode(customers: CsvConnector, folder: Path) -> None:
    (folder / "c.csv").chmod(0o640)

    await customers.write("c", [Write(DELETE, None, "1")])

    assert stat.S_IMODE((folder / "c.csv").stat().st_mode) == 0o640


async def test_a_symbolic_link_stays_and_the_file_it_points_to_is_rewritten(
    system: SystemMaker, folder: Path, tmp_path: Path
) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (real / "c.csv").write_text("id,name\n1,Ann\n", encoding="utf-8")
    (folder / "c.csv").symlink_to(real / "c.csv")
    connector = system(c="{file: c.csv, key: id}")

    await connector.write("c", [Write(CREATE, {"id": 2, "name": "Bo"}, None)])

    assert (folder / "c.csv").is_symlink()
    assert (real / "c.csv").read_text(encoding="utf-8") == "id,name\n1,Ann\n2,Bo\n"


async def test_a_file_not_valid_in_its_encoding_fails_the_batch_and_is_left_alone(
    system: SystemMaker, folder: Path
) -> None:
    original = b"id,name\n1,Ann\n2," + "Åsa".encode("cp1252") + b"\n"
    (folder / "c.csv").write_bytes(original)
    connector = system(c="{file: c.csv, key: id}")

    with pytest.raises(CsvFileError, match=r"^files/c.csv:3: not valid utf-8"):
        await connector.write("c", [Write(UPDATE, {"name": "Anna"}, "1")])

    assert (folder / "c.csv").read_bytes() == original
    assert temp_files(folder) == []


async def test_a_target_without_its_key_column_fails_the_batch(system: SystemMaker, folder: Path) -> None:
    (folder / "c.csv").write_text("name\nAnn\n", encoding="utf-8")
    connector = system(c="{file: c.csv, key: id}")

    with pytest.raises(CsvFileError, match="the key column 'id' is not in the header"):
        await connector.write("c", [Write(CREATE, {"id": 1, "name": "Bo"}, None)])


async def test_no_writes_touch_nothing(customers: CsvConnector, folder: Path) -> None:
    before = (folder / "c.csv").stat()

    assert await customers.write("c", []) == []
    results = await customers.write("c", [Write(CREATE, {"name": "no key"}, None)])

    assert not results[0].ok
    assert (folder / "c.csv").stat().st_mtime_ns == before.st_mtime_ns
