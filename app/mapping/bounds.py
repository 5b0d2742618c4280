"""What one expression may cost: operations whose result could be huge are checked before they run.

``{{ record.n ** record.n }}`` with a large ``n``, ``'a' * 10**9`` or
``'x' | center(10**9)`` would run for minutes or fill the memory of the
service, for one record. Their results are sized first, from their operands,
and refused over a bound: the record then fails alone with a
:class:`~app.errors.MappingError` naming the field and this cause.

- a number: at most :data:`MAX_DIGITS` digits, the most Python turns into
  text (so the most any target could be sent);
- a text, list or tuple an expression makes: at most :data:`MAX_LENGTH`
  characters or items;
- a value as written out (a result, or what a filter, method or format is
  given): at most :data:`MAX_TEXT` characters or items, however often it
  holds the same list (:func:`written_size`);
- all of one evaluation together (every result sized here, every loop step
  and every call in a ``{% %}`` template): at most :data:`MAX_WORK`, so
  nothing repeats a bounded step into an unbounded whole.

Jinja's sandbox (:mod:`app.mapping.expressions`) and the expressions
translated to Python (:mod:`app.mapping.jinja_python`) call the same
functions, so both refuse exactly the same things.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Set
from datetime import date, time, timedelta
from decimal import Decimal
from functools import wraps
from itertools import chain
from typing import Any

from app.record_checks import FLAT_TYPES, MAX_WRITTEN, written_size
from app.records import duration_text

MAX_DIGITS = 4300
"""Python's own limit for turning an integer into text (and back)."""
MAX_LENGTH = 1_000_000
MAX_WORK = 10_000_000
MAX_TEXT = MAX_WRITTEN
"""The longest text (or list) an expression may put together from parts it is given (``~``, ``+``, a
template's output, loops and all): 64 Mi characters. Far above :data:`MAX_LENGTH`, which bounds what one
operation makes out of little (a width, a repeat), since a record's own texts may be long; far below what
would exhaust memory, or what a JSON encoder takes (orjson crashed the process on a text of 2 GiB)."""

_SEQUENCES = (str, bytes, list, tuple)


class ExpressionTooCostly(ValueError):
    """An operation whose result would be too large; the message names it and the bound."""


class NumberError(ValueError):
    """A number an expression cannot give (:mod:`~app.mapping.number_filters`): beyond what its type holds,
    or no number (NaN, infinity) where one is needed; the message names the filter and the number."""


class _Work(threading.local):
    spent = 0


_work = _Work()


def start_evaluation() -> None:
    """A new evaluation of an expression begins: its work is counted from nothing."""
    _work.spent = 0


def spend(amount: int, what: str) -> None:
    """Count ``amount`` of work for ``what``; :raises ExpressionTooCostly: past :data:`MAX_WORK`."""
    _work.spent += amount
    if _work.spent > MAX_WORK:
        raise ExpressionTooCostly(f"{what}: the expression does more than {MAX_WORK:,} steps for one record")


def _length(size: int, what: str) -> None:
    if size > MAX_LENGTH:
        raise ExpressionTooCostly(f"{what} would make {size:,} characters or items; the most is {MAX_LENGTH:,}")
    spend(size, what)


def _text(size: int, what: str) -> None:
    if size > MAX_TEXT:
        raise ExpressionTooCostly(f"{what} would make {size:,} characters or items; the most is {MAX_TEXT:,}")


def _digits(value: int) -> float:
    return math.log10(abs(value)) + 1 if value else 1


def _number(digits: float, what: str) -> None:
    if digits > MAX_DIGITS:
        raise ExpressionTooCostly(f"{what} would make a number of about {digits:,.0f} digits; the most is {MAX_DIGITS}")
    spend(int(digits), what)


def _whole(value: Any) -> bool:
    return isinstance(value, int)  # bool too: True * 'a' is 'a'


