"""Expressions translated to Python agree with Jinja's sandbox on every input: the same value, or the same
kind of failure.

Hypothesis writes the expressions (operators, filters, tests, lists, conditionals, constants of every
awkward kind: infinity, NaN, -0.0, integers past 64 bits and near Python's 4300-digit limit, strings with
quotes, backslashes, NUL and lone surrogates) and the records they read. Each expression is evaluated by
the translated code and by the sandbox alone; they must agree. Derandomised, so every run tries the same
cases and a failure is repeatable.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jinja2 import Undefined

from app.mapping import bounds
from app.mapping.expressions import ENVIRONMENT, compile_template
from tests.mapping.test_jinja_python import _compiled

CHARACTERS = ["a", "B", " ", "'", '"', "\\", "\x00", "\ud800", "\udfff", "é", "😀", "\n", "{", "}", "%", "0", "-"]


def _jinja_string(text: str) -> str:
    """``text`` as a Jinja string literal (Jinja reads Python's escapes in it)."""
    escaped = "".join(
        "\\\\" if c == "\\" else "\\'" if c == "'" else c if c.isprintable() and c.isascii() else _escape(c)
        for c in text
    )
    return f"'{escaped}'"


def _escape(character: str) -> str:
    code = ord(character)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


NUMBERS = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.sampled_from(["0", "1", "2", "10", "64", "4300", "18446744073709551616", "9" * 4299, "1" + "0" * 600]),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["1e999", "0.0", "-0.0", "1e308", "5e-324", "0.1", "1_000", "0x10", "0o7"]),
)
CONSTANTS = st.one_of(
    NUMBERS,
    st.text(st.sampled_from(CHARACTERS), max_size=6).map(_jinja_string),
    st.sampled_from(["none", "true", "false", "[]", "{}", "()"]),
)
FIELDS = st.sampled_from(
    ["record.a", "record.b", "record.c", "record['a']", "record.missing", "record.d.k", "record.d.nope",
     "record.items", "record.items[0]", "record.items[-1]", "record.n"]
)  # fmt: skip
OPERATORS = ["+", "-", "*", "/", "//", "%", "**", "~", "==", "!=", "<", "<=", ">", ">=", "and", "or", "in", "not in"]
FILTERS = [
    "lower", "upper", "length", "string", "abs", "int", "float", "round", "first", "last", "trim", "list",
    "default('d')", "join('-')", "center(5)", "replace('a', 'bb')", "format(1)", "capitalize", "title", "sum",
    "reverse", "unique | list", "sort", "min", "max", "wordcount", "indent(2)", "truncate(5)",
]  # fmt: skip
TESTS = ["none", "defined", "undefined", "number", "string", "odd", "even", "divisibleby(3)", "sequence", "mapping"]


def _expressions() -> st.SearchStrategy[str]:
    def grow(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.builds(lambda a, o, b: f"({a} {o} {b})", inner, st.sampled_from(OPERATORS), inner),
            st.builds(lambda a: f"(-{a})", inner),
            st.builds(lambda a: f"(not {a})", inner),
            st.builds(lambda a, f: f"({a} | {f})", inner, st.sampled_from(FILTERS)),
            st.builds(lambda a, t: f"({a} is {t})", inner, st.sampled_from(TESTS)),
            st.builds(lambda a, c, b: f"({a} if {c} else {b})", inner, inner, inner),
            st.builds(lambda a, b: f"[{a}, {b}]", inner, inner),
            st.builds(lambda a, b: f"{{'k': {a}, 'j': {b}}}", inner, inner),
            st.builds(lambda a, b: f"({a})[{b}]", inner, inner),
        )

    return st.recursive(st.one_of(CONSTANTS, FIELDS), grow, max_leaves=6)


VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([2**64 + 1, -(2**70), 10**4000, 0]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([Decimal("10.50"), Decimal("-0"), Decimal("1e-30"), Decimal("NaN")]),
    st.text(st.sampled_from(CHARACTERS), max_size=8),
)
RECORDS = st.fixed_dictionaries(
    {
        "a": VALUES,
        "b": VALUES,
        "c": VALUES,
        "d": st.fixed_dictionaries({"k": VALUES}),
        "items": st.lists(VALUES, max_size=3),
        "n": st.integers(-5, 30),
    }
)


