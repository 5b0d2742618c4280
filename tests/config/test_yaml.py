"""YAML is read with 1.2 core-schema scalars and every node keeps its place."""

from __future__ import annotations

import math
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from app.config import ConfigIssue, Mark, yaml_bounds
from app.config.yaml_source import parse_yaml


def parse(text: str) -> Any:
    issues: list[ConfigIssue] = []
    document = parse_yaml(Path("a.yaml"), text, issues)
    assert issues == []
    assert document is not None
    return document.data


@pytest.mark.parametrize(
    ("scalar", "expected"),
    [
        pytest.param("NO", "NO", id="norway-stays-a-country-code"),
        pytest.param("no", "no", id="no"),
        pytest.param("yes", "yes", id="yes"),
        pytest.param("Y", "Y", id="y"),
        pytest.param("off", "off", id="off"),
        pytest.param("true", True, id="true"),
        pytest.param("False", False, id="False"),
        pytest.param("2024-03-05", "2024-03-05", id="date-stays-text"),
        pytest.param("2024-03-05T10:00:00Z", "2024-03-05T10:00:00Z", id="datetime-stays-text"),
        pytest.param("007", 7, id="leading-zeros-are-decimal"),
        pytest.param("-12", -12, id="negative"),
        pytest.param("0x1F", 31, id="hex"),
        pytest.param("0o17", 15, id="octal"),
        pytest.param("1_000", "1_000", id="underscores-stay-text"),
        pytest.param("12:30", "12:30", id="sexagesimal-stays-text"),
        pytest.param("1.5", 1.5, id="float"),
        pytest.param("1e3", 1000.0, id="exponent"),
        pytest.param("-.inf", -math.inf, id="minus-infinity"),
        pytest.param("~", None, id="tilde"),
        pytest.param("null", None, id="null"),
        pytest.param("", None, id="empty"),
        pytest.param("'007'", "007", id="quoted"),
    ],
)
def test_scalars_follow_yaml_1_2(scalar: str, expected: Any) -> None:
    assert parse(f"value: {scalar}\n") == {"value": expected}


def test_on_stays_a_key() -> None:
    assert parse("on: [failing]\nyes: 1\n") == {"on": ["failing"], "yes": 1}


def test_nan_is_a_float() -> None:
    assert math.isnan(parse("value: .nan\n")["value"])


def test_every_key_and_value_keeps_its_line_and_column() -> None:
    issues: list[ConfigIssue] = []
    document = parse_yaml(Path("a.yaml"), "fields:\n  email: {from: mail, transform: [strip, lower]}\n", issues)

    assert document is not None
    origin = document.source_map
    assert origin.key_mark(("fields", "email")) == Mark(2, 3)
    assert origin.value_mark(("fields", "email")) == Mark(2, 10)
    assert origin.value_mark(("fields", "email", "transform", 1)) == Mark(2, 42)
    assert origin.value_mark(("fields", "email", "transform", 7)) == Mark(2, 34)  # nearest known: the list
    assert origin.nearest(("fields", "email", "map", "x")) == ("fields", "email")
    assert origin.prefixed(("fields",)).value_mark(("email", "from")) == Mark(2, 17)


def test_merge_keys_are_not_duplicates_but_repeated_keys_are() -> None:
    issues: list[ConfigIssue] = []
    text = "base: &base {a: 1, b: 2}\nitem:\n  <<: *base\n  b: 3\n  c: 4\n  c: 5\n"

    document = parse_yaml(Path("a.yaml"), text, issues)

    assert document is not None
    assert document.data["item"] == {"a": 1, "b": 3, "c": 4}
    assert [(issue.mark, issue.message) for issue in issues] == [
        (Mark(6, 3), "duplicate key 'c' (first given at line 5): remove one")
    ]


def test_a_syntax_error_returns_nothing_and_its_place() -> None:
    issues: list[ConfigIssue] = []

    assert parse_yaml(Path("a.yaml"), "a: [1, 2\nb: 3\n", issues) is None
    assert [issue.mark for issue in issues] == [Mark(2, 2)]
    assert issues[0].message.startswith("YAML syntax error: ")


def test_an_empty_file_is_none() -> None:
    issues: list[ConfigIssue] = []
    document = parse_yaml(Path("a.yaml"), "# only a comment\n", issues)

    assert document is not None
    assert document.data is None
    assert issues == []


BILLION_LAUGHS = "".join(
    f"{name}: &{name} [{', '.join([f'*{previous}' if previous else 'lol'] * 9)}]\n"
    for previous, name in zip(["", *"abcdefgh"], "abcdefghi", strict=True)
)


def test_an_alias_bomb_is_refused_before_it_is_expanded() -> None:
    issues: list[ConfigIssue] = []
    tracemalloc.start()
    try:
        document = parse_yaml(Path("a.yaml"), BILLION_LAUGHS, issues)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert document is None
    assert [(issue.mark, issue.message.split(" (")[0]) for issue in issues] == [
        (Mark(6, 8), "the alias *e takes this file past 100,000 values")
    ]
    assert peak < 8 * 1024 * 1024  # the bomb stands for 387 million values: expanded, gigabytes


