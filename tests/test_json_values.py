"""JSON that loses nothing: exact numbers, text as sent, nesting too deep cut where it is, clear refusals."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import pytest

from app.json_values import CUT_DEPTH, NotJson, exact_float, parse_json
from app.record_checks import UnreadableValue, unfit_reason


@pytest.mark.parametrize(
    ("body", "value"),
    [
        (b"[1, -7, 0.5, 1E+2, 2.50]", [1, -7, 0.5, 100.0, 2.5]),
        (b"[9223372036854775807, -9223372036854775808]", [2**63 - 1, -(2**63)]),
        (b"[18446744073709551616, -9223372036854775809]", [2**64, -(2**63) - 1]),
        (b"[123456789012345678901234567890]", [123456789012345678901234567890]),
        (b"[1e400, -1e400]", [Decimal("1e400"), Decimal("-1e400")]),
        (b"[0.30000000000000000001]", [Decimal("0.30000000000000000001")]),
        (b"[1.2345678901234567890e5]", [Decimal("1.2345678901234567890e5")]),
        (b"[0.30000000000000004, 1.7976931348623157e308]", [0.30000000000000004, 1.7976931348623157e308]),
        (b'["\\ud800", "\\udc00x"]', ["\ud800", "\udc00x"]),
        (b'["a\xffb"]', ["a\udcffb"]),
        (b'["tab\there", "nul\x00"]', ["tab\there", "nul\x00"]),
        (b'\xef\xbb\xbf{"a": 1}', {"a": 1}),
        ('{"a": 12345678901234567890123}', {"a": 12345678901234567890123}),
        ('{"a": "\ud800"}', {"a": "\ud800"}),
    ],
)
def test_values_are_parsed_exactly(body: bytes | str, value: Any) -> None:
    parsed = parse_json(body)

    assert parsed == value
    assert [type(item) for item in _leaves(parsed)] == [type(item) for item in _leaves(value)]


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


def test_integers_past_pythons_digit_limit_become_decimals() -> None:
    [number] = parse_json(b"[-" + b"9" * 10_000 + b"]")

    assert number == Decimal("-" + "9" * 10_000)


def test_a_body_orjson_keeps_is_what_orjson_gives() -> None:
    body = orjson.dumps({"data": [{"id": n, "score": n / 7, "ref": f"{n:020d}"} for n in range(500)]})

    assert parse_json(body) == orjson.loads(body)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "Expecting value at line 1 column 1"),
        (b"{", "Expecting property name enclosed in double quotes at line 1 column 2"),
        (b"[NaN]", "NaN is not a JSON value"),
        (b"[-Infinity]", "-Infinity is not a JSON value"),
        (b"[" * 100_000 + b"]" * 99_999, "1 lists or objects are never closed"),
        (b"[" * 100_000 + b"}" + b"]" * 99_999, "'}' at character 100000 closes nothing open"),
    ],
)
def test_what_is_not_json_is_refused_saying_why(body: bytes, reason: str) -> None:
    with pytest.raises(NotJson) as refused:
        parse_json(body)

    assert refused.value.reason.startswith(reason)


@pytest.mark.parametrize(
    ("text", "exact"),
    [("0.1", 0.1), ("2.50", 2.5), ("1e22", 1e22), ("1e400", None), ("0.30000000000000000001", None), ("-0.0", -0.0)],
)
def test_a_float_is_exact_when_it_prints_back_as_the_number_written(text: str, exact: float | None) -> None:
    assert exact_float(text) == exact


def _depth_of(value: Any) -> tuple[int, Any]:
    """How many lists and objects hold the innermost value of ``value`` (first items all the way), and it."""
    levels = 0
    while isinstance(value, list | dict):
        value = value[0] if isinstance(value, list) else next(iter(value.values()))
        levels += 1
    return levels, value


@pytest.mark.parametrize("levels", [1_200, 100_000])
def test_a_record_nested_deeper_than_the_parser_recurses_is_read_with_that_part_unreadable(levels: int) -> None:
    """Before, the whole body was refused (``it is nested too deeply``): a REST page or a PostgreSQL row
    lost every record for one. Now the parts below the cut are unreadable values and the rest is read."""
    deep = b"[" * levels + b"]" * levels
    body = b'{"data": [{"id": 1, "deep": ' + deep + b', "n": 0.1}, {"id": 2, "deep": "x\\\\"}]}'

    value = parse_json(body, where="crm.contacts page 1")

    first, second = value["data"]
    assert second == {"id": 2, "deep": "x\\"} and first["n"] == 0.1
    depth, innermost = _depth_of(first["deep"])
    assert depth == CUT_DEPTH - 3  # the body's object, its list and the record are three of the levels
    assert innermost == UnreadableValue(
        f"a list or object nested deeper than {CUT_DEPTH} levels",
        "crm.contacts page 1",
        "no system takes JSON nested that deep: leave the field out of the mapping, or flatten it in the source",
    )
    reason = unfit_reason({"deep": first["deep"]})
    assert reason is not None and reason.startswith("field 'deep' holds a list or object nested deeper than 254")


def test_a_body_nested_deep_all_the_way_is_read_to_the_cut() -> None:
    value = parse_json(b'{"a": ' * 50_000 + b"1" + b"}" * 50_000)

    depth, innermost = _depth_of(value)
    assert depth == CUT_DEPTH and isinstance(innermost, UnreadableValue)
    assert innermost.where == "in the JSON it was read from"


def test_brackets_inside_strings_are_text_to_the_cut() -> None:
    """The cut counts brackets outside strings only: ``"[[["`` and an escaped quote do not move it."""
    deep = '"[[[\\"{{"' + "," + "[" * 2_000 + "]" * 2_000
    [text, nested] = parse_json("[" + deep + "]")

    assert text == '[[["{{'
    assert _depth_of(nested)[0] == CUT_DEPTH - 1
