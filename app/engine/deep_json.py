"""JSON nested deeper than a parser can recurse, read with the too-deep parts marked unreadable (SPEC 8).

The standard library's parser recurses once per level of lists and objects and
stops at the interpreter's recursion limit (about 1,000 levels). A delivery
with one record nested that deep must not lose its other records: the parts
below :data:`CUT_DEPTH` are each put in place of one string that no sender can
know, the text is parsed, and each such string becomes an
:class:`~app.record_checks.UnreadableValue`. The record holding one fails
alone where a sync maps that field (no system could be written with it
anyway: :data:`~app.record_checks.MAX_DEPTH`); a sync that does not map it is
not stopped by it.

The cutting walks the text without recursion (a MiB of ``[`` takes a fraction
of a second), checking that every list and object it cuts is closed, and by
the right bracket: text that is not JSON stays refused.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Any, Final

from app.record_checks import MAX_DEPTH, UnreadableValue

CUT_DEPTH: Final = MAX_DEPTH
"""The level below which a too-deep body's lists and objects are cut: deeper than any system takes, and
shallow enough that parsing the rest never nears the recursion limit, whoever calls it."""

_TOKENS: Final = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
"""A string (skipped whole: brackets in it are text) or a bracket."""

_CLOSING: Final = {"[": "]", "{": "}"}


def parse_cut(text: str, parse: Callable[[str], Any]) -> Any:
    """``parse(text)`` with every list or object deeper than :data:`CUT_DEPTH` an :class:`UnreadableValue`.

    :raises ValueError: for text whose lists and objects are not closed, or closed by the wrong bracket,
        and whatever ``parse`` raises for the rest
    """
    marker = "brygga-cut-" + secrets.token_hex(16)
    value = parse(_cut(text, f'"{marker}"'))
    return _unmarked(value, marker)


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


def _unmarked(value: Any, marker: str) -> Any:
    """``value`` with each ``marker`` string (as a value) an :class:`UnreadableValue`; walked without recursion."""
    unreadable = UnreadableValue(f"a list or object nested deeper than {CUT_DEPTH} levels", "in the webhook body")
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