def power(left: Any, right: Any) -> Any:
    """``left ** right``, refused where an integer result would have too many digits.

    Floats overflow at once, and decimals keep their context's precision: only integers grow.
    """
    if _whole(left) and _whole(right) and right > 0 and abs(left) > 1:
        _number(right * math.log10(abs(left)), "**")
    return left**right


def multiply(left: Any, right: Any) -> Any:
    """``left * right``, refused where repeating a text or list, or an integer product, would be too large."""
    if _whole(left) and _whole(right):
        if left and right:
            _number(_digits(left) + _digits(right) - 1, "*")
    elif isinstance(left, _SEQUENCES) and _whole(right):
        _length(len(left) * max(right, 0), "*")
    elif isinstance(right, _SEQUENCES) and _whole(left):
        _length(len(right) * max(left, 0), "*")
    return left * right


def add(left: Any, right: Any) -> Any:
    """``left + right``, refused where two texts or lists would make too long a one."""
    if isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
        _text(len(left) + len(right), "+")
    return left + right


_FLAT = FLAT_TYPES
"""Types that hold no other value: :func:`written` passes them by their class alone, as it is asked of
nearly every value an expression touches."""
_NESTED = (list, tuple, Mapping, Set)


def is_flat(value: Any) -> bool:
    """Whether ``value`` holds no other value (a text, number, boolean, null, date or duration)."""
    return value.__class__ in _FLAT


def written(value: Any, what: str) -> None:
    """:raises ExpressionTooCostly: when ``value`` written out would pass :data:`MAX_TEXT`
    (:func:`written_size`; texts are bounded where they are made)."""
    if value.__class__ in _FLAT:
        return
    if isinstance(value, _NESTED):
        size = written_size(value)
        if size > MAX_TEXT:
            _text(size, what)


def compared(value: Any) -> Any:
    """An operand of ``==``, ``in`` or another comparison, sized as written out first (:func:`written`):
    lists are compared item by item, in C, a list held many times over each time it occurs."""
    written(value, "a comparison")
    return value


