"""JSON from other systems, parsed so that nothing is lost.

orjson is the fast way, but it loses or refuses what other systems do send:
integers beyond 64 bits become floats (``123456789012345678901234567890``
arrives as ``123456789012345677877719597056``), numbers with more digits
than a double keeps are rounded, and it refuses lone surrogates (``"\\ud800"``),
bytes that are not UTF-8, control characters in strings and numbers out of a
double's range (``1e400``). So a body is parsed by orjson only where it holds
no number that orjson could change; else, and wherever orjson refuses it, by
the standard library's parser with hooks that keep every value:

- integers of any size stay :class:`int` (past Python's limit on digits for
  ``int()``, they become :class:`~decimal.Decimal`);
- a number that a float holds exactly as written (``0.1``, ``2.50``: the float
  prints back as the same number) is a :class:`float`; one it cannot hold
  (``1e400``, ``0.30000000000000000001``) is a :class:`~decimal.Decimal` of
  exactly what was written. One gap, for speed: a number below a double's
  range written with fewer than 16 digits (``1e-400``) is what orjson makes of
  it (``0.0``), unless the body goes the exact way for another reason;
- text is kept as it is: a lone surrogate stays one, a byte that is not UTF-8
  becomes one (``surrogateescape``), a raw control character stays in its
  string. Whoever takes the records decides what to do with such values (the
  engine fails a record holding one alone); a body is not refused for them.

What is refused (:class:`NotJson`) is a body that is not JSON at all, and one
with ``NaN`` or ``Infinity`` (not JSON).

A body nested deeper than a parser recurses (orjson stops at 1024 levels, the
standard parser at Python's recursion limit, about 1,000) is not refused
either: one record nested that deep must not cost its page or delivery the
other records. The parts below :data:`CUT_DEPTH` are each put in place of one
string that no sender can know, the text is parsed, and each such string
becomes an :class:`~app.record_checks.UnreadableValue`. The record holding one
fails alone where a sync maps that field (no system could be written with it
anyway: :data:`~app.record_checks.MAX_DEPTH`); a sync that does not map it is
not stopped by it. The cutting walks the text without recursion (a MiB of
``[`` takes a fraction of a second), checking that every list and object it
cuts is closed, and by the right bracket: text that is not JSON stays refused.
One implementation for every caller: webhooks (:func:`parse_cut` with their
strict parser), REST pages, PostgreSQL's ``json`` and ``jsonb`` (:func:`parse_json`).
"""

from __future__ import annotations

import json
import re
import secrets
import sys
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import orjson

from app.record_checks import MAX_DEPTH, UnreadableValue

CUT_DEPTH: Final = MAX_DEPTH
"""The level below which a too-deep body's lists and objects are cut: deeper than any system takes, and
shallow enough that parsing the rest never nears the recursion limit, whoever calls it."""

READ_FROM: Final = "in the JSON it was read from"
"""Where a cut part is, when the caller does not say (:func:`parse_json`'s ``where``)."""

_LONG_RUN: Final = b"1" * 16
"""16 digits (or dots) in a row: a number with fewer digits is one a double holds exactly as written."""

_RUNS: Final = bytes(ord("1") if chr(byte) in "0123456789." else ord(" ") for byte in range(256))
"""For ``bytes.translate``: digits and dots to ``1``, everything else to a space, so that a C-speed
``find`` of :data:`_LONG_RUN` finds long numbers (a regular expression took three times as long as
orjson's whole parse)."""

_NUMBER: Final = re.compile(rb"-?[0-9.]+(?:[eE][-+]?[0-9]+)?")
_MINUS: Final = ord("-")


