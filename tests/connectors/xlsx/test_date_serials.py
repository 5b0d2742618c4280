"""Date cells at the edges of Excel's serial numbers: each reads as LibreOffice shows it, or fails alone.

calamine read a date-formatted 0 or negative number as the time 00:00, serial 0 of a 1904 workbook too,
and Excel's 29 February 1900 (serial 60, a day that never was) as 28 February, silently.
"""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from app.record_checks import UnreadableValue
from tests.connectors.xlsx.conftest import SystemMaker, records_of
from tests.connectors.xlsx.libreoffice import sheets_as_shown, shows_as

DAY, MOMENT, CLOCK = "yyyy-mm-dd", "yyyy-mm-dd hh:mm:ss", "hh:mm:ss"
EDGES: list[tuple[float, float, float]] = [  # (day: a whole serial, moment: a serial with a time, clock: a time of day)
    (0, 0.5, 0.25),
    (-1, -0.5, 0.75),
    (-400, -0.25, 0),
    (61, 61.75, 0.5),
    (45000, 45000.5, 0.125),
]


def _workbook(path: Path, rows: list[tuple[float, float, float]], *, in_1904: bool = False) -> Path:
    """A workbook made by openpyxl whose cells hold these serial numbers, formatted as dates and times."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Dates"
    sheet.append(["id", "day", "moment", "clock"])
    for number, serials in enumerate(rows, start=1):
        sheet.append([number, *serials])
        for cell, shape in zip(sheet[number + 1][1:], (DAY, MOMENT, CLOCK), strict=True):
            cell.number_format = shape
    if in_1904:
        book.epoch = CALENDAR_MAC_1904
    book.save(path)
    return path


@pytest.mark.parametrize("in_1904", [False, True], ids=["1900-system", "1904-system"])
async def test_date_cells_at_the_serials_edges_read_as_libreoffice_shows_them(
    system: SystemMaker, folder: Path, tmp_path: Path, in_1904: bool
) -> None:
    _workbook(folder / "dates.xlsx", EDGES, in_1904=in_1904)

    records = await records_of(system(dates="{file: dates.xlsx, key: id}"), "dates")

    header, *rows = sheets_as_shown([folder / "dates.xlsx"], tmp_path / "shown")[("dates", "Dates")]
    assert header == ["id", "day", "moment", "clock"]
    mismatches = [
        (record["id"], name, record[name], text)
        for record, row in zip(records, rows, strict=True)
        for name, text in zip(header, row, strict=True)
        if not _shows_as(record[name], text)
    ]
    assert mismatches == []


def _shows_as(value: object, text: str) -> bool:
    """:func:`shows_as`, times of day as ``hh:mm:ss`` shows them (not US English's ``06:00:00 AM``)."""
    return text == value.strftime("%H:%M:%S") if isinstance(value, time) else shows_as(value, text)


async def test_serial_zero_and_negative_serials_are_dates_not_times(system: SystemMaker, folder: Path) -> None:
    _workbook(folder / "dates.xlsx", EDGES[:3])
    _workbook(folder / "mac.xlsx", EDGES[:1], in_1904=True)

    records = await records_of(system(dates="{file: dates.xlsx, key: id}"), "dates")
    mac = await records_of(system(mac="{file: mac.xlsx, key: id}"), "mac")

    assert [(record["day"], record["moment"], record["clock"]) for record in records] == [
        (date(1899, 12, 30), datetime(1899, 12, 30, 12), time(6)),
        (date(1899, 12, 29), datetime(1899, 12, 29, 12), time(18)),
        (date(1898, 11, 25), datetime(1899, 12, 29, 18), time(0)),
    ]
    assert (mac[0]["day"], mac[0]["moment"]) == (date(1904, 1, 1), datetime(1904, 1, 1, 12))


async def test_excels_29_february_1900_reads_as_an_unreadable_value_naming_its_cell(
    system: SystemMaker, folder: Path
) -> None:
    _workbook(folder / "dates.xlsx", [(60, 60.5, 0), (59, 59.5, 0), (61, 1, 0)])

    leap, before, after = await records_of(system(dates="{file: dates.xlsx, key: id}"), "dates")

    day, moment = leap["day"], leap["moment"]
    assert isinstance(day, UnreadableValue) and isinstance(moment, UnreadableValue)
    assert (day.text, day.where) == ("1900-02-29", "files/dates.xlsx, Dates!B2")
    assert (moment.text, moment.where) == ("1900-02-29 12:00:00", "files/dates.xlsx, Dates!C2")
    assert "Excel's 29 February 1900, a day that never was" in day.reason()
    # before 1 March 1900 as Excel shows them, as the file format defines them (LibreOffice: a day earlier)
    assert (before["day"], before["moment"]) == (date(1900, 2, 28), datetime(1900, 2, 28, 12))
    assert (after["day"], after["moment"]) == (date(1900, 3, 1), date(1900, 1, 1))


async def test_a_text_cell_styled_as_a_date_stays_text(system: SystemMaker, folder: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["id", "day"])
    sheet.append([1, "0"])
    sheet.append([2, 0])
    for row in (2, 3):
        sheet.cell(row=row, column=2).number_format = DAY
    book.save(folder / "text.xlsx")

    records = await records_of(system(text="{file: text.xlsx, key: id}"), "text")

    assert [record["day"] for record in records] == ["0", date(1899, 12, 30)]
