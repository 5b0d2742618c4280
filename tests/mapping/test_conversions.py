"""``type:`` conversions: what each type accepts, what it rejects, and how it says so."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from app.mapping.conversions import (
    CONVERTERS,
    ConversionError,
    converter,
    parse_number_text,
    to_boolean,
    to_date,
    to_datetime,
    to_decimal,
    to_integer,
    to_number,
    to_string,
)

# --- numbers ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("12 500.50", Decimal("12500.50")),
        ("12\u00a0500.50", Decimal("12500.50")),  # no-break space, as spreadsheets write it
        ("12\u202f500.50", Decimal("12500.50")),  # narrow no-break space
        ("1'234.50", Decimal("1234.50")),  # Swiss grouping
        ("1,234.50", Decimal("1234.50")),
        ("1,234,567", Decimal("1234567")),
        ("-1,234.5", Decimal("-1234.5")),
        ("+5", Decimal("5")),
        ("12.50", Decimal("12.50")),
        (".5", Decimal("0.5")),
        ("1e3", Decimal("1E+3")),
        ("  42  ", Decimal("42")),
    ],
)
def test_parse_number_text_reads_business_number_forms(text: str, number: Decimal) -> None:
    parsed = parse_number_text(text)

    assert parsed == number
    assert str(parsed) == str(number)  # the same digits, trailing zeros included


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("12 500,50", Decimal("12500.50")),
        ("12\u00a0500,50", Decimal("12500.50")),
        ("1.234,50", Decimal("1234.50")),
        ("1.234.567", Decimal("1234567")),
        ("1.234.567,89", Decimal("1234567.89")),
        ("12,5", Decimal("12.5")),
        ("-1,5", Decimal("-1.5")),
        ("12.500", Decimal("12500")),
    ],
)
def test_parse_number_text_with_a_decimal_comma(text: str, number: Decimal) -> None:
    parsed = parse_number_text(text, ",")

    assert parsed == number
    assert str(parsed) == str(number)


@pytest.mark.parametrize(
    "text", ["", "abc", "12 kr", "€12", "1,2,3,x", "--1", "1.2.3,4,5", "1e", ".", "12,5", "1.234,50", "1,23"]
)
def test_parse_number_text_gives_none_for_non_numbers(text: str) -> None:
    assert parse_number_text(text) is None


@pytest.mark.parametrize(
    ("value", "number"),
    [
        ("12 500.50", Decimal("12500.50")),
        ("1,234.50", Decimal("1234.50")),
        ("1,234", Decimal("1234")),
        (7, Decimal("7")),
        (-3, Decimal("-3")),
        (0.1, Decimal("0.1")),
        (1.1, Decimal("1.1")),
        (12.5, Decimal("12.5")),
        (Decimal("12.50"), Decimal("12.50")),
    ],
)
def test_to_decimal(value: Any, number: Decimal) -> None:
    converted = to_decimal(value)

    assert type(converted) is Decimal
    assert str(converted) == str(number)


def test_to_decimal_of_a_float_has_no_binary_artefacts() -> None:
    # Decimal(0.1) would be 0.1000000000000000055511151231257827021181583404541015625
    assert str(to_decimal(0.1)) == "0.1"
    assert str(to_decimal(2.675)) == "2.675"


@pytest.mark.parametrize(
    "value",
    [True, False, "abc", "", " ", float("nan"), float("inf"), Decimal("NaN"), Decimal("Infinity"), [1], {"a": 1}],
)
def test_to_decimal_rejects(value: Any) -> None:
    with pytest.raises(ConversionError) as caught:
        to_decimal(value)

    assert str(caught.value) == f"cannot convert {value!r} to decimal"


@pytest.mark.parametrize(
    ("value", "number"),
    [
        (7, 7),
        (-7, -7),
        (7.0, 7),
        ("7", 7),
        ("7,000", 7000),
        ("7.00", 7),
        (" 12 500 ", 12500),
        ("1e3", 1000),
        (Decimal("7.00"), 7),
        (True, 1),
        (False, 0),
    ],
)
def test_to_integer(value: Any, number: int) -> None:
    converted = to_integer(value)

    assert converted == number
    assert type(converted) is int


@pytest.mark.parametrize("value", [7.5, "7.5", "1,234.5", Decimal("0.1")])
def test_to_integer_rejects_a_fraction_and_says_so(value: Any) -> None:
    with pytest.raises(ConversionError) as caught:
        to_integer(value)

    assert str(caught.value) == (
        f"cannot convert {value!r} to integer (it has a fraction; round it in an expression if that is meant)"
    )


@pytest.mark.parametrize("value", ["abc", "seven", [7], float("nan")])
def test_to_integer_rejects_non_numbers(value: Any) -> None:
    with pytest.raises(ConversionError) as caught:
        to_integer(value)

    assert str(caught.value) == f"cannot convert {value!r} to integer"


@pytest.mark.parametrize(
    ("value", "number"),
    [
        (3, 3.0),
        (2.5, 2.5),
        ("12.5", 12.5),
        ("1 234.5", 1234.5),
        ("1,234.5", 1234.5),
        (Decimal("0.1"), 0.1),
    ],
)
def test_to_number(value: Any, number: float) -> None:
    converted = to_number(value)

    assert converted == number
    assert type(converted) is float


@pytest.mark.parametrize("value", ["x", True, float("inf"), float("nan"), Decimal("NaN")])
def test_to_number_rejects(value: Any) -> None:
    with pytest.raises(ConversionError) as caught:
        to_number(value)

    assert str(caught.value) == f"cannot convert {value!r} to number"


# --- booleans ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "truth"),
    [
        ("ja", True),
        ("nej", False),
        ("yes", True),
        ("no", False),
        ("1", True),
        ("0", False),
        ("true", True),
        ("false", False),
        ("on", True),
        ("off", False),
        ("y", True),
        ("n", False),
        ("j", True),
        ("t", True),
        ("f", False),
        ("sant", True),
        ("falskt", False),
        (" YES ", True),
        ("Nej", False),
        ("TRUE", True),
        (1, True),
        (0, False),
        (1.0, True),
        (0.0, False),
        (Decimal("1"), True),
        (Decimal("0"), False),
        (True, True),
        (False, False),
    ],
)
def test_to_boolean(value: Any, truth: bool) -> None:
    assert to_boolean(value) is truth


@pytest.mark.parametrize("value", ["maybe", "", "2", 2, -1, 0.5, [True], None])
def test_to_boolean_rejects_and_lists_the_words(value: Any) -> None:
    with pytest.raises(ConversionError) as caught:
        to_boolean(value)

    assert str(caught.value) == (f"cannot convert {value!r} to boolean (use true/false, yes/no, ja/nej, 1/0 or on/off)")


# --- dates and times ----------------------------------------------------------

MARCH_5 = date(2024, 3, 5)


@pytest.mark.parametrize(
    "value",
    [
        "2024-03-05",
        "  2024-03-05  ",
        "20240305",
        "2024-03-05T09:30:00",
        "2024-03-05T09:30:00Z",
        "2024-03-05T09:30:00+02:00",
        "2024-03-05 09:30:00",
        "05.03.2024",
        "05/03/2024",
        "05-03-2024",
        "5.3.2024",
        "2024/03/05",
        "2024.03.05",
        "5 Mar 2024",
        "5 March 2024",
        "Mar 5, 2024",
        "March 5, 2024",
        "March 5 2024",
        "05.03.2024 09:30",
        "05/03/2024 09:30:15",
        "Tue, 05 Mar 2024 09:30:00 +0000",
        "Tue, 5 Mar 2024 23:30:00 -0500",  # the day as written, not moved to UTC
        datetime(2024, 3, 5, 9, 30),
        MARCH_5,
    ],
)
def test_to_date(value: Any) -> None:
    converted = to_date(value)

    assert converted == MARCH_5
    assert type(converted) is date


def test_to_date_reads_slashes_day_first() -> None:
    assert to_date("04/03/2024") == date(2024, 3, 4)
    assert to_date("13/03/2024") == date(2024, 3, 13)


@pytest.mark.parametrize("value", ["13/13/2024", "03/32/2024", "2024-02-30", "tomorrow", "x", 1709631000, 5.0, [1]])
def test_to_date_rejects_and_says_what_to_write(value: Any) -> None:
    with pytest.raises(ConversionError) as caught:
        to_date(value)

    assert str(caught.value) == (
        f"cannot convert {value!r} to date (use ISO 2024-03-05 or a form like 05.03.2024; parse_date:FORMAT for others)"
    )


@pytest.mark.parametrize(
    ("value", "moment"),
    [
        ("2024-03-05", datetime(2024, 3, 5)),
        ("2024-03-05T09:30:00", datetime(2024, 3, 5, 9, 30)),
        ("2024-03-05T09:30:00Z", datetime(2024, 3, 5, 9, 30, tzinfo=UTC)),
        ("2024-03-05T09:30:00+02:00", datetime(2024, 3, 5, 9, 30, tzinfo=timezone(timedelta(hours=2)))),
        ("2024-03-05 09:30:00.250", datetime(2024, 3, 5, 9, 30, 0, 250000)),
        ("05.03.2024 09:30", datetime(2024, 3, 5, 9, 30)),
        ("05.03.2024 09:30:15", datetime(2024, 3, 5, 9, 30, 15)),
        ("05/03/2024 09:30", datetime(2024, 3, 5, 9, 30)),
        ("05-03-2024 09:30", datetime(2024, 3, 5, 9, 30)),
        ("2024/03/05 09:30", datetime(2024, 3, 5, 9, 30)),
        ("05.03.2024", datetime(2024, 3, 5)),
        ("05/03/2024", datetime(2024, 3, 5)),
        ("5 Mar 2024", datetime(2024, 3, 5)),
        ("March 5, 2024", datetime(2024, 3, 5)),
        ("Tue, 05 Mar 2024 09:30:00 +0000", datetime(2024, 3, 5, 9, 30, tzinfo=UTC)),
        ("Tue, 05 Mar 2024 09:30:00 GMT", datetime(2024, 3, 5, 9, 30, tzinfo=UTC)),
        ("Tue, 05 Mar 2024 09:30:00 +0100", datetime(2024, 3, 5, 9, 30, tzinfo=timezone(timedelta(hours=1)))),
        (1709631000, datetime(2024, 3, 5, 9, 30, tzinfo=UTC)),
        (1709631000.5, datetime(2024, 3, 5, 9, 30, 0, 500000, tzinfo=UTC)),
        (Decimal("1709631000"), datetime(2024, 3, 5, 9, 30, tzinfo=UTC)),
        (0, datetime(1970, 1, 1, tzinfo=UTC)),
        (MARCH_5, datetime(2024, 3, 5)),
        (datetime(2024, 3, 5, 9, 30, tzinfo=UTC), datetime(2024, 3, 5, 9, 30, tzinfo=UTC)),
    ],
)
def test_to_datetime(value: Any, moment: datetime) -> None:
    converted = to_datetime(value)

    assert converted == moment
    assert type(converted) is datetime
    assert converted.tzinfo == moment.tzinfo  # naive stays naive; an offset is kept, not converted


@pytest.mark.parametrize("value", ["13/13/2024", "05.03.2024 25:00", "yesterday", True, [1]])
def test_to_datetime_rejects_and_says_what_to_write(value: Any) -> None:
    with pytest.raises(ConversionError) as caught:
        to_datetime(value)

    assert str(caught.value) == (
        f"cannot convert {value!r} to datetime (use ISO 2024-03-05T09:30:00Z or a form like 05.03.2024 09:30)"
    )


def test_to_datetime_rejects_seconds_out_of_range() -> None:
    with pytest.raises(ConversionError) as caught:
        to_datetime(1e30)

    assert str(caught.value) == "cannot convert 1e+30 to datetime"


# --- text -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("as is ", "as is "),
        ("", ""),
        (True, "true"),
        (False, "false"),
        (7, "7"),
        (7.5, "7.5"),
        (Decimal("12500.50"), "12500.50"),
        (MARCH_5, "2024-03-05"),
        (datetime(2024, 3, 5, 9, 30), "2024-03-05T09:30:00"),
        (datetime(2024, 3, 5, 9, 30, tzinfo=UTC), "2024-03-05T09:30:00+00:00"),
        ({"b": 1, "a": "å"}, '{"a": "å", "b": 1}'),
        ([1, "x", None], '[1, "x", null]'),
        ({"when": MARCH_5}, '{"when": "2024-03-05"}'),
        (timedelta(hours=100), "PT100H"),  # a MariaDB TIME past a day: was "4 days, 4:00:00"
        (-timedelta(hours=1, minutes=30), "PT-1H-30M"),  # was "-1 day, 22:30:00"
    ],
)
def test_to_string(value: Any, text: str) -> None:
    assert to_string(value) == text


# --- the converter every type: step uses ---------------------------------------


@pytest.mark.parametrize("type_name", sorted(CONVERTERS))
def test_converter_passes_none_through(type_name: str) -> None:
    assert converter(type_name)(None) is None


@pytest.mark.parametrize("type_name", sorted(set(CONVERTERS) - {"string"}))
@pytest.mark.parametrize("blank", ["", "   ", "\t"])
def test_converter_reads_blank_text_as_none_for_non_string_types(type_name: str, blank: str) -> None:
    assert converter(type_name)(blank) is None


@pytest.mark.parametrize("blank", ["", "   "])
def test_string_converter_keeps_blank_text(blank: str) -> None:
    assert converter("string")(blank) == blank


@pytest.mark.parametrize(
    ("type_name", "values", "converted"),
    [
        ("decimal", ["1.5", "1,000", 2, None, ""], [Decimal("1.5"), Decimal("1000"), Decimal("2"), None, None]),
        ("integer", ["7", 8.0], [7, 8]),
        ("boolean", ["ja", "nej", 1], [True, False, True]),
        ("date", ["05.03.2024", "2024-03-06"], [MARCH_5, date(2024, 3, 6)]),
        ("string", [1, True, None], ["1", "true", None]),
        ("integer", [["1", "2"], ["3"]], [[1, 2], [3]]),
    ],
)
def test_converter_converts_lists_item_by_item(type_name: str, values: list[Any], converted: list[Any]) -> None:
    result = converter(type_name)(values)

    assert result == converted
    assert [type(item) for item in result] == [type(item) for item in converted]


def test_converter_fails_on_the_first_bad_item() -> None:
    with pytest.raises(ConversionError) as caught:
        converter("integer")(["1", "x", "2"])

    assert str(caught.value) == "cannot convert 'x' to integer"


def test_long_values_are_cut_in_messages() -> None:
    with pytest.raises(ConversionError) as caught:
        to_decimal("x" * 100)

    assert str(caught.value) == "cannot convert " + repr("x" * 100)[:57] + "... to decimal"


@pytest.mark.parametrize(
    ("convert", "text", "message"),
    [
        (to_integer, "1e100000000", "cannot convert '1e100000000' to integer (it has more than 4300 digits)"),
        (to_integer, "9" * 5000, "to integer (it has more than 4300 digits)"),
        (to_number, "1e999999", "to number (beyond what a floating-point number holds: use type: decimal)"),
        (to_number, "1e-999999999", "to number (beyond what a floating-point number holds"),
        (to_decimal, "1e999999999999999999999", "cannot convert '1e999999999999999999999' to decimal"),
    ],
)
def test_numbers_beyond_what_a_type_holds_fail_at_once(convert: Any, text: str, message: str) -> None:
    """Before: ``int()`` of 1e100000000 ran for minutes (a run hung on an 11-byte value); a number's
    overflow became inf, its underflow 0.0, silently; a decimal's exponent beyond its range an
    ``InvalidOperation`` naming nothing."""
    with pytest.raises(ConversionError) as caught:
        convert(text)

    assert message in str(caught.value)


def test_the_largest_integers_still_convert() -> None:
    assert to_integer("1e4299") == 10**4299
    assert to_number("1e308") == 1e308