class NotJson(ValueError):
    """A body that is not JSON (or not JSON that can be parsed safely).

    :param reason: what is wrong, with the place where it shows (``line 1 column 5``)
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_json(content: bytes | str, *, where: str = READ_FROM) -> Any:
    """The JSON value of ``content``, numbers exact, text as sent, and lists and objects below
    :data:`CUT_DEPTH` of a body nested deeper than the parser recurses each an
    :class:`~app.record_checks.UnreadableValue` saying it is ``where`` (see the module).

    :param where: where the body comes from, in the user's words (``crm.contacts: reading page 2``)
    :raises NotJson: when ``content`` is not JSON or holds ``NaN``/``Infinity``
    """
    try:
        value = orjson.loads(content)
    except orjson.JSONDecodeError:
        return _parse_exactly(content, where)
    raw = content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content
    return value if _all_kept(raw) else _parse_exactly(content, where)


def _all_kept(raw: bytes) -> bool:
    """Whether orjson kept every number of ``raw`` as written: no long number that it changed.

    Long runs of digits inside strings are looked at too; :func:`_kept` lets those pass (or, at
    worst, sends the body the exact way for nothing).
    """
    runs = raw.translate(_RUNS)
    start = runs.find(_LONG_RUN)
    while start != -1:
        token = _NUMBER.match(raw, start - 1 if start and raw[start - 1] == _MINUS else start)
        assert token is not None, "a run of digits or dots is a match"
        if not _kept(token.group()):
            return False
        start = runs.find(_LONG_RUN, token.end())
    return True


def _kept(token: bytes) -> bool:
    """Whether orjson parses ``token`` to the very number written (``False`` only for a number it changes)."""
    text = token.decode()
    try:
        number = float(text)
        if repr(number) == text:  # the usual case: a double written by a shortest-repr writer
            return True
        if "." in text or "e" in text or "E" in text:
            return exact_float(text) is not None
        return -(2**63) <= int(text) < 2**64  # orjson's integers; beyond them it gives a float
    except (ValueError, InvalidOperation):  # digits and dots in a string, such as a version: not a number
        return True


def exact_float(text: str) -> float | None:
    """The float that is exactly the number ``text`` as written, or ``None`` when no float is.

    "Exactly" as JSON writers mean it: the float prints back as the same number (``0.1`` is one,
    ``1e400`` and ``0.30000000000000000001`` are not).
    """
    number = float(text)
    if repr(number) == text:  # the usual case: written by a shortest-repr writer
        return number
    if number in (float("inf"), float("-inf")):
        return None
    return number if Decimal(repr(number)) == Decimal(text) else None


def exact_number(text: str) -> float | Decimal:
    """A JSON number with a fraction or an exponent, exactly: a float where one holds it, else a decimal
    (a ``parse_float`` hook for :func:`json.loads`)."""
    number = exact_float(text)
    return Decimal(text) if number is None else number


def exact_integer(text: str) -> int | Decimal:
    """A JSON integer exactly: an ``int``, or a decimal beyond the digits Python turns into an ``int`` from
    text (4,300 by default: a guard against slow conversions); a ``parse_int`` hook for :func:`json.loads`."""
    digits = len(text) - text.startswith("-")
    limit = sys.get_int_max_str_digits()
    return Decimal(text) if limit and digits > limit else int(text)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _parse_exactly(content: bytes | str, where: str) -> Any:
    """The standard library's parser with hooks that keep every number and every string as sent."""
    text = content.decode("utf-8", "surrogateescape") if isinstance(content, bytes) else content
    text = text.removeprefix("\ufeff")  # a byte order mark: orjson refuses it, the text does not need it
    try:
        try:
            return _exactly(text)
        except RecursionError:  # the standard parser stops at Python's recursion limit, cleanly
            return parse_cut(text, _exactly, where)
    except RecursionError:  # a caller already deep in its own stack: the cut text still too deep for it
        raise NotJson("it is nested too deeply to parse here (hundreds of levels of lists and objects)") from None
    except json.JSONDecodeError as exc:
        raise NotJson(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except ValueError as exc:  # from a hook (NaN, Infinity), or brackets the cutting found unclosed
        raise NotJson(str(exc)) from None


def _exactly(text: str) -> Any:
    return json.loads(
        text, parse_float=exact_number, parse_int=exact_integer, parse_constant=_no_constant, strict=False
    )


# --- nesting deeper than a parser recurses ---------------------------------------------------

_TOKENS: Final = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
"""A string (skipped whole: brackets in it are text) or a bracket."""

_CLOSING: Final = {"[": "]", "{": "}"}


def parse_cut(text: str, parse: Callable[[str], Any], where: str = READ_FROM) -> Any:
    """``parse(text)`` with every list or object deeper than :data:`CUT_DEPTH` an
    :class:`~app.record_checks.UnreadableValue` saying it is ``where``: for a body that ``parse`` found
    nested deeper than it recurses (a parser of the caller's own, such as the webhooks' strict one).

    :raises ValueError: for text whose lists and objects are not closed, or closed by the wrong bracket,
        and whatever ``parse`` raises for the rest
    """
    marker = "brygga-cut-" + secrets.token_hex(16)
    value = parse(_cut(text, f'"{marker}"'))
    return _unmarked(value, marker, where)


def _cut(text: str, replacement: str) -> str:
    """``text`` with each list or object that opens below :data:`CUT_DEPTH` replaced by ``replacement``."""
    pieces: list[str] = []
    kept_from = 0
    expected: list[str] = []  # the closing bracket each open list or object waits for
    cut_at: int | None = None
    for token in _TOKENS.finditer(text):
        bracket = token.group()
        if bracket in _CLOSING:
            expected.append(_CLOSING[bracket])
            if len(expected) > CUT_DEPTH and cut_at is None:
                cut_at = token.start()
        elif bracket in "]}":
            if not expected or expected.pop() != bracket:
                raise ValueError(f"'{bracket}' at character {token.start()} closes nothing open")
            if cut_at is not None and len(expected) == CUT_DEPTH:
                pieces += [text[kept_from:cut_at], replacement]
                kept_from, cut_at = token.end(), None
    if expected:
        raise ValueError(f"{len(expected)} lists or objects are never closed")
    pieces.append(text[kept_from:])
    return "".join(pieces)


def _unmarked(value: Any, marker: str, where: str) -> Any:
    """``value`` with each ``marker`` string (as a value) an :class:`~app.record_checks.UnreadableValue`;
    walked without recursion."""
    unreadable = UnreadableValue(
        f"a list or object nested deeper than {CUT_DEPTH} levels",
        where,
        "no system takes JSON nested that deep: leave the field out of the mapping, or flatten it in the source",
    )
    if value == marker:
        return unreadable
    pending: list[Any] = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                if child == marker:
                    item[key] = unreadable
                elif isinstance(child, dict | list):
                    pending.append(child)
        elif isinstance(item, list):
            for index, child in enumerate(item):
                if child == marker:
                    item[index] = unreadable
                elif isinstance(child, dict | list):
                    pending.append(child)
    return value
