"""Excel workbooks in and out of syncs with the real ``brygga`` CLI: xlsx → SQLite and SQLite → xlsx (SPEC 4)."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime
from pathlib import Path

import openpyxl
from openpyxl.styles import Font

from tests.cli.helpers import run_brygga

PROJECT = """\
version: 1
state: sqlite:///state.db
systems:
  sheets:
    connector: xlsx
    path: sheets
    streams:
      prices: {file: prices.xlsx, sheet: Prices, header_row: 2, key: sku}
      customers: {file: customers.xlsx, sheet: Customers, key: id}
  db:
    connector: sql
    url: sqlite:///db.sqlite
    streams:
      products: {table: products, key: sku}
      people: {table: people, key: id, delete: hard}
"""

PRICES_INTO_DB = """\
source: sheets.prices
target: db.products
fields:
  sku: sku
  name: name
  price: {from: price, type: decimal}
  valid_from: {from: valid_from, type: date}  # its date: a datetime cell (08:30) into a DATE column fails without it
  active: active
"""

PEOPLE_INTO_SHEET = """\
source: db.people
target: sheets.customers
mode: mirror
fields:
  id: id
  name: name
  since: {from: since, type: date}
"""


def _project(tmp_path: Path) -> Path:
    (tmp_path / "sheets").mkdir()
    (tmp_path / "mappings").mkdir()
    (tmp_path / "brygga.yaml").write_text(PROJECT)
    (tmp_path / "mappings" / "prices-into-db.yaml").write_text(PRICES_INTO_DB)
    (tmp_path / "mappings" / "people-into-sheet.yaml").write_text(PEOPLE_INTO_SHEET)
    with sqlite3.connect(tmp_path / "db.sqlite") as connection:
        connection.execute(
            "CREATE TABLE products (sku TEXT PRIMARY KEY, name TEXT, price NUMERIC, valid_from DATE, active BOOLEAN)"
        )
        connection.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, since DATE)")
    connection.close()
    return tmp_path / "brygga.yaml"


def _price_list(path: Path) -> None:
    """A price list as people send them: a title row, a bold header, a text SKU with leading zeros, an error."""
    book = openpyxl.Workbook()
    notes = book.active
    assert notes is not None
    notes.title = "Notes"
    notes.append(["Prices change every month."])
    sheet = book.create_sheet("Prices")
    sheet.append(["Price list, May 2024"])
    sheet.append(["sku", "name", "price", "valid_from", "active"])
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    sheet.append(["007", "Pen, blue", 12.5, date(2024, 5, 1), True])
    sheet.append(["A-2", "Åsa's paper", 0.1, datetime(2024, 5, 2, 8, 30), False])
    sheet.append([])
    sheet.append(["A-3", "Ink", "#DIV/0!", date(2024, 5, 3), True])
    book.save(path)


def _rows(db: Path, query: str) -> list[tuple[object, ...]]:
    connection = sqlite3.connect(db)
    try:
        return list(connection.execute(query))
    finally:
        connection.close()


def test_a_price_list_workbook_syncs_into_sqlite_and_an_error_cell_fails_its_record_alone(tmp_path: Path) -> None:
    project = _project(tmp_path)
    _price_list(tmp_path / "sheets" / "prices.xlsx")

    first = run_brygga("run", "prices-into-db", "-c", str(project))
    second = run_brygga("run", "prices-into-db", "-c", str(project))

    assert first.returncode == 1, first.stdout + first.stderr
    assert "read 3, created 2, updated 0, deleted 0, unchanged 0, skipped 0, failed 1" in first.stdout
    assert "record A-3, field price: cannot convert the error #DIV/0! (sheets/prices.xlsx, Prices!C6)" in first.stdout
    assert _rows(tmp_path / "db.sqlite", "SELECT sku, name, price, valid_from, active FROM products ORDER BY sku") == [
        ("007", "Pen, blue", 12.5, "2024-05-01", 1),
        ("A-2", "Åsa's paper", 0.1, "2024-05-02", 0),  # type: date keeps the day
    ]
    assert "created 0, updated 0, deleted 0" in second.stdout  # the dead letter is tried again, and fails again
    assert "failed 1" in second.stdout


def test_sqlite_into_a_workbook_creates_it_then_mirrors_changes(tmp_path: Path) -> None:
    project = _project(tmp_path)
    db = tmp_path / "db.sqlite"
    with sqlite3.connect(db) as connection:
        connection.execute(
            "INSERT INTO people VALUES (1, 'Åsa Öberg', '2020-01-31'), (2, '=1+1', NULL), (3, 'Cy', NULL)"
        )
    connection.close()
    workbook = tmp_path / "sheets" / "customers.xlsx"

    created = run_brygga("run", "people-into-sheet", "-c", str(project))
    with sqlite3.connect(db) as connection:
        connection.execute("DELETE FROM people WHERE id = 3")
        connection.execute("UPDATE people SET name = 'Bo' WHERE id = 2")
    connection.close()
    mirrored = run_brygga("run", "people-into-sheet", "-c", str(project))

    assert created.returncode == 0, created.stdout + created.stderr
    assert mirrored.returncode == 0, mirrored.stdout + mirrored.stderr
    assert "created 0, updated 1, deleted 1, unchanged 1" in mirrored.stdout
    sheet = openpyxl.load_workbook(workbook)["Customers"]
    assert [list(row) for row in sheet.iter_rows(values_only=True)] == [
        ["id", "name", "since"],
        [1, "Åsa Öberg", datetime(2020, 1, 31)],
        [2, "Bo", None],
    ]
    assert not [path.name for path in workbook.parent.iterdir() if path.name != "customers.xlsx"]


def test_excels_29_february_1900_fails_its_record_alone_naming_the_cell(tmp_path: Path) -> None:
    project = _project(tmp_path)
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Prices"
    sheet.append(["Price list, 1900"])
    sheet.append(["sku", "name", "price", "valid_from", "active"])
    sheet.append(["A-1", "Pen", 1, 60, True])  # serial 60: Excel shows 1900-02-29, a day that never was
    sheet.append(["A-2", "Ink", 2, 0, True])  # serial 0: LibreOffice shows 1899-12-30
    for row in (3, 4):
        sheet.cell(row=row, column=4).number_format = "yyyy-mm-dd"
    book.save(tmp_path / "sheets" / "prices.xlsx")

    done = run_brygga("run", "prices-into-db", "-c", str(project))

    assert done.returncode == 1, done.stdout + done.stderr
    assert "read 2, created 1, updated 0, deleted 0, unchanged 0, skipped 0, failed 1" in done.stdout
    assert "record A-1, field valid_from: " in done.stdout
    assert (
        "cannot convert 1900-02-29 (sheets/prices.xlsx, Prices!D3: Excel's 29 February 1900, a day that never was"
    ) in done.stdout
    assert "enter the real date in the cell) to date\n" in done.stdout  # no hint on date forms: it would mislead
    assert _rows(tmp_path / "db.sqlite", "SELECT sku, valid_from FROM products") == [("A-2", "1899-12-30")]
