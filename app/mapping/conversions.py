"""``type:`` conversions: the values business systems send, to the types targets expect.

Lenient where data is messy but meaning is clear (``"12 500.50"`` is a
decimal, ``"ja"`` is true, an empty CSV cell is null), strict where guessing
would corrupt data (``7.5`` is not an integer, ``"13/13/2024"`` is not a date, ``"1,2"`` is
not a number unless the field's ``decimal_mark`` is ``,``).
Dates with slashes or dashes are read day first, as in Europe; for other
layouts use the ``parse_date:FORMAT`` transform.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any

from app.mapping.bounds import MAX_DIGITS
from app.record_checks import UnreadableValue
from app.records import duration_text


class ConversionError(ValueError):
    """A value that does not convert; the message names the value and the type."""


def _fail(value: Any, type_name: str, hint: str = "") -> ConversionError:
    shown = repr(value)
    if isinstance(value, UnreadableValue):  # its text is short and says what to do: a hint on forms would mislead
        hint = ""
    elif len(shown) > 60:
        shown = shown[:57] + "..."
    return ConversionError(f"cannot convert {shown} to {type_name}{hint}")


# --- numbers ----------------------------------------------------------------

_GROUPING = str.maketrans("", "", " \u00a0\u202f\u2009'")
"""Spaces (plain, no-break, narrow no-break, thin) and ``'``: thousands separators whatever the mark."""
DecimalMark = str
"""``"."`` or ``","``: a field's ``decimal_mark``; the other of the two separates thousands."""
_NUMBERS: dict[str, re.Pattern[str]] = {
    mark: re.compile(
        rf"(?P<sign>[+-]?)(?P<whole>\d+|\d{{1,3}}(?:{re.escape(group)}\d{{3}})+)?"
        rf"(?:{re.escape(mark)}(?P<fraction>\d*))?(?P<exponent>[eE][+-]?\d+)?"
    )
    for mark, group in ((".", ","), (",", "."))
}


def parse_number_text(text: str, decimal_mark: DecimalMark = ".") -> Decimal | None:
    """``"1,234.50"`` (or with ``decimal_mark=","``, ``"1.234,50"``) → ``Decimal("1234.50")``; ``None`` if
    not a number.

    The other of ``.`` and ``,`` separates thousands, in groups of three, and nowhere else: ``"1,2"``
    is no number with the mark ``.``, rather than a guess (1.2? 12?). Spaces separate thousands too.
    """
    cleaned = text.strip().translate(_GROUPING)
    found = _NUMBERS[decimal_mark].fullmatch(cleaned)
    if found is None or (found["whole"] is None and not found["fraction"]):
        return None
    whole = (found["whole"] or "").replace("," if decimal_mark == "." else ".", "")
    fraction = "" if found["fraction"] is None else "." + found["fraction"]
    try:
        return Decimal(found["sign"] + whole + fraction + (found["exponent"] or ""))
    except InvalidOperation:  # an exponent beyond what a decimal holds (1e999999999999999999999)
        return None


def to_decimal(value: Any, decimal_mark: DecimalMark = ".") -> Decimal:
    if isinstance(value, bool):
        raise _fail(value, "decimal")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise _fail(value, "decimal")
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _fail(value, "decimal")
        return Decimal(repr(value))
    if isinstance(value, str):
        parsed = parse_number_text(value, decimal_mark)
        if parsed is not None:
            return parsed
        raise _fail(value, "decimal", _mark_hint(value, decimal_mark))
    raise _fail(value, "decimal")


def _mark_hint(text: str, decimal_mark: DecimalMark) -> str:
    if decimal_mark == "." and "," in text:
        return " (with the decimal mark '.', a comma separates thousands in groups of three; set decimal_mark: ',')"
    if decimal_mark == "," and "." in text:
        return " (with the decimal mark ',', a dot separates thousands in groups of three)"
    return ""


def to_integer(value: Any, decimal_mark: DecimalMark = ".") -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    try:
        number = to_decimal(value, decimal_mark)
    except ConversionError:
        raise _fail(value, "integer", _mark_hint(value, decimal_mark) if isinstance(value, str) else "") from None
    if number.adjusted() >= MAX_DIGITS:  # int() of 1e100000000 takes minutes, and its text cannot be written
        raise _fail(value, "integer", f" (it has more than {MAX_DIGITS} digits)")
    if number != number.to_integral_value():
        raise _fail(value, "integer", " (it has a fraction; round it in an expression if that is meant)")
    return int(number)


def to_number(value: Any, decimal_mark: DecimalMark = ".") -> float:
    if isinstance(value, float) and math.isfinite(value):
        return value
    try:
        number = to_decimal(value, decimal_mark)
    except ConversionError:
        raise _fail(value, "number", _mark_hint(value, decimal_mark) if isinstance(value, str) else "") from None
    converted = float(number)
    if not math.isfinite(converted) or (converted == 0 and number != 0):  # 1e999999 is no infinity, 1e-999999 no 0
        raise _fail(value, "number", " (beyond what a floating-point number holds: use type: decimal)")
    return converted


# --- booleans ---------------------------------------------------------------

_TRUE = frozenset({"true", "yes", "y", "ja", "j", "1", "on", "t", "sant"})
_FALSE = frozenset({"false", "no", "n", "nej", "0", "off", "f", "falskt"})


