"""Built-in ``transform:`` steps, written ``name`` or ``name:ARGUMENT``.

Text transforms read numbers as text, pass ``None`` through and apply to
each item of a list, so ``[split:",", strip]`` cleans every part.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from app.config import closest
from app.mapping.bounds import ExpressionTooCostly, date_format
from app.mapping.conversions import ConversionError, to_datetime

Transform = Callable[[Any], Any]


class TransformSpecError(ValueError):
    """A transform that is unknown or has a bad argument."""


class TransformError(ValueError):
    """A transform that cannot handle the value it was given."""


@dataclass(frozen=True)
class TransformKind:
    """One built-in transform: how to build it from its argument, and its help line."""

    name: str
    build: Callable[[str | None], Transform]
    argument: str | None  # what the argument is, e.g. "N"; None for no argument
    help: str
    str_method: str | None = None  # on text it is this str method, which compiled mappings call directly

    @property
    def usage(self) -> str:
        return f"{self.name}:{self.argument}" if self.argument else self.name


def _on_text(function: Callable[[str], Any]) -> Transform:
    """Apply ``function`` to text; numbers become text first; lists item by item."""

    def apply(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, list):
            return [apply(item) for item in value]
        if isinstance(value, dict):
            raise TransformError("cannot apply a text transform to a mapping")
        if isinstance(value, bool):
            value = "true" if value else "false"
        return function(value if isinstance(value, str) else str(value))

    return apply


def _no_argument(function: Callable[[str], Any]) -> Callable[[str | None], Transform]:
    return lambda _argument: _on_text(function)


_NON_DIGITS = re.compile(r"[^0-9]")
_SPACES = re.compile(r"\s+")


def _truncate(argument: str | None) -> Transform:
    length = _whole_number(argument)
    return _on_text(lambda text: text[:length])


def _whole_number(argument: str | None) -> int:
    try:
        number = int(argument or "")
    except ValueError:
        raise TransformSpecError(f"'{argument}' is not a length: write a whole number, such as truncate:40") from None
    if number < 0:
        raise TransformSpecError("a length cannot be negative")
    return number


def _split(argument: str | None) -> Transform:
    separator = argument or ""
    return _on_text(lambda text: text.split(separator) if text else [])


def _join(argument: str | None) -> Transform:
    separator = argument or ""

    def join(value: Any) -> Any:
        if isinstance(value, list):
            items = value if None not in value else [item for item in value if item is not None]
            return separator.join(map(str, items))
        return value

    return join


def _format_date(argument: str | None) -> Transform:
    layout = argument or ""
    try:
        date_format(layout, "date")
    except ExpressionTooCostly as exc:
        raise TransformSpecError(str(exc).removeprefix("date: ")) from None

    def format_date(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, list):
            return [format_date(item) for item in value]
        if not isinstance(value, date):
            try:
                value = to_datetime(value)
            except ConversionError as exc:
                raise TransformError(str(exc)) from None
        return value.strftime(layout)

    return format_date


def _parse_with(layout: str | None, make: Callable[[datetime], Any]) -> Transform:
    def parse(text: str) -> Any:
        try:
            return make(datetime.strptime(text.strip(), layout or ""))
        except ValueError:
            raise TransformError(f"'{text}' does not have the form '{layout}'") from None

    return _on_text(lambda text: parse(text) if text.strip() else None)


def _text_method(name: str, help: str) -> TransformKind:
    return TransformKind(name, _no_argument(getattr(str, name)), None, help, str_method=name)


def _null_if_empty(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


KINDS: dict[str, TransformKind] = {
    kind.name: kind
    for kind in (
        _text_method("strip", "remove spaces at both ends"),
        _text_method("lstrip", "remove spaces at the start"),
        _text_method("rstrip", "remove spaces at the end"),
        _text_method("lower", "lower case"),
        _text_method("upper", "upper case"),
        _text_method("title", "Title Case Each Word"),
        _text_method("capitalize", "Upper case first letter only"),
        TransformKind("digits", _no_argument(lambda text: _NON_DIGITS.sub("", text)), None, "keep only 0-9"),
        TransformKind(
            "collapse_spaces", _no_argument(lambda text: _SPACES.sub(" ", text)), None, "runs of spaces become one"
        ),
        TransformKind("null_if_empty", lambda _argument: _null_if_empty, None, "empty or blank text becomes null"),
        TransformKind("truncate", _truncate, "N", "keep the first N characters (no ellipsis)"),
        TransformKind("split", _split, "SEP", "split text into a list at SEP"),
        TransformKind("join", _join, "SEP", "join a list into text with SEP"),
        TransformKind("date", _format_date, "FORMAT", "format a date or datetime with strftime, e.g. date:%d.%m.%Y"),
        TransformKind(
            "parse_date",
            lambda layout: _parse_with(layout, datetime.date),
            "FORMAT",
            "read a date in this strptime form",
        ),
        TransformKind(
            "parse_datetime",
            lambda layout: _parse_with(layout, lambda moment: moment),
            "FORMAT",
            "read a datetime in this strptime form",
        ),
    )
}


def build_transform(spec: str) -> Transform:
    """``"truncate:40"`` → a callable.

    :raises TransformSpecError: for an unknown name or a missing, extra or bad argument
    """
    name, colon, argument = spec.partition(":")
    kind = KINDS.get(name.strip())
    if kind is None:
        raise TransformSpecError(_unknown(name.strip()))
    if kind.argument is None and colon:
        raise TransformSpecError(f"{kind.name} takes no argument: write {kind.name}")
    if kind.argument is not None and not argument:
        raise TransformSpecError(f"{kind.name} needs an argument: write {kind.usage}")
    return kind.build(argument if colon else None)


def _unknown(name: str) -> str:
    guess = closest(name, list(KINDS))
    hint = f" (did you mean '{guess}'?)" if guess else ""
    return f"unknown transform '{name}'{hint}; built in: {', '.join(kind.usage for kind in KINDS.values())}"