def _same(left: Any, right: Any) -> bool:
    """Equal values of the same type: NaN is NaN, -0.0 is not 0.0, any undefined is undefined."""
    if isinstance(left, Iterator) and isinstance(right, Iterator):
        return _same(list(left), list(right))
    if isinstance(left, Undefined) or isinstance(right, Undefined):
        return isinstance(left, Undefined) and isinstance(right, Undefined)
    if type(left) is not type(right):
        return False
    if isinstance(left, float):
        if math.isnan(left) or math.isnan(right):
            return math.isnan(left) and math.isnan(right)
        return left == right and math.copysign(1, left) == math.copysign(1, right)
    if isinstance(left, Decimal):
        return (left.is_nan() and right.is_nan()) or (left == right and str(left) == str(right))
    if isinstance(left, list | tuple):
        return len(left) == len(right) and all(_same(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(_same(left[k], right[k]) for k in left)
    return bool(left == right)


def _outcome(run: Any, record: dict[str, Any]) -> tuple[str, Any]:
    try:
        value = run(record)
        if isinstance(value, str):  # an iterator rendered as text: its address is no difference
            value = re.sub(r" at 0x[0-9a-f]+", "", value)
        return "value", list(value) if isinstance(value, Iterator) else value  # filters such as reverse
    except Exception as exc:  # the kind of failure is what must agree
        return "error", type(exc).__name__


def _sandboxed(body: str, text: bool) -> Any:
    """``body`` run by Jinja's sandbox alone (as a text template with ``text``), each call one evaluation."""
    if text:
        template = ENVIRONMENT.from_string("<{{ " + body + " }}>")
    else:
        expression = ENVIRONMENT.compile_expression(body, undefined_to_none=True)

    def run(record: dict[str, Any]) -> Any:
        bounds.start_evaluation()
        return template.render(record=record) if text else expression(record=record)

    return run


@settings(max_examples=1000, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(body=_expressions(), records=st.lists(RECORDS, min_size=1, max_size=3), text=st.booleans())
def test_translated_and_sandboxed_expressions_agree(body: str, records: list[dict[str, Any]], text: bool) -> None:
    template = "<{{ " + body + " }}>" if text else "{{ " + body + " }}"
    compiled, source = _compiled(template)
    sandboxed = _sandboxed(body, text)
    for record in records:
        mine, theirs = _outcome(compiled, record), _outcome(sandboxed, record)
        assert mine[0] == theirs[0] and (_same(mine[1], theirs[1]) if mine[0] == "value" else mine == theirs), (
            template, record, mine, theirs, source
        )  # fmt: skip


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("{{ 1e999 }}", math.inf),
        ("{{ -1e999 }}", -math.inf),
        ("{{ record.id + 1e999 }}", math.inf),
        ("{{ [1e999, 2] }}", [math.inf, 2]),
        ("{{ -0.0 }}", -0.0),
        ("{{ 2 ** -0.0 }}", 1.0),
        ("{{ 5e-324 }}", 5e-324),
        ("{{ 0.1 + 0.2 }}", 0.1 + 0.2),
        ("{{ 18446744073709551617 }}", 2**64 + 1),
        ("{{ -18446744073709551617 - 1 }}", -(2**64) - 2),
        ("{{ " + "9" * 4300 + " }}", int("9" * 4300)),
        ("{{ 'it\\'s \"q\" \\\\ \\x00 \\ud800' }}", 'it\'s "q" \\ \x00 \ud800'),
        ("a{{ 1e999 }}b", "ainfb"),
    ],
)
def test_constants_are_translated_exactly(text: str, value: Any) -> None:
    compiled, source = _compiled(text)

    assert "sandboxed" not in source
    assert _same(compiled({"id": 1}), value)
    assert _same(compile_template(text)({"id": 1}), value)


def test_nan_from_constants_is_nan_in_both() -> None:
    compiled, _ = _compiled("{{ 1e999 - 1e999 }}")

    assert math.isnan(compiled({}))
    assert math.isnan(_sandboxed("1e999 - 1e999", text=False)({}))
