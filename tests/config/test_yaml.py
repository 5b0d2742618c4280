"""YAML is read with 1.2 core-schema scalars and every node keeps its place."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from app.config import ConfigIssue, Mark
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
