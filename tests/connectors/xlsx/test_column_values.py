"""A batch's cells converted column by column give what :func:`record_value` gives cell by cell."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import pytest

from connectors.xlsx.values import cell_value, column_values, record_value

COLUMNS: dict[str, list[Any]] = {
    "text": ["a", "b", "åäö"],
    "text with empty cells": ["a", "", "c", ""],
    "whole numbers": [1.0, -2.0, 0.0, 999_999_999_999_999.0],
    "whole numbers past 15 digits": [1.0, 1e15, -1e15, 1e300],
    "numbers with decimals": [0.37, 1.0, 0.1, 1e-05, 123456789.123456789, -0.5],
    "not numbers": [float("nan"), float("inf"), 1.0],
    "booleans": [True, False],
    "dates and times": [date(2024, 1, 2), datetime(2024, 1, 2, 3, 4), time(5, 6)],
    "durations": [timedelta(hours=26, minutes=30), timedelta(seconds=-5)],
    "mixed": ["", 1.0, 0.5, True, "x", date(2024, 1, 1), timedelta(minutes=1)],
    "whole numbers as calamine gives few": [1, 2, 3],
}


@pytest.mark.parametrize("cells", COLUMNS.values(), ids=COLUMNS.keys())
def test_a_column_reads_as_its_cells_do(cells: list[Any]) -> None:
    expected = [record_value(cell) for cell in cells]
    got = list(column_values(tuple(cells)))

    assert [(type(value), str(value)) for value in got] == [(type(value), str(value)) for value in expected]


def test_a_duration_is_written_to_a_cell_as_iso_8601_text() -> None:
    """A MariaDB TIME past a day reached a cell as Python's text (``4 days, 4:00:00``)."""
    assert [cell_value(value) for value in (timedelta(hours=100), -timedelta(minutes=90))] == ["PT100H", "PT-1H-30M"]
