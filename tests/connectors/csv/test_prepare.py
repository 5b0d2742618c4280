"""Preparing a stream and checking a system: every missing folder, file or column is named, with what is there."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import pytest

from app.errors import PermanentError
from connectors.csv.files import CsvFileError
from tests.connectors.csv.conftest import SystemMaker, csv_system


async def test_a_source_stream_reports_its_columns(system: SystemMaker, folder: Path) -> None:
    (folder / "c.csv").write_text("id,name,city\n1,a,b\n", encoding="utf-8")
    connector = system(c="{file: c.csv, key: id}")

    info = await connector.prepare("c")

    assert info.fields == ["id", "name", "city"]


async def test_a_missing_source_file_names_it_and_lists_the_files_there(system: SystemMaker, folder: Path) -> None:
    (folder / "kunder.csv").write_text("id\n", encoding="utf-8")
    (folder / "orders.csv").write_text("id\n", encoding="utf-8")
    (folder / "readme.md").write_text("notes\n", encoding="utf-8")
    connector = system(c="{file: customers.csv, key: id}")

    with pytest.raises(CsvFileError) as caught:
        await connector.prepare("c")

    assert isinstance(caught.value, PermanentError)
    assert str(caught.value) == (
        "files/customers.csv: the file does not exist; the folder has: 'kunder.csv', 'orders.csv'"
    )


async def test_a_missing_source_file_in_an_empty_folder_says_so(system: SystemMaker) -> None:
    connector = system(c="{file: customers.csv, key: id}")

    message = "files/customers.csv: the file does not exist, and its folder has no files"
    with pytest.raises(CsvFileError, match=f"^{re.escape(message)}$"):
        await connector.prepare("c")


@pytest.mark.parametrize(
    ("key", "missing"),
    [("customer_no", "'customer_no'"), ("[id, region]", "'region'")],
    ids=["single", "composite"],
)
async def test_a_missing_key_column_is_named_with_the_columns_there_are(
    system: SystemMaker, folder: Path, key: str, missing: str
) -> None:
    (folder / "c.csv").write_text("id,Name ,city\n1,a,b\n", encoding="utf-8")
    connector = system(c=f"{{file: c.csv, key: {key}}}")

    with pytest.raises(CsvFileError) as caught:
        await connector.prepare("c")

    assert str(caught.value) == (
        f"files/c.csv:1: the key column {missing} is not in the header; its columns are: 'id', 'Name ', 'city'"
    )


async def test_an_empty_source_file_says_it_needs_a_header(system: SystemMaker, folder: Path) -> None:
    (folder / "c.csv").write_bytes(b"")
    connector = system(c="{file: c.csv, key: id}")

    with pytest.raises(CsvFileError, match="the file is empty: it needs a header row naming its columns"):
        await connector.prepare("c")


async def test_a_target_file_must_have_every_written_column(system: SystemMaker, folder: Path) -> None:
    (folder / "c.csv").write_text("id,name\n", encoding="utf-8")
    connector = system(c="{file: c.csv, key: id}")

    with pytest.raises(CsvFileError) as caught:
        await connector.prepare("c", write_fields=["id", "email", "name", "phone"])

    assert str(caught.value) == (
        "files/c.csv:1: columns 'email', 'phone' are not in the header; its columns are: 'id', 'name' "
        "(Brygga never adds columns: add it to the file, or stop mapping it)"
    )


async def test_a_target_file_must_have_its_key_column(system: SystemMaker, folder: Path) -> None:
    (folder / "c.csv").write_text("name\n", encoding="utf-8")
    connector = system(c="{file: c.csv, key: id}")

    with pytest.raises(CsvFileError, match="the key column 'id' is not in the header; its columns are: 'name'"):
        await connector.prepare("c", write_fields=["name"])


async def test_a_target_file_that_is_not_there_yet_is_fine_and_has_the_written_fields(system: SystemMaker) -> None:
    connector = system(c="{file: c.csv, key: id}")

    info = await connector.prepare("c", write_fields=["name", "id", "city"])

    assert info.fields == ["name", "id", "city"]


async def test_a_new_target_file_needs_its_key_among_the_written_fields(system: SystemMaker) -> None:
    connector = system(c="{file: c.csv, key: [id, region]}")

    with pytest.raises(CsvFileError, match="the sync does not write its key 'region': map it"):
        await connector.prepare("c", write_fields=["id", "name"])


@pytest.mark.parametrize("write_fields", [None, ["id"]], ids=["source", "target"])
async def test_a_missing_folder_is_named(tmp_path: Path, write_fields: list[str] | None) -> None:
    connector = csv_system(tmp_path, {"c": "{file: c.csv, key: id}"}, path="exports/erp")

    with pytest.raises(CsvFileError) as caught:
        await connector.prepare("c", write_fields=write_fields)

    assert str(caught.value) == "exports/erp: the folder does not exist: create it, or correct the system's `path`"


async def test_a_folder_outside_the_project_is_shown_by_its_full_path(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    project = tmp_path / "project"
    project.mkdir()
    connector = csv_system(project, {"c": "{file: c.csv, key: id}"}, path=str(outside))

    with pytest.raises(CsvFileError, match=f"^{outside}: the folder does not exist"):
        await connector.check()


async def test_check_passes_on_a_folder_it_can_read_and_write(system: SystemMaker) -> None:
    connector = system(c="{file: c.csv, key: id}")

    await connector.check()


async def test_check_fails_on_a_path_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "export.csv").write_text("id\n", encoding="utf-8")
    connector = csv_system(tmp_path, {"c": "{file: c.csv, key: id}"}, path="export.csv")

    with pytest.raises(CsvFileError, match=r"^export\.csv: not a folder"):
        await connector.check()


async def test_check_names_a_folder_it_may_not_read(system: SystemMaker, monkeypatch: pytest.MonkeyPatch) -> None:
    connector = system(c="{file: c.csv, key: id}")
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # the tests may run as root, who may do anything

    with pytest.raises(CsvFileError, match=r"^files: Brygga may not read this folder"):
        await connector.check()


async def test_a_read_only_folder_passes_check_with_a_warning_but_fails_a_target_prepare(
    system: SystemMaker, folder: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    (folder / "c.csv").write_text("id\n", encoding="utf-8")
    connector = system(c="{file: c.csv, key: id}")
    monkeypatch.setattr(os, "access", lambda path, mode: not mode & os.W_OK)

    with caplog.at_level(logging.WARNING):
        await connector.check()
    await connector.prepare("c")
    with pytest.raises(CsvFileError, match=r"^files: Brygga may not write in this folder: a write creates a temporary"):
        await connector.prepare("c", write_fields=["id"])

    assert [record.getMessage() for record in caplog.records] == [
        "system files: Brygga may read but not write in files"
    ]


async def test_an_unknown_stream_is_a_permanent_error_naming_the_streams(system: SystemMaker) -> None:
    connector = system(c="{file: c.csv, key: id}", d="{file: d.csv, key: id}")

    with pytest.raises(PermanentError, match=r"system files has no stream 'x' \(its streams: c, d\)"):
        await connector.prepare("x")
