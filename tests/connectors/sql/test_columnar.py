"""The column-by-column way for like upserts: what it takes as is, what it converts, what it leaves to rows."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from connectors.base import Write, WriteAction, format_key, key_text
from connectors.sql.coercion import ColumnType, ColumnValueError, Kind
from connectors.sql.columnar import column_rows, results

TYPES = {
    "id": ColumnType(Kind.INTEGER, "INTEGER"),
    "amount": ColumnType(Kind.DECIMAL, "NUMERIC"),
    "at": ColumnType(Kind.DATETIME, "TIMESTAMP"),
    "gone": ColumnType(Kind.BOOLEAN, "BOOLEAN"),
}
CREATE, DELETE = WriteAction.CREATE, WriteAction.DELETE


def write(record: dict[str, object]) -> Write:
    return Write(CREATE, record, None)


def test_values_of_their_columns_types_pass_untouched() -> None:
    moment = datetime(2024, 3, 5, 9, 30)
    batch = [write({"id": 1, "amount": Decimal("1.5"), "at": moment}), write({"id": 2, "amount": None, "at": None})]
    prepared = column_rows(batch, ["id"], TYPES, None)

    assert prepared == (("id", "amount", "at"), [(1, Decimal("1.5"), moment), (2, None, None)], [(1,), (2,)])


def test_a_column_that_needs_it_is_converted() -> None:
    aware = datetime(2024, 3, 5, 9, 30, tzinfo=UTC)
    prepared = column_rows([write({"id": "7", "amount": "2.50", "at": aware})], ["id"], TYPES, None)

    assert prepared is not None
    assert prepared[1] == [(7, Decimal("2.50"), datetime(2024, 3, 5, 9, 30))]


def test_whole_columns_of_text_convert_as_value_by_value() -> None:
    types = {
        "id": ColumnType(Kind.INTEGER, "INTEGER"),
        "amount": ColumnType(Kind.DECIMAL, "NUMERIC"),
        "born": ColumnType(Kind.DATE, "DATE"),
        "at": ColumnType(Kind.DATETIME, "TIMESTAMP"),
        "aware": ColumnType(Kind.DATETIME, "TIMESTAMPTZ", aware=True),
        "rate": ColumnType(Kind.FLOAT, "FLOAT"),
    }
    texts = [
        {"id": 1, "amount": "2.50", "born": "2020-02-29", "at": "2024-03-05T09:30:00Z",
         "aware": "2024-03-05T09:30:00", "rate": 3},
        {"id": 2, "amount": " 7 ", "born": " 2020-03-01", "at": "2024-03-05 10:30:00+01:00",
         "aware": "2024-03-05T09:30:00+02:00", "rate": 2.5},
    ]  # fmt: skip
    prepared = column_rows([write(record) for record in texts], ["id"], types, None)

    assert prepared is not None
    by_value = [tuple(types[name].convert(value) for name, value in record.items()) for record in texts]
    assert prepared[1] == by_value
    assert [type(value) for value in prepared[1][0]] == [int, Decimal, date, datetime, datetime, float]


NUMBERS = [  # as a workbook gives them: whole numbers as int, others as Decimal
    {"id": 1, "price": 37, "weight": Decimal("0.125")},
    {"id": 2, "price": Decimal("0.37"), "weight": 2},
    {"id": 3, "price": Decimal("-1E+3"), "weight": 0.5},
]


@pytest.mark.parametrize("numbers", [NUMBERS, [*NUMBERS, {"id": 4, "price": 5, "weight": Decimal("Infinity")}]])
def test_whole_columns_of_numbers_convert_as_value_by_value(numbers: list[dict[str, Any]]) -> None:
    types = {"id": TYPES["id"], "price": TYPES["amount"], "weight": ColumnType(Kind.FLOAT, "REAL")}
    prepared = column_rows([write(record) for record in numbers], ["id"], types, None)

    assert prepared is not None
    by_value = [tuple(types[name].convert(value) for name, value in record.items()) for record in numbers]
    assert [[(type(value), str(value)) for value in row] for row in prepared[1]] == [
        [(type(value), str(value)) for value in row] for row in by_value
    ]


@pytest.mark.parametrize("bad", [Decimal("NaN"), Decimal("-Infinity"), Decimal("sNaN")])
def test_a_decimal_column_given_a_decimal_that_is_no_number_leaves_it_to_rows(bad: Decimal) -> None:
    """A decimal passed as it came (a PostgreSQL numeric NaN): SQLite stored NULL for it, MariaDB read NaN as
    a column's name."""
    types = {"id": TYPES["id"], "price": TYPES["amount"]}

    assert (
        column_rows([write({"id": 1, "price": Decimal("1.5")}), write({"id": 2, "price": bad})], ["id"], types, None)
        is None
    )
    with pytest.raises(ColumnValueError, match="cannot convert"):
        types["price"].convert(bad)


def test_a_column_with_a_value_that_does_not_convert_is_left_to_rows_whatever_else_it_holds() -> None:
    types = {"id": ColumnType(Kind.INTEGER, "INTEGER"), "amount": ColumnType(Kind.DECIMAL, "NUMERIC")}
    for bad in ("NaN", "Infinity", "lots", ""):
        assert (
            column_rows([write({"id": 1, "amount": "1.5"}), write({"id": 2, "amount": bad})], ["id"], types, None)
            is None
        )


def test_a_soft_delete_column_is_cleared_on_every_row() -> None:
    prepared = column_rows([write({"id": 1}), write({"id": 2})], ["id"], TYPES, ("gone", False))

    assert prepared == (("id", "gone"), [(1, False), (2, False)], [(1,), (2,)])


def test_anything_unusual_is_left_to_the_row_by_row_way() -> None:
    unusual = [
        [write({"id": 1}), Write(DELETE, None, "2")],  # a delete
        [write({"id": 1}), write({"id": 2, "amount": Decimal(1)})],  # other fields
        [write({"id": 1, "amount": "lots"})],  # a value that does not convert
        [write({"id": 1}), write({"id": 1})],  # a key twice
        [write({"id": None})],  # no key
        [write({"id": 1, "unknown": 2})],  # a column the table lacks
    ]

    assert [column_rows(batch, ["id"], TYPES, None) for batch in unusual] == [None] * len(unusual)


def test_results_carry_key_text_and_whether_new() -> None:
    told = results([(1,), (2,)], {(1,)}, report=True)
    untold = results([(1,)], set(), report=False)

    assert [(r.target_key, r.created) for r in told] == [("1", False), ("2", True)]
    assert [(r.target_key, r.created, r.ok) for r in untold] == [("1", None, True)]


def test_an_integer_beyond_its_columns_type_is_left_to_rows_where_it_fails_alone() -> None:
    """A webhook's id of 4,301 digits reached the database, whose refusal then crashed the run as its key was
    written into the error (str() of such an integer raises)."""
    huge = 10**4400
    types = {"id": TYPES["id"], "price": ColumnType(Kind.INTEGER, "INTEGER")}

    assert column_rows([write({"id": 1, "price": 5}), write({"id": 2, "price": huge})], ["id"], types, None) is None
    with pytest.raises(
        ColumnValueError, match=r"^100000.*… is beyond what the column's type holds \(-9223372036854775808 to "
    ):
        types["price"].convert(huge)
    assert key_text(huge) == "1" + "0" * 4400 and format_key([huge]) == key_text(huge)
