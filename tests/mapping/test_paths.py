"""Source paths: parsing into steps, reading records, and the errors for bad paths."""

from __future__ import annotations

from typing import Any

import pytest

from app.mapping.paths import PathSyntaxError, Step, compile_path, parse_path

RECORD: dict[str, Any] = {
    "email": "ann@berg.se",
    "address": {"country": "SE", "lines": ["Storgatan 1", "Box 7"]},
    "items": [{"sku": "A-1", "qty": 2}, {"sku": "B-2", "qty": 0}],
    "odd.key": "dotted",
    "with space": "spaced",
    "zero": 0,
    "empty": "",
    "off": False,
    "nothing": None,
    "tags": ["x", "y"],
    "matrix": [[1, 2], [3, 4]],
}


@pytest.mark.parametrize(
    ("text", "steps"),
    [
        ("email", ("email",)),
        ("address.country", ("address", "country")),
        ("a.b.c", ("a", "b", "c")),
        ("items[0].sku", ("items", 0, "sku")),
        ("items[-1].sku", ("items", -1, "sku")),
        ("matrix[1][0]", ("matrix", 1, 0)),
        ('["odd.key"]', ("odd.key",)),
        ("['odd.key']", ("odd.key",)),
        ('address["post.code"]', ("address", "post.code")),
        ('["a"]["b"]', ("a", "b")),
        ("  email  ", ("email",)),
        ("with space", ("with space",)),
        ("address. country", ("address", "country")),
    ],
)
def test_parse_path_gives_steps(text: str, steps: tuple[Step, ...]) -> None:
    assert parse_path(text) == steps


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty path: name a source field, such as email or address.country"),
        ("   ", "empty path: name a source field, such as email or address.country"),
        ("a..b", "bad path 'a..b' at character 2"),
        ("a.", "bad path 'a.' at character 2"),
        (".a", "bad path '.a' at character 1"),
        ("items[0", "bad path 'items[0' at character 6"),
        ("items[x]", "bad path 'items[x]' at character 6"),
        ("items[]", "bad path 'items[]' at character 6"),
        ('["unclosed]', "bad path '[\"unclosed]' at character 1"),
        ("a]", "bad path 'a]' at character 2"),
        ('[""]', "bad path '[\"\"]' at character 1"),
    ],
)
def test_parse_path_rejects_bad_paths(text: str, message: str) -> None:
    with pytest.raises(PathSyntaxError) as caught:
        parse_path(text)

    assert message in str(caught.value)


def test_bad_path_message_says_how_to_write_a_path() -> None:
    with pytest.raises(PathSyntaxError) as caught:
        parse_path("a..b")

    assert str(caught.value) == (
        "bad path 'a..b' at character 2: write names joined by dots, [N] for list items"
        ' and ["name"] for names with dots, such as address.country or items[0].sku'
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("email", "ann@berg.se"),
        ("address.country", "SE"),
        ("address.lines[1]", "Box 7"),
        ("items[0].sku", "A-1"),
        ("items[1].qty", 0),
        ("items[-1].sku", "B-2"),
        ("items[-2].sku", "A-1"),
        ("matrix[1][0]", 3),
        ('["odd.key"]', "dotted"),
        ("with space", "spaced"),
        ("tags", ["x", "y"]),
        ("address", {"country": "SE", "lines": ["Storgatan 1", "Box 7"]}),
    ],
)
def test_path_reads_the_value(text: str, value: Any) -> None:
    assert compile_path(text)(RECORD) == value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("zero", 0),
        ("empty", ""),
        ("off", False),
    ],
)
def test_path_keeps_falsy_values(text: str, value: Any) -> None:
    found = compile_path(text)(RECORD)

    assert found == value
    assert type(found) is type(value)


@pytest.mark.parametrize(
    "text",
    [
        "missing",
        "missing.deeper",
        "nothing",
        "nothing.deeper",
        "address.missing",
        "address.country.deeper",  # a step into text
        "email[0]",  # an index into text
        "address[0]",  # an index into a mapping
        "items.sku",  # a name into a list
        "items[2].sku",
        "items[-3].sku",
        "items[0].sku.deeper",
        "zero.deeper",
        "odd.key",  # without quotes it is two steps
        "matrix[0][5]",
    ],
)
def test_path_gives_none_where_a_step_is_missing(text: str) -> None:
    assert compile_path(text)(RECORD) is None


def test_path_reads_the_same_object_it_finds() -> None:
    assert compile_path("tags")(RECORD) is RECORD["tags"]
