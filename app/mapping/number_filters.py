"""Jinja's ``int``, ``float`` and ``round`` filters, failing the record where Jinja's would guess or hang.

Jinja's ``int`` gives 0 (or the default it is given) for what it cannot read: right for ``'abc'``, silently
wrong for a number it cannot hold. A text of more than 4,300 digits (Python refuses to read one, a guard
against slow conversions), ``'1e999'`` and NaN all came out as 0; a decimal such as ``1e999999`` became a
million-digit integer, for a minute. Its ``float`` gave infinity for ``'1e999'``; its ``round`` computed
``10 ** precision`` for any precision given, and refused a decimal of more than 28 digits with an
``InvalidOperation`` that said nothing. Each of these now raises :class:`NumberError` saying what the number
is and the bound: the record fails alone, naming the field. Text that is no number at all still gives the
default, as Jinja documents.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any

from jinja2.filters import do_float, do_int, do_round

from app.mapping.bounds import MAX_DIGITS, NumberError
from app.record_checks import shown_value


def _shown(value: Any) -> str:
    """``value`` as a message shows it: a long number cut short (its text may be megabytes)."""
    text = shown_value(value)
    return text if len(text) <= 40 else f"{text[:40]}…"


def _too_many_digits(what: str, value: Any) -> NumberError:
    return NumberError(f"{what}: {_shown(value)} has more than {MAX_DIGITS} digits, the most an integer may have")


def _integral(number: Decimal, value: Any) -> int:
    """``int(number)``, refused where it is no finite number or would have more than :data:`MAX_DIGITS` digits."""
    if not number.is_finite():
        raise NumberError(f"int: {_shown(value)} is no number an integer can hold (NaN or infinity)")
    if number.adjusted() >= MAX_DIGITS:
        raise _too_many_digits("int", value)
    return int(number)


def int_filter(value: Any, default: Any = 0, base: int = 10) -> Any:
    """Jinja's ``int``: text of a whole number read in ``base``, other numbers and numeric text cut to a whole
    number (``'42.23'`` is 42, read exactly, not through a float), anything else the ``default``.

    :raises NumberError: for a number no integer holds as written out: NaN, infinity, more than
        :data:`MAX_DIGITS` digits
    """
    if value.__class__ is str:
        try:
            number = int(value, base)
        except ValueError as exc:
            if "integer string conversion" in str(exc):
                raise _too_many_digits("int", value) from None
            return _int_of_numeric_text(value, default)
        except TypeError:  # a base that is no whole number: Jinja's own answer
            return do_int(value, default, base)
        if number.bit_length() > _MAX_BITS:  # in a base of a power of two, Python reads any number of digits
            raise _too_many_digits("int", value)
        return number
    if isinstance(value, float):
        if value - value == 0:  # finite: inf - inf and NaN - NaN are NaN
            return int(value)
        raise NumberError(f"int: {value!r} is no number an integer can hold (NaN or infinity)")
    if isinstance(value, Decimal):
        return _integral(value, value)
    return do_int(value, default, base)


_MAX_BITS = math.floor(MAX_DIGITS * math.log2(10))
"""The most bits an integer of :data:`MAX_DIGITS` digits has."""


def _int_of_numeric_text(text: str, default: Any) -> Any:
    """Jinja's quirk, so that ``'42.23' | int`` is 42: text of a number with a fraction or an exponent."""
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        return default
    return _integral(number, text)


def float_filter(value: Any, default: Any = 0.0) -> Any:
    """Jinja's ``float``, refusing a finite number that no floating-point number holds (``'1e999'``, an integer
    of 400 digits) rather than giving infinity for it.

    :raises NumberError: for such a number
    """
    try:
        result = float(value)
    except OverflowError:  # an integer beyond a float's range
        raise _beyond_float(value) from None
    except (TypeError, ValueError):
        return do_float(value, default)
    if result - result == 0 or _written_infinite(value):  # finite (inf - inf and NaN - NaN are NaN), or given so
        return result
    raise _beyond_float(value)


def _written_infinite(value: Any) -> bool:
    """Whether ``value`` is NaN or infinity by itself (``nan``, ``'Infinity'``), not a number too large."""
    if isinstance(value, float):
        return True
    try:
        return not Decimal(value.strip() if isinstance(value, str) else value).is_finite()
    except (InvalidOperation, TypeError, ValueError):
        return True


def _beyond_float(value: Any) -> NumberError:
    return NumberError(f"float: {_shown(value)} is beyond what a floating-point number holds (about 1.8e308)")


def round_filter(value: Any, precision: Any = 0, method: str = "common") -> Any:
    """Jinja's ``round``, refusing a precision of more than :data:`MAX_DIGITS` places (it computed
    ``10 ** precision``, for ever) and a decimal that would have more digits; a decimal rounded exactly
    however many digits it has, where Jinja refused one of more than 28.

    :raises NumberError: for such a precision or decimal
    """
    if isinstance(precision, int) and not -MAX_DIGITS <= precision <= MAX_DIGITS:
        raise NumberError(f"round: {precision} places; the most is {MAX_DIGITS}")
    if value.__class__ is float and method == "common":  # the commonest, as Jinja rounds it, a call less
        return round(value, precision)
    if not isinstance(value, Decimal) or not value.is_finite():
        return do_round(value, precision, method)  # type: ignore[arg-type]  # Jinja's own checks of method
    digits = value.adjusted() + 1 + (precision if isinstance(precision, int) else 0)
    if value.adjusted() >= MAX_DIGITS or digits > MAX_DIGITS:
        raise NumberError(f"round: {_shown(value)} rounded would have more than {MAX_DIGITS} digits")
    with localcontext() as context:
        context.prec = max(context.prec, digits + 1)
        return do_round(value, precision, method)  # type: ignore[arg-type]