def condition_truth(value: Any) -> bool:
    """Whether a condition (``where``, a webhook's ``delete_when``) that gave ``value`` holds: text that is a
    boolean word (``false``, ``0``, ``nej``, as ``type: boolean`` reads them) is that boolean; anything else as
    Jinja takes it, null false.

    A CSV's booleans are text, and so are many webhook bodies': ``where: "{{ record.active }}"`` kept every
    record, ``false`` being text that is not empty, and ``delete_when: "{{ event.deleted }}"`` deleted the
    record of a body saying ``"deleted": "false"``.
    """
    if value.__class__ is str and value.strip():
        try:
            return to_boolean(value)
        except ConversionError:
            return True
    return bool(value)


def to_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | Decimal) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise _fail(value, "boolean", " (use true/false, yes/no, ja/nej, 1/0 or on/off)")


# --- dates and times ----------------------------------------------------------

DATE_FORMATS = (
    "%d.%m.%Y", "%d/%m/%Y", "%d-%m-%Y", "%Y/%m/%d", "%Y.%m.%d",
    "%d %b %Y", "%d %B %Y", "%b %d, %Y", "%B %d, %Y", "%b %d %Y", "%B %d %Y",
)  # fmt: skip
DATETIME_FORMATS = tuple(
    f"{day} {clock}" for day in ("%d.%m.%Y", "%d/%m/%Y", "%d-%m-%Y", "%Y/%m/%d") for clock in ("%H:%M:%S", "%H:%M")
)


def _strptime(text: str, formats: tuple[str, ...]) -> datetime | None:
    for layout in formats:
        try:
            return datetime.strptime(text, layout)
        except ValueError:
            continue
    return None


def to_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        for parse in (date.fromisoformat, lambda t: datetime.fromisoformat(t).date()):
            try:
                return parse(text)
            except ValueError:
                pass
        # then every datetime form, RFC 2822 included: the date is its day
        parsed = _strptime(text, DATE_FORMATS) or _parse_datetime_text(text)
        if parsed is not None:
            return parsed.date()
    raise _fail(value, "date", " (use ISO 2024-03-05 or a form like 05.03.2024; parse_date:FORMAT for others)")


def to_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(float(value), tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise _fail(value, "datetime") from None
    if isinstance(value, str):
        parsed = _parse_datetime_text(value.strip())
        if parsed is not None:
            return parsed
    raise _fail(value, "datetime", " (use ISO 2024-03-05T09:30:00Z or a form like 05.03.2024 09:30)")


def _parse_datetime_text(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    parsed = _strptime(text, DATETIME_FORMATS)
    if parsed is not None:
        return parsed
    if "," in text or text[:3].isalpha():
        try:
            return parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            pass
    day = _strptime(text, DATE_FORMATS)
    return day


# --- text -------------------------------------------------------------------


def to_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, UnreadableValue):  # an error cell's text (#DIV/0!) is no value to carry over
        raise _fail(value, "string")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):  # datetime too
        return value.isoformat()
    if isinstance(value, timedelta):  # a database's duration: ISO 8601 (PT100H), not Python's "4 days, 4:00:00"
        return duration_text(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)
    return str(value)


Converter = Callable[[Any], Any]

NUMBER_TYPES: dict[str, Callable[[Any, DecimalMark], Any]] = {
    "integer": to_integer,
    "number": to_number,
    "decimal": to_decimal,
}
"""The types whose text is read by a ``decimal_mark``."""

CONVERTERS: dict[str, Converter] = {
    "string": to_string,
    "integer": to_integer,
    "number": to_number,
    "decimal": to_decimal,
    "boolean": to_boolean,
    "date": to_date,
    "datetime": to_datetime,
}


def converter(type_name: str, decimal_mark: DecimalMark = ".") -> Converter:
    """A converter that passes ``None`` through, reads an empty text as ``None`` (except
    for ``string``) and converts lists item by item; numbers in text by ``decimal_mark``."""
    convert: Converter = CONVERTERS[type_name]
    if decimal_mark != "." and type_name in NUMBER_TYPES:
        read_number = NUMBER_TYPES[type_name]

        def convert(value: Any) -> Any:
            return read_number(value, decimal_mark)

    empty_is_null = type_name != "string"

    def apply(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, list):
            return [apply(item) for item in value]
        if empty_is_null and isinstance(value, str) and not value.strip():
            return None
        return convert(value)

    fast = _FAST_TEXT.get(type_name) if decimal_mark == "." else None  # Decimal("1.234") is 1.234, not 1234
    if fast is None:
        return apply

    def apply_fast(value: Any) -> Any:
        if value.__class__ is str:
            result = fast(value)
            if result is not None:
                return result
        return apply(value)

    return apply_fast


def _plain_decimal(text: str) -> Decimal | None:
    """``Decimal(text)`` where that reads the text as :func:`to_decimal` would; else ``None``."""
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    return number if number.is_finite() and "_" not in text else None


def _plain_integer(text: str) -> int | None:
    """``int(text)`` where that reads the text as :func:`to_integer` would; else ``None``."""
    try:
        number = int(text)
    except ValueError:
        return None
    return number if "_" not in text else None


# Plain numbers are by far the commonest text: read them at C speed, and leave
# decimal commas, thousands separators and blanks to the full converter.
def _iso_datetime(text: str) -> datetime | None:
    """``datetime.fromisoformat(text)``, the first reading :func:`to_datetime` tries; else ``None``."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _iso_date(text: str) -> date | None:
    """``date.fromisoformat(text)``, the first reading :func:`to_date` tries; else ``None``."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


_FAST_TEXT: dict[str, Callable[[str], Any]] = {
    "decimal": _plain_decimal,
    "integer": _plain_integer,
    "datetime": _iso_datetime,
    "date": _iso_date,
}