def count_values(monkeypatch: pytest.MonkeyPatch, limit: int, text: str) -> list[ConfigIssue]:
    monkeypatch.setattr(yaml_bounds, "MAX_VALUES", limit)
    issues: list[ConfigIssue] = []
    parse_yaml(Path("a.yaml"), text, issues)
    return issues


def test_values_are_counted_with_every_alias_as_all_its_anchor_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "a: &a [1, 2, 3]\nb: [*a, *a]\n"  # 1 mapping, 2 keys, 4 + 1 + 4 + 4 values: 16

    assert count_values(monkeypatch, 16, text) == []
    [issue] = count_values(monkeypatch, 15, text)
    assert (issue.mark, issue.message) == (
        Mark(2, 9),
        "the alias *a takes this file past 15 values (each alias repeats all that its anchor holds, 4 values here):"
        " use fewer aliases",
    )


def test_a_file_of_too_many_plain_values_is_refused_at_the_first_one_too_many(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    [issue] = count_values(monkeypatch, 5, "[1, 2, 3, 4, 5]\n")

    assert (issue.mark, issue.message) == (
        Mark(1, 14),
        "more than 5 values (keys and list items included) in one file: split it",
    )


def test_nesting_100_deep_is_fine_and_101_is_refused() -> None:
    nested: list[Any] = []
    for _ in range(98):
        nested = [nested]
    assert parse("a: " + "[" * 99 + "]" * 99 + "\n") == {"a": nested}  # 1 mapping and 99 lists: 100 levels

    issues: list[ConfigIssue] = []
    assert parse_yaml(Path("a.yaml"), "a: " + "[" * 100 + "]" * 100 + "\n", issues) is None
    assert [(issue.mark, issue.message) for issue in issues] == [
        (Mark(1, 103), "nested more than 100 levels deep: no config needs that many")
    ]


def test_anchors_aliases_and_core_tags_still_work() -> None:
    text = "a: &a {x: 1}\nb: *a\nc: !!str 007\ne: !!int '12'\nf: !!float 1\ng: !!null ''\nh: !!seq [1]\n"

    assert parse(text) == {"a": {"x": 1}, "b": {"x": 1}, "c": "007", "e": 12, "f": 1.0, "g": None, "h": [1]}


LONG_KEY = "this key is longer than 1024 characters: YAML keys are limited to 1024 characters (PyYAML's limit on"


@pytest.mark.parametrize(
    ("text", "place"),
    [
        pytest.param("a: 1\n" + "k" * 1025 + ": 1\n", Mark(2, 1), id="plain"),
        pytest.param("a: 1\n'" + "k" * 1030 + "': 1\n", Mark(2, 1), id="quoted"),
        pytest.param('a: 1\n"' + "k" * 1030 + '"   : 1\n', Mark(2, 1), id="quoted-with-spaces-before-the-colon"),
        pytest.param("a: 1\nb: {x: 1, " + "k" * 1030 + ": 1}\n", Mark(2, 11), id="in-a-flow-mapping"),
        pytest.param("a: 1\nb: [" + "k" * 1030 + ": 1]\n", Mark(2, 5), id="in-a-flow-sequence"),
        pytest.param("a:\n  - " + "k" * 1030 + ": 1\n", Mark(2, 5), id="in-a-list-item"),
        pytest.param("a: 1\n" + "é" * 1025 + ": 1\n", Mark(2, 1), id="counted-in-characters-not-bytes"),
    ],
)
def test_a_key_past_1024_characters_is_named_at_its_start(text: str, place: Mark) -> None:
    """PyYAML said "could not find expected ':'" at the colon that was there."""
    issues: list[ConfigIssue] = []

    assert parse_yaml(Path("a.yaml"), text, issues) is None

    assert [(issue.mark, issue.message.startswith(LONG_KEY)) for issue in issues] == [(place, True)]


def test_keys_of_1024_characters_long_values_and_explicit_keys_are_fine() -> None:
    key = "k" * 1024
    values = "v" * 3000
    text = f"{key}: 1\na: {values}\nb: 'x: {values}'\nc: {{d: {values}}}\ne: [{values}, x]\n? {'l' * 2000}\n: 2\n"

    assert parse(text) == {
        key: 1,
        "a": values,
        "b": f"x: {values}",
        "c": {"d": values},
        "e": [values, "x"],
        "l" * 2000: 2,
    }


def test_a_long_line_without_a_colon_is_still_a_syntax_error() -> None:
    issues: list[ConfigIssue] = []

    parse_yaml(Path("a.yaml"), "a: 1\n" + "k" * 2000 + "\n", issues)

    assert [(issue.mark, issue.message) for issue in issues] == [
        (Mark(3, 1), "YAML syntax error: could not find expected ':' (while scanning a simple key)")
    ]
