"""Jinja's ``int``, ``float`` and ``round`` on numbers they cannot give fail the record, naming the field,
instead of giving 0, infinity or the default silently, or running for minutes; alike translated and in the
sandbox. Text that is no number at all still gives the default, as Jinja documents."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from app.mapping import bounds
from app.mapping.bounds import MAX_DIGITS, ExpressionTooCostly, NumberError
from app.mapping.expressions import ENVIRONMENT, compile_template
from tests.mapping.conftest import CompileFields
from tests.mapping.test_compiler import mapping_error

DIGITS = "9" * (MAX_DIGITS + 700)
"""The hostile numbers are past the bounds, yet small enough that without them each gives its wrong answer
in moments: a test here never hangs, it fails."""

RECORD: dict[str, Any] = {
    "id": 1,
    "digits": DIGITS,
    "minus_digits": "-" + DIGITS,
    "hex": "f" * MAX_DIGITS,
    "e999": "1e999",
    "nan": float("nan"),
    "inf": float("inf"),
    "huge": Decimal("1e20000"),
    "tiny": Decimal("1e-20000"),
    "vast": Decimal("1e2000000"),
    "vanishing": Decimal("1e-2000000"),
    "decimal_nan": Decimal("NaN"),
    "long": Decimal("123456789012345678901234567890.55"),
    "one_point_five": 1.5,
    "five": 5,
    "big": 10**400,
}

REFUSED = [
    ("{{ record.digits | int }}", f"int: '{'9' * 39}… has more than {MAX_DIGITS} digits"),
    ("{{ record.digits | int(7) }}", "has more than 4300 digits"),
    ("{{ record.minus_digits | int }}", "has more than 4300 digits"),
    ("{{ record.hex | int(base=16) }}", "has more than 4300 digits"),
    ("{{ record.nan | int }}", "int: nan is no number an integer can hold (NaN or infinity)"),
    ("{{ record.inf | int(3) }}", "int: inf is no number an integer can hold"),
    ("{{ 'Infinity' | int(3) }}", "int: 'Infinity' is no number an integer can hold"),
    ("{{ record.decimal_nan | int }}", "int: Decimal('NaN') is no number an integer can hold"),
    ("{{ record.huge | int }}", "int: Decimal('1E+20000') has more than 4300 digits"),
    ("{{ record.digits | float }}", "float: '999999999999999999999999999999999999999… is beyond what a floating"),
    ("{{ record.e999 | float }}", "float: '1e999' is beyond what a floating-point number holds"),
    ("{{ record.huge | float }}", "float: Decimal('1E+20000') is beyond"),
    ("{{ record.big | float }}", "float: 1000000000000000000000000000000000000000… is beyond"),
    ("{{ record.one_point_five | round(50000, 'ceil') }}", "round: 50000 places; the most is 4300"),
    ("{{ record.five | round(-50000) }}", "round: -50000 places; the most is 4300"),
    ("{{ record.huge | round }}", "round: Decimal('1E+20000') rounded would have more than 4300 digits"),
    ("{{ record.huge | round(method='floor') }}", "rounded would have more than 4300 digits"),
]

SIZED = [
    ("{{ '%d' % record.huge }}", "% would make a number of about 20,001 digits; the most is 4300"),
    ("{{ '%(n)i' % {'n': record.huge} }}", "% would make a number of about 20,001 digits"),
    ("{{ '%5d' | format(record.huge) }}", "% would make a number of about 20,001 digits"),
    ("{{ '{:f}'.format(record.vast) }}", "format would make 2,000,000 characters"),
    ("{{ '{:.2%}'.format(record.vanishing) }}", "format would make 2,000,000 characters"),
    ("{{ record.huge.as_integer_ratio() }}", "as_integer_ratio would make a number of about 20,001 digits"),
    ("{{ record.tiny.as_integer_ratio() }}", "as_integer_ratio would make a number of about 20,001 digits"),
]

WORKS = [
    ("{{ '42' | int }}", 42),
    ("{{ '42.99' | int }}", 42),
    ("{{ ' -7 ' | int }}", -7),
    ("{{ 'abc' | int }}", 0),
    ("{{ 'abc' | int(7) }}", 7),
    ("{{ '0x1A' | int(0, 16) }}", 26),
    ("{{ none | int }}", 0),
    ("{{ record.e999 | int }}", 10**999),  # read exactly: Jinja read it as a float, infinity, and gave 0
    ("{{ '12345678901234567890.7' | int }}", 12345678901234567890),  # exactly, not through a float
    ("{{ record.long | int }}", 123456789012345678901234567890),
    ("{{ record.big | int }}", 10**400),
    ("{{ record.one_point_five | int }}", 1),
    ("{{ '1.5' | float }}", 1.5),
    ("{{ 'abc' | float }}", 0.0),
    ("{{ 'abc' | float(2.5) }}", 2.5),
    ("{{ record.five | float }}", 5.0),
    ("{{ record.tiny | float }}", 0.0),
    ("{{ record.one_point_five | round }}", 2.0),
    ("{{ 42.55 | round(1, 'floor') }}", 42.5),
    ("{{ record.big | round }}", 10**400),
    ("{{ record.five | round(-400) }}", 0),
    ("{{ record.long | round(1) }}", Decimal("123456789012345678901234567890.6")),  # Jinja: InvalidOperation
    ("{{ '%d' % record.long }}", "123456789012345678901234567890"),
    ("{{ '{:.2f}'.format(record.long) }}", "123456789012345678901234567890.55"),
    ("{{ '{:f}'.format(record.huge) | length }}", 20_001),  # within the bound on a text made of little
]


@pytest.mark.parametrize(("text", "cause"), REFUSED)
def test_a_number_a_filter_cannot_give_fails_translated_and_sandboxed_alike(text: str, cause: str) -> None:
    with pytest.raises(NumberError) as compiled:
        compile_template(text)(RECORD)
    with pytest.raises(NumberError) as sandboxed:
        ENVIRONMENT.from_string(text).render(record=RECORD)

    assert cause in str(compiled.value)
    assert str(sandboxed.value) == str(compiled.value)


@pytest.mark.parametrize(("text", "cause"), SIZED)
def test_a_huge_decimal_written_as_a_whole_number_or_in_full_is_refused_first(text: str, cause: str) -> None:
    bounds.start_evaluation()
    with pytest.raises(ExpressionTooCostly) as refused:
        compile_template(text)(RECORD)

    assert cause in str(refused.value)


@pytest.mark.parametrize(("text", "value"), WORKS)
def test_numbers_the_filters_can_give_are_given_exactly(text: str, value: Any) -> None:
    result = compile_template(text)(RECORD)

    assert result == value
    assert type(result) is type(value)


def test_the_record_fails_alone_naming_the_field_and_the_number(compile_fields: CompileFields) -> None:
    error = mapping_error(compile_fields, "{{ record.code | int }}", {"id": 7, "code": DIGITS})

    assert (error.source_key, error.field) == ("7", "out")
    assert f"expression failed: int: '{'9' * 39}… has more than {MAX_DIGITS} digits" in str(error)


def test_decimal_arithmetic_that_fails_says_so_in_words(compile_fields: CompileFields) -> None:
    error = mapping_error(compile_fields, "{{ record.n // 7 }}", {"id": 7, "n": Decimal("1e999999")})

    assert "expression failed: decimal arithmetic (DivisionImpossible): the result is undefined" in str(error)
    assert "<class" not in str(error)