def written_arguments(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap the Jinja filter ``name`` so that each of its arguments is sized as written out first (:func:`written`):
    ``string``, ``tojson``, ``pprint``, ``escape`` and others write a value out as text."""
    skip = 1 if getattr(function, "jinja_pass_arg", None) is not None else 0  # Jinja's environment or context

    @wraps(function)
    def sized(*args: Any, **kwargs: Any) -> Any:
        for value in args[skip:]:
            if value.__class__ not in _FLAT:  # here, not in written: this runs at every filter call
                written(value, name)
        for value in kwargs.values():
            written(value, name)
        return function(*args, **kwargs)

    return sized


def sized_argument(what: str) -> Callable[[Any], Any]:
    """What the translated Python (:mod:`~app.mapping.jinja_python`) calls on a filter's argument in place of
    :func:`written_arguments`' wrapper, only where the argument may hold a list many times over: the value,
    sized as written out (:func:`written`)."""

    def sized(value: Any) -> Any:
        if value.__class__ not in _FLAT:
            written(value, what)
        return value

    return sized


def part_text(value: Any) -> str:
    """A value as a template writes it into text: a duration as ISO 8601 (``PT100H``, as every connector
    writes one), not Python's ``4 days, 4:00:00``; anything else as ``str`` gives it, sized first."""
    if isinstance(value, timedelta):
        return duration_text(value)
    written(value, "the text")
    return str(value)


def joined_text(parts: tuple[Any, ...]) -> str:
    """``~``: every part as text, joined, refused past :data:`MAX_TEXT`."""
    texts = [part if part.__class__ is str else part_text(part) for part in parts]
    size = sum(map(len, texts))
    if size > MAX_TEXT:
        _text(size, "the text")
    return "".join(texts)


def joined_output(parts: Iterable[Any]) -> str:
    """A template's output, refused past :data:`MAX_TEXT` as it grows: a loop's is made one part at a time."""
    texts: list[str] = []
    size = 0
    for part in parts:
        text = part if part.__class__ is str else part_text(part)
        size += len(text)
        if size > MAX_TEXT:
            _text(size, "the text")
        texts.append(text)
    return "".join(texts)


_FLAGS = frozenset("#0- +")


def _percent_fields(text: str) -> Iterator[tuple[str, str, str]]:
    """Each ``%`` field's width, precision and conversion as written (``""`` where none), as Python's ``%``
    reads the format: a mapping key's parentheses nest (``%(a(b))9s`` has the key ``a(b)``), ``%%`` is no
    field."""
    end, at = len(text), text.find("%")
    while at != -1:
        at += 1
        if at < end and text[at] == "%":
            at = text.find("%", at + 1)
            continue
        if at < end and text[at] == "(":
            depth, at = 1, at + 1
            while at < end and depth:
                depth += {"(": 1, ")": -1}.get(text[at], 0)
                at += 1
        while at < end and text[at] in _FLAGS:
            at += 1
        width_start = at
        while at < end and (text[at].isdigit() or (at == width_start and text[at] == "*")):
            at += 1
        width, precision = text[width_start:at], ""
        if at < end and text[at] == ".":
            at += 1
            precision_start = at
            while at < end and (text[at].isdigit() or (at == precision_start and text[at] == "*")):
                at += 1
            precision = text[precision_start:at]
        while at < end and text[at] in "hlL":  # a length modifier, which Python ignores
            at += 1
        yield width, precision, text[at : at + 1]
        at = text.find("%", at)


def modulo(left: Any, right: Any) -> Any:
    """``left % right``, refused where a ``%`` format's width or precision would make too long a text."""
    if isinstance(left, str):
        written(right, "%")
        formatted_size(left, right)
    return left % right


def formatted_size(text: str, values: Any) -> None:
    """:raises ExpressionTooCostly: when a width or precision of the ``%`` format ``text`` is too large."""
    given = values if isinstance(values, tuple) else (values,)
    for *field, conversion in _percent_fields(text):
        if conversion in _TO_INTEGER:
            _whole_decimals(values.values() if isinstance(values, Mapping) else given, "%")
        for value in field:
            if value == "*":
                for item in given:
                    if _whole(item):
                        _length(abs(item), "%")
            elif value:
                _length(_width(value), "%")


_TO_INTEGER = frozenset("diu")
"""``%`` conversions that turn the value into an integer first (a decimal of a million digits: a minute)."""


def _whole_decimals(values: Iterable[Any], what: str) -> None:
    """:raises ExpressionTooCostly: when one of ``values`` is a decimal of more than :data:`MAX_DIGITS`
    digits as a whole number (``1E+999999``)."""
    for value in values:
        if isinstance(value, Decimal) and value.is_finite() and value.adjusted() >= MAX_DIGITS:
            _number(value.adjusted() + 1, what)


def format_width(spec: str, value: Any = None) -> None:
    """A ``str.format`` field's format spec: every number in it is a width or precision to bound, and a
    decimal written in full (``f``, ``%``: ``1E+999999999`` is a billion digits) is sized."""
    for number in re.findall(r"\d+", spec):
        _length(_width(number), "format")
    if isinstance(value, Decimal) and value.is_finite() and spec[-1:] in "fF%" and spec:
        _length(abs(value.adjusted()), "format")


def _width(digits: str) -> int:
    """A width written in a format; one of more digits than any allowed width is simply too large."""
    return int(digits) if len(digits) <= 9 else MAX_LENGTH * 10


def _bounded_filter(check: Callable[..., None]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Wrap a Jinja filter so that ``check`` sees its arguments first (Jinja's pass-argument marks kept)."""

    def wrap(function: Callable[..., Any]) -> Callable[..., Any]:
        passed = getattr(function, "jinja_pass_arg", None) is not None  # Jinja's environment or context, first

        @wraps(function)
        def bounded(*args: Any, **kwargs: Any) -> Any:
            check(*(args[1:] if passed else args), **kwargs)
            return function(*args, **kwargs)

        return bounded

    return wrap


def _size(value: Any) -> int:
    return len(value) if isinstance(value, _SEQUENCES) else len(str(value))


def _check_center(value: Any, width: Any = 80) -> None:
    if _whole(width):
        _length(max(width, _size(value)), "center")


def _check_indent(value: Any, width: Any = 4, *_: Any, **__: Any) -> None:
    per_line = len(width) if isinstance(width, str) else (width if _whole(width) else 0)
    _length(_size(value) + (str(value).count("\n") + 1) * max(per_line, 0), "indent")


def _check_format(value: Any, *args: Any, **kwargs: Any) -> None:
    if isinstance(value, str):  # with keywords (``%(name)9s``) the widths are in the text all the same
        formatted_size(value, args)


def replaced_size(text: Any, old: Any, new: Any, count: Any = None) -> None:
    """:raises ExpressionTooCostly: when replacing ``old`` by ``new`` in ``text`` would make too long a text."""
    if not (isinstance(text, str | bytes) and isinstance(old, type(text)) and isinstance(new, type(text))):
        return
    matches = len(text) + 1 if not old else text.count(old)  # type: ignore[arg-type]  # the same type, checked
    if _whole(count) and count >= 0:
        matches = min(matches, count)
    _length(len(text) + matches * max(len(new) - len(old), 0), "replace")


def _check_replace(value: Any, old: Any, new: Any, count: Any = None) -> None:
    replaced_size(str(value), str(old), str(new), count)


def joined_size(separator: Any, parts: list[Any]) -> None:
    """:raises ExpressionTooCostly: when joining ``parts`` with ``separator`` would make too long a text."""
    _length(len(str(separator)) * max(len(parts) - 1, 0) + sum(_size(part) for part in parts), "join")


def _check_count(value: Any, count: Any, *_: Any, **__: Any) -> None:
    if _whole(count):
        _length(abs(count), "batch/slice")


def _check_wordwrap(value: Any, width: Any = 79, break_long_words: Any = True, wrapstring: Any = None,
                    *_: Any, **__: Any) -> None:  # fmt: skip
    separator = wrapstring if isinstance(wrapstring, str) else "\n"
    text = str(value)
    _length(len(text) + (len(text) + 1) * len(separator), "wordwrap")


def _check_sum(iterable: Any, attribute: Any = None, start: Any = 0) -> None:
    if isinstance(start, _SEQUENCES):
        _length(len(start), "sum")


def _check_tojson(value: Any, indent: Any = None) -> None:
    if _whole(indent) and indent > 0:
        _length(indent * _size(value), "tojson")


BINARY: dict[str, Callable[[Any, Any], Any]] = {"*": multiply, "**": power, "%": modulo, "+": add}
"""The operators whose results are sized first, and the function each is computed by."""

BOUNDED_FILTERS: dict[str, Callable[[Callable[..., Any]], Callable[..., Any]]] = {
    "center": _bounded_filter(_check_center),
    "indent": _bounded_filter(_check_indent),
    "format": _bounded_filter(_check_format),
    "replace": _bounded_filter(_check_replace),
    "batch": _bounded_filter(_check_count),
    "slice": _bounded_filter(_check_count),
    "wordwrap": _bounded_filter(_check_wordwrap),
    "tojson": _bounded_filter(_check_tojson),
}
"""Jinja filters whose result can be much larger than their input, with the check each gets first."""


def bounded_join(function: Callable[..., Any]) -> Callable[..., Any]:
    """Jinja's ``join`` filter, sized first: its items are taken once, then joined."""

    @wraps(function)
    def join(eval_context: Any, value: Iterable[Any], d: Any = "", attribute: Any = None) -> Any:
        parts = list(value)
        joined_size(d, parts)
        return function(eval_context, parts, d, attribute)

    return join


def bounded_sum(function: Callable[..., Any]) -> Callable[..., Any]:
    """Jinja's ``sum`` filter. Summing lists or texts (``sum(start=[])``, to flatten a list of lists) copies
    the total so far at every step: each step is counted as that much work, and the total is sized."""

    @wraps(function)
    def sum_(environment: Any, iterable: Iterable[Any], attribute: Any = None, start: Any = 0) -> Any:
        if not isinstance(start, _SEQUENCES):
            return function(environment, iterable, attribute, start)
        if attribute is not None:
            from jinja2.filters import make_attrgetter  # noqa: PLC0415 - Jinja2 loads for expressions only

            iterable = map(make_attrgetter(environment, attribute), iterable)
        total = start
        for item in iterable:
            if isinstance(item, _SEQUENCES):
                _length(len(total) + len(item), "sum")
            total = total + item
            spend(len(total), "sum")
        return total

    return sum_


def counted(items: Iterable[Any]) -> Iterator[Any]:
    """A ``{% for %}`` loop's items, each counted as a step of the evaluation."""
    for item in items:
        spend(1, "a loop")
        yield item


def check_method(method: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
    """Before a method call in the sandbox: size what would grow; the arguments to call with.

    :raises ExpressionTooCostly: when the call would make too large a result
    """
    spend(1, "a call")
    for value in chain(args, kwargs.values()):
        written(value, "a call")
    owner = getattr(method, "__self__", None)
    name = getattr(method, "__name__", "")
    if isinstance(owner, str | bytes):
        if name in ("center", "ljust", "rjust", "zfill") and args and _whole(args[0]):
            _length(max(args[0], len(owner)), name)
        elif name == "expandtabs":
            size = args[0] if args else kwargs.get("tabsize", 8)
            if _whole(size):
                tabs = owner.count("\t") if isinstance(owner, str) else owner.count(b"\t")
                _length(len(owner) + tabs * max(size, 0), name)
        elif name == "replace" and len(args) >= 2:
            replaced_size(owner, args[0], args[1], args[2] if len(args) > 2 else kwargs.get("count"))
        elif name == "join" and args:
            parts = list(args[0])
            joined_size(owner, parts)
            return (parts, *args[1:])
        elif name == "translate":
            _length(len(owner) * max([len(v) for v in _values(args[0]) if isinstance(v, str)] or [1]), name)
    elif isinstance(owner, date | time) and name == "strftime" and args and isinstance(args[0], str):
        date_format(args[0], name)
    elif isinstance(owner, Decimal) and name == "as_integer_ratio" and owner.is_finite():
        _number(abs(owner.adjusted()) + 1, name)  # 1E-999999 too: its denominator is 10 ** 999999
    elif isinstance(owner, int) and name == "to_bytes":
        length = args[0] if args else kwargs.get("length", 1)
        if _whole(length):
            _length(length, name)
    return args


MAX_DATE_WIDTH = 100
"""The widest a part of a date's format may be padded (``%10Y``): past some width strftime gives empty text,
silently, where a value was meant (``%999999999Y`` gave ``''``), or text of that width."""
_DATE_WIDTHS = re.compile(r"%%|%[-_0^#]*(\d+)")


def date_format(layout: str, what: str) -> None:
    """A date's ``strftime`` format (the ``date:`` filter's, a ``.strftime()`` call's, a ``{:%Y}`` field's).

    :raises ExpressionTooCostly: when a part of it is padded wider than :data:`MAX_DATE_WIDTH`
    """
    for width in filter(None, _DATE_WIDTHS.findall(layout)):
        if len(width) > 3 or int(width) > MAX_DATE_WIDTH:
            raise ExpressionTooCostly(
                f"{what}: a part of the format is {width} characters wide; the most is {MAX_DATE_WIDTH}"
            )


def _values(table: Any) -> Iterable[Any]:
    return table.values() if isinstance(table, Mapping) else ()
