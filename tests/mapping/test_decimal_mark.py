"""``decimal_mark``: which of ``.`` and ``,`` is a number's decimal mark, the other a thousands separator."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from app.mapping.conversions import ConversionError, converter
from tests.mapping.conftest import SYNC, OpenSync


@pytest.mark.parametrize(
    ("mark", "text", "number"),
    [
        (".", "1,234", Decimal("1234")),
        (".", "1,234.5", Decimal("1234.5")),
        (".", "1,234,567.25", Decimal("1234567.25")),
        (".", "12.5", Decimal("12.5")),
        (".", "-1,234", Decimal("-1234")),
        (".", "1 234.5", Decimal("1234.5")),
        (".", "1\u00a0234.5", Decimal("1234.5")),
        (".", "1\u2009234.5", Decimal("1234.5")),
        (",", "1.234,5", Decimal("1234.5")),
        (",", "1,5", Decimal("1.5")),
        (",", "12 500,50", Decimal("12500.50")),
        (",", "1\u202f234,5", Decimal("1234.5")),
        (",", "1.234.567", Decimal("1234567")),
        (",", "1234", Decimal("1234")),
    ],
)
def test_decimal_text_is_read_by_its_mark(mark: str, text: str, number: Decimal) -> None:
    converted = converter("decimal", mark)(text)

    assert converted == number
    assert str(converted) == str(number)


@pytest.mark.parametrize(
    ("mark", "text"),
    [(".", "1,2"), (".", "12,34,5"), (".", "1,5"), (".", "1.234,5"), (".", "1,23.4"), (",", "1.2"), (",", "1,234.5")],
)
def test_a_separator_in_a_wrong_place_fails_rather_than_misread(mark: str, text: str) -> None:
    with pytest.raises(ConversionError, match="cannot convert"):
        converter("decimal", mark)(text)


@pytest.mark.parametrize(
    ("type_name", "mark", "value", "result"),
    [
        ("number", ".", "1,234.5", 1234.5),
        ("number", ",", "1.234,5", 1234.5),
        ("integer", ".", "1,234", 1234),
        ("integer", ",", "1.234", 1234),
        ("decimal", ",", 1.25, Decimal("1.25")),
        ("decimal", ",", Decimal("1.234"), Decimal("1.234")),
        ("integer", ",", 7, 7),
        ("number", ",", 2.5, 2.5),
    ],
)
def test_numbers_and_integers_follow_the_mark_and_numbers_stay_as_they_are(
    type_name: str, mark: str, value: Any, result: Any
) -> None:
    assert converter(type_name, mark)(value) == result


def test_the_mapping_reads_by_the_fields_mark(open_sync: OpenSync) -> None:
    workspace = open_sync(
        """\
        fields:
          customer_no: id
          plain: {from: a, type: decimal}
          nordic: {from: b, type: decimal, decimal_mark: ","}
          count: {from: c, type: integer, decimal_mark: ","}
          fallback: {from: d, type: decimal, decimal_mark: ",", default: "0,5"}
        """
    )
    mapping = workspace.mappings[SYNC]

    mapped = mapping.apply({"id": 1, "a": "1,234", "b": "1.234", "c": "2.000"})

    assert mapped == {
        "customer_no": 1,
        "plain": Decimal("1234"),
        "nordic": Decimal("1234"),
        "count": 2000,
        "fallback": Decimal("0.5"),
    }


def test_a_misplaced_comma_fails_the_record(open_sync: OpenSync) -> None:
    workspace = open_sync("fields:\n  customer_no: id\n  plain: {from: a, type: decimal}\n")

    with pytest.raises(Exception, match="cannot convert '1,2' to decimal"):
        workspace.mappings[SYNC].apply({"id": 1, "a": "1,2"})
