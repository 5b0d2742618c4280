"""Values converted to their column's type: what converts, to what, and how a value that does not is reported."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    Uuid,
)
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

from connectors.sql.coercion import ColumnType, ColumnValueError, Kind, column_type, value_type

CET = timezone(timedelta(hours=1))
POSTGRESQL: Dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
SQLITE: Dialect = sqlite.dialect()


@pytest.mark.parametrize(
    ("sql_type", "kind"),
    [
        (Integer(), Kind.INTEGER),
        (BigInteger(), Kind.INTEGER),
        (Numeric(12, 2), Kind.DECIMAL),
        (Float(), Kind.FLOAT),
        (postgresql.DOUBLE_PRECISION(), Kind.FLOAT),
        (Boolean(), Kind.BOOLEAN),
        (mysql.TINYINT(display_width=1), Kind.BOOLEAN),
        (mysql.TINYINT(), Kind.INTEGER),
        (Date(), Kind.DATE),
        (DateTime(), Kind.DATETIME),
        (String(20), Kind.TEXT),
        (Text(), Kind.TEXT),
        (postgresql.ENUM("a", "b", name="grade"), Kind.TEXT),
        (Uuid(), Kind.UUID),
        (LargeBinary(), Kind.BYTES),
        (JSON(), Kind.OTHER),
        (postgresql.ARRAY(Text()), Kind.LIST),
        (postgresql.INTERVAL(), Kind.OTHER),
    ],
)
def test_column_types_are_known_by_kind(sql_type: TypeEngine[Any], kind: Kind) -> None:
    assert column_type(sql_type, POSTGRESQL).kind is kind


def test_a_column_type_is_named_as_the_database_names_it() -> None:
    assert column_type(Numeric(12, 2), POSTGRESQL).name == "NUMERIC(12, 2)"
    assert column_type(DateTime(timezone=True), POSTGRESQL) == ColumnType(
        Kind.DATETIME, "TIMESTAMP WITH TIME ZONE", aware=True
    )
    assert column_type(DateTime(timezone=True), SQLITE).name == "DATETIME"


INTEGER = ColumnType(Kind.INTEGER, "INTEGER")
DECIMAL = ColumnType(Kind.DECIMAL, "NUMERIC(12, 2)")
FLOAT = ColumnType(Kind.FLOAT, "DOUBLE")
BOOLEAN = ColumnType(Kind.BOOLEAN, "BOOLEAN")
DATE = ColumnType(Kind.DATE, "DATE")
NAIVE = ColumnType(Kind.DATETIME, "TIMESTAMP")
AWARE = ColumnType(Kind.DATETIME, "TIMESTAMPTZ", aware=True)
TEXT = ColumnType(Kind.TEXT, "TEXT")
UUID = ColumnType(Kind.UUID, "UUID")
OTHER = ColumnType(Kind.OTHER, "JSON")
LIST = ColumnType(Kind.LIST, "TEXT[]")
AN_ID = uuid.UUID("12345678-1234-5678-1234-567812345678")


@pytest.mark.parametrize(
    ("column", "value", "converted"),
    [
        (INTEGER, 7, 7),
        (INTEGER, " 42 ", 42),
        (INTEGER, "7.0", 7),
        (INTEGER, 7.0, 7),
        (INTEGER, Decimal("12"), 12),
        (INTEGER, True, 1),
        (DECIMAL, "12.50", Decimal("12.50")),
        (DECIMAL, 0.1, Decimal("0.1")),
        (DECIMAL, 3, Decimal(3)),
        (FLOAT, "1.5", 1.5),
        (FLOAT, Decimal("2.25"), 2.25),
        (BOOLEAN, "yes", True),
        (BOOLEAN, "FALSE", False),
        (BOOLEAN, 0, False),
        (DATE, "2024-02-29", date(2024, 2, 29)),
        (DATE, "2024-02-29T00:00:00+01:00", date(2024, 2, 29)),  # midnight where it was written down
        (DATE, datetime(2024, 2, 29), date(2024, 2, 29)),
        (NAIVE, "2024-05-01T14:00:00+02:00", datetime(2024, 5, 1, 12, 0)),
        (NAIVE, "2024-05-01 12:00:00Z", datetime(2024, 5, 1, 12, 0)),
        (NAIVE, datetime(2024, 5, 1, 12, 0), datetime(2024, 5, 1, 12, 0)),
        (NAIVE, date(2024, 5, 1), datetime(2024, 5, 1)),
        (AWARE, datetime(2024, 5, 1, 12, 0), datetime(2024, 5, 1, 12, 0, tzinfo=UTC)),
        (AWARE, datetime(2024, 5, 1, 13, 0, tzinfo=CET), datetime(2024, 5, 1, 13, 0, tzinfo=CET)),
        (TEXT, "åäö", "åäö"),
        (TEXT, 7, "7"),
        (TEXT, Decimal("1.50"), "1.50"),
        (TEXT, True, "true"),
        (TEXT, date(2024, 5, 1), "2024-05-01"),
        (UUID, str(AN_ID), AN_ID),
        (ColumnType(Kind.TIME, "TIME"), "08:30", time(8, 30)),
        (ColumnType(Kind.BYTES, "BLOB"), bytearray(b"ab"), b"ab"),
        (OTHER, {"any": ["thing"]}, {"any": ["thing"]}),
        (LIST, ("a", "b"), ["a", "b"]),
        (INTEGER, None, None),
    ],
)
def test_values_convert_to_their_columns_type(column: ColumnType, value: Any, converted: Any) -> None:
    result = column.convert(value)

    assert result == converted
    assert type(result) is type(converted)


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        (INTEGER, "abc", "cannot convert 'abc' to a whole number"),
        (INTEGER, 7.5, "cannot convert 7.5 to a whole number"),
        (INTEGER, "Infinity", "cannot convert 'Infinity' to a whole number"),
        (DECIMAL, "abc", "cannot convert 'abc' to a decimal number"),
        (DECIMAL, "NaN", "cannot convert 'NaN' to a decimal number"),
        (DECIMAL, True, "cannot convert True to a decimal number"),
        (FLOAT, "one", "cannot convert 'one' to a number"),
        (BOOLEAN, "maybe", "cannot convert 'maybe' to true or false"),
        (BOOLEAN, 2, "cannot convert 2 to true or false"),
        (DATE, "31/12/2024", "cannot convert '31/12/2024' to a date (YYYY-MM-DD)"),
        (DATE, 20240101, "cannot convert 20240101 to a date (YYYY-MM-DD)"),
        (NAIVE, "yesterday", "cannot convert 'yesterday' to a date and time (ISO 8601)"),
        (LIST, "abc", "cannot convert 'abc' to a list (the column is an array)"),
        (LIST, {"a": 1}, "cannot convert {'a': 1} to a list (the column is an array)"),
        (TEXT, {"a": 1}, "cannot convert {'a': 1} to text"),
        (UUID, "not-a-uuid", "cannot convert 'not-a-uuid' to a UUID"),
        (TEXT, ["x" * 100], "cannot convert " + repr(["x" * 100])[:57] + "… to text"),
    ],
)
def test_a_value_that_does_not_convert_says_what_was_expected(column: ColumnType, value: Any, message: str) -> None:
    with pytest.raises(ColumnValueError) as caught:
        column.convert(value)

    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (True, Kind.BOOLEAN),
        (7, Kind.INTEGER),
        (Decimal("1"), Kind.DECIMAL),
        (1.5, Kind.FLOAT),
        (datetime(2024, 1, 1), Kind.DATETIME),
        (date(2024, 1, 1), Kind.DATE),
        ("x", Kind.TEXT),
        (AN_ID, Kind.UUID),
        (b"x", Kind.BYTES),
        ([1], Kind.OTHER),
    ],
)
def test_a_value_read_from_a_query_suggests_its_columns_kind(value: Any, kind: Kind) -> None:
    assert value_type(value).kind is kind


def test_an_aware_value_suggests_an_aware_column() -> None:
    assert value_type(datetime(2024, 1, 1, tzinfo=UTC)).aware


MARIADB: Dialect = mysql.dialect()


@pytest.mark.parametrize(
    ("sql_type", "dialect", "fraction"),
    [
        (postgresql.TIMESTAMP(precision=0), POSTGRESQL, 0),
        (postgresql.TIMESTAMP(timezone=True, precision=3), POSTGRESQL, 3),
        (postgresql.TIMESTAMP(), POSTGRESQL, None),  # PostgreSQL's default: microseconds
        (postgresql.TIME(precision=0), POSTGRESQL, 0),
        (mysql.DATETIME(), MARIADB, 0),  # MariaDB's default: whole seconds
        (mysql.DATETIME(fsp=3), MARIADB, 3),
        (mysql.TIMESTAMP(fsp=6), MARIADB, None),
        (mysql.TIME(), MARIADB, 0),
        (DateTime(), SQLITE, None),  # SQLite keeps the text it is given
    ],
)
def test_the_digits_of_a_second_a_column_keeps_are_known(
    sql_type: TypeEngine[Any], dialect: Dialect, fraction: int | None
) -> None:
    assert column_type(sql_type, dialect).fraction == fraction


@pytest.mark.parametrize(
    ("column", "value", "start"),
    [
        (DATE, datetime(2024, 2, 29, 23, 30), "2024-02-29T23:30:00 has a time of day, which a date column would drop"),
        (DATE, "2024-02-29T23:30:00+01:00", "2024-02-29T23:30:00+01:00 has a time of day"),
        (
            ColumnType(Kind.DATETIME, "TIMESTAMP(0)", fraction=0),
            "2024-05-01T12:00:00.5",
            "2024-05-01T12:00:00.500000 has more digits of a second than the column keeps (whole seconds)",
        ),
        (
            ColumnType(Kind.DATETIME, "DATETIME(1)", fraction=1),
            datetime(2024, 5, 1, 12, 0, 0, 10),
            "2024-05-01T12:00:00.000010 has more digits of a second than the column keeps (1 digit of a second)",
        ),
        (ColumnType(Kind.TIME, "TIME(2)", fraction=2), time(8, 0, 0, 1), "08:00:00.000001 has more digits"),
        (
            ColumnType(Kind.TIME, "TIME", durations=True, fraction=0),
            timedelta(hours=-30, microseconds=500_000),
            "PT-29H-59M-59.5S has more digits",
        ),
        (
            ColumnType(Kind.TIME, "TIME"),
            datetime(2024, 5, 1, 8, 30),
            "2024-05-01T08:30:00 has a date, which a time column would drop: map the field with transform: "
            '["date:%H:%M:%S"] to write its time of day alone, or write it into a timestamp column',
        ),
        (ColumnType(Kind.TIME, "TIME"), datetime(2024, 5, 1), "2024-05-01T00:00:00 has a date"),
        (ColumnType(Kind.TIME, "TIME", durations=True), datetime(2024, 5, 1, 8, 30), "2024-05-01T08:30:00 has a date"),
        (ColumnType(Kind.TIME, "TIME"), "2024-05-01T08:30:00+02:00", "2024-05-01T08:30:00+02:00 has a date"),
        (ColumnType(Kind.TIME, "TIME", durations=True), " 2024-05-01 08:30 ", "2024-05-01 08:30 has a date"),
        (ColumnType(Kind.TIME, "TIME"), "2024-05-01", "cannot convert '2024-05-01' to a time of day"),
    ],
)
def test_a_value_the_column_would_change_says_so(column: ColumnType, value: Any, start: str) -> None:
    with pytest.raises(ColumnValueError) as caught:
        column.convert(value)

    assert str(caught.value).startswith(start)


def test_a_fraction_of_a_second_the_column_keeps_is_kept() -> None:
    column = ColumnType(Kind.DATETIME, "DATETIME(3)", fraction=3)

    assert column.convert("2024-05-01T14:00:00.001+02:00") == datetime(2024, 5, 1, 12, 0, 0, 1000)
    assert column.convert(datetime(2024, 5, 1, 12)) == datetime(2024, 5, 1, 12)
