"""The scan for date cells calamine reads wrong, over sheet XML as writers other than openpyxl lay it out.

The scan starts from each date style's attribute (``s="1"``), not from each cell: what it must still tell
apart is which element that attribute belongs to, and whether it is the style at all.
"""

from __future__ import annotations

import pytest

from connectors.xlsx.date_cells import DateCells

DATE_STYLES = [1, 12]


def _found(xml: bytes, *, in_1904: bool = False) -> dict[tuple[int, int], float]:
    found: dict[tuple[int, int], float] = {}
    DateCells(DATE_STYLES, in_1904).collect(xml, found)
    return found


@pytest.mark.parametrize(
    ("xml", "expected"),
    [
        (b'<c r="B2" s="1"><v>0</v></c>', {(1, 1): 0.0}),
        (b'<c s="1" r="B2" t="n"><v>-3</v></c>', {(1, 1): -3.0}),  # the style before the reference
        (b'<c r="C7" s="12"><f>A1-A1</f><v>0.25</v></c>', {(6, 2): 0.25}),  # a formula's value
        (b'<c r="D3" s="12"><f t="shared" si="0"/><v>60</v></c>', {(2, 3): 60.0}),
        (b'<c r="E4"\n s="1"\tt="n"><v>1E-3</v></c>', {(3, 4): 0.001}),  # spaces of any kind between
        (b'<c r="B2" s="1"><v>45000</v></c>', {}),  # a date calamine reads right
        (b'<c r="B2" s="2"><v>0</v></c>', {}),  # not a date style
        (b'<c r="B2" s="1" t="b"><v>0</v></c>', {}),  # a boolean styled as a date
        (b'<c r="B2" s="1" t="e"><v>#N/A</v></c>', {}),
        (b'<c r="B2" xs="1"><v>0</v></c>', {}),  # another attribute whose name ends in s
        (b'<row r="2" s="1" customFormat="1"><c r="B2"><v>0</v></c></row>', {}),  # a row's style
        (b'<col min="1" max="2" s="1"/><c r="B2"><v>0</v></c>', {}),
        (b'<c r="B2" s="1"/><c r="C2"><v>0</v></c>', {}),  # an empty date cell, then a plain 0
    ],
)
def test_date_cells_below_one_are_found_by_their_style_whatever_the_tag_looks_like(
    xml: bytes, expected: dict[tuple[int, int], float]
) -> None:
    assert _found(xml) == expected


def test_the_cells_of_a_row_are_each_found_in_turn() -> None:
    row = b'<row r="9"><c r="A9" s="1"><v>0</v></c><c r="B9" t="b"><v>0</v></c><c r="C9" s="12"><v>-1</v></c></row>'
    assert _found(row) == {(8, 0): 0.0, (8, 2): -1.0}


def test_serial_sixty_is_a_date_calamine_reads_right_in_a_1904_workbook() -> None:
    assert _found(b'<c r="B2" s="1"><v>60</v></c>', in_1904=True) == {}
