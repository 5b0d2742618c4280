"""Built-in ``transform:`` steps: each on text, numbers, None and lists, and the errors for bad specs."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from app.mapping.transforms import KINDS, TransformError, TransformSpecError, build_transform
from tests.mapping.conftest import CompileFields
from tests.mapping.test_compiler import mapping_error

BUILT_IN = (
    "strip, lstrip, rstrip, lower, upper, title, capitalize, digits, collapse_spaces, null_if_empty,"
    " truncate:N, split:SEP, join:SEP, date:FORMAT, parse_date:FORMAT, parse_datetime:FORMAT"
)

TEXT_TRANSFORMS = [
    "strip",
    "lstrip",
    "rstrip",
    "lower",
    "upper",
    "title",
    "capitalize",
    "digits",
    "collapse_spaces",
    "truncate:3",
    "split:,",
    "parse_date:%Y-%m-%d",
    "parse_datetime:%Y-%m-%d %H:%M",
]


@pytest.mark.parametrize(
    ("spec", "value", "result"),
    [
        ("strip", "  Ann Berg \t\n", "Ann Berg"),
        ("lstrip", "  Ann ", "Ann "),
        ("rstrip", "  Ann ", "  Ann"),
        ("lower", " Ann@Berg.SE ", " ann@berg.se "),
        ("lower", "ÅSA ÖBERG", "åsa öberg"),
        ("upper", "se", "SE"),
        ("upper", "åsa", "ÅSA"),
        ("title", "ann-marie o'neil", "Ann-Marie O'Neil"),
        ("title", "ANN BERG", "Ann Berg"),
        ("capitalize", "hELLO wORLD", "Hello world"),
        ("digits", "+46 (0)70-123 45 67", "460701234567"),
        ("digits", "no digits", ""),
        ("collapse_spaces", "Storgatan \t 1\n\nBox  7", "Storgatan 1 Box 7"),
        ("collapse_spaces", "  padded  ", " padded "),
        ("truncate:3", "abcdef", "abc"),
        ("truncate:10", "abc", "abc"),
        ("truncate:0", "abc", ""),
        ("truncate:4", "åäöüé", "åäöü"),  # characters, not bytes
        ("split:,", "a,b,,c", ["a", "b", "", "c"]),
        ("split:, ", "a, b, c", ["a", "b", "c"]),
        ("split:;", "no separator", ["no separator"]),
        ("split:,", "", []),
        ("split::", "09:30:15", ["09", "30", "15"]),
        ("join:, ", ["a", "b", "c"], "a, b, c"),
        ("join:-", ["a", None, 1, Decimal("2.50")], "a-1-2.50"),
        ("join:-", [], ""),
        ("null_if_empty", "", None),
        ("null_if_empty", "   ", None),
        ("null_if_empty", " x ", " x "),
    ],
)
def test_transform_on_text(spec: str, value: Any, result: Any) -> None:
    assert build_transform(spec)(value) == result


@pytest.mark.parametrize(
    ("spec", "value", "result"),
    [
        ("upper", 12, "12"),
        ("strip", 7.5, "7.5"),
        ("upper", Decimal("1.50"), "1.50"),
        ("digits", 46701234567, "46701234567"),
        ("truncate:2", 12345, "12"),
        ("split:.", Decimal("12.50"), ["12", "50"]),
        ("upper", True, "TRUE"),
        ("lower", False, "false"),
        ("strip", date(2024, 3, 5), "2024-03-05"),
    ],
)
def test_text_transform_reads_other_values_as_text(spec: str, value: Any, result: str) -> None:
    assert build_transform(spec)(value) == result


@pytest.mark.parametrize("spec", [*TEXT_TRANSFORMS, "null_if_empty", "date:%Y", "join:,"])
def test_transform_passes_none_through(spec: str) -> None:
    assert build_transform(spec)(None) is None


@pytest.mark.parametrize(
    ("spec", "values", "result"),
    [
        ("strip", [" a ", None, "b "], ["a", None, "b"]),
        ("upper", ["se", "no"], ["SE", "NO"]),
        ("digits", ["070-1", 46], ["0701", "46"]),
        ("truncate:2", ["abc", "de", "f"], ["ab", "de", "f"]),
        ("split:,", ["a,b", "c"], [["a", "b"], ["c"]]),
        ("date:%d.%m.%Y", [date(2024, 3, 5), None], ["05.03.2024", None]),
        ("parse_date:%m/%d/%Y", ["03/05/2024", ""], [date(2024, 3, 5), None]),
        ("lower", [["A"], "B"], [["a"], "b"]),
        ("strip", [], []),
    ],
)
def test_transform_applies_to_each_item_of_a_list(spec: str, values: list[Any], result: list[Any]) -> None:
    assert build_transform(spec)(values) == result


def test_split_then_strip_cleans_every_part() -> None:
    value: Any = "  a , b ,c  "
    for spec in ("split:,", "strip"):
        value = build_transform(spec)(value)

    assert value == ["a", "b", "c"]


@pytest.mark.parametrize("spec", TEXT_TRANSFORMS)
def test_text_transform_rejects_a_mapping(spec: str) -> None:
    with pytest.raises(TransformError) as caught:
        build_transform(spec)({"a": 1})

    assert str(caught.value) == "cannot apply a text transform to a mapping"


def test_text_transform_rejects_a_mapping_inside_a_list() -> None:
    with pytest.raises(TransformError) as caught:
        build_transform("upper")(["a", {"b": 1}])

    assert str(caught.value) == "cannot apply a text transform to a mapping"


@pytest.mark.parametrize("value", [0, False, [], {}, ["", "a"], Decimal("0")])
def test_null_if_empty_keeps_everything_but_blank_text(value: Any) -> None:
    kept = build_transform("null_if_empty")(value)

    assert kept == value
    assert type(kept) is type(value)


@pytest.mark.parametrize("value", ["a", 1, {"a": 1}])
def test_join_leaves_a_non_list_as_it_is(value: Any) -> None:
    assert build_transform("join:,")(value) == value


# --- dates --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "value", "text"),
    [
        ("date:%d.%m.%Y", date(2024, 3, 5), "05.03.2024"),
        ("date:%Y%m%d", datetime(2024, 3, 5, 9, 30), "20240305"),
        ("date:%H:%M", datetime(2024, 3, 5, 9, 30), "09:30"),  # only the first colon ends the name
        ("date:%d.%m.%Y", "2024-03-05", "05.03.2024"),
        ("date:%d.%m.%Y %H:%M", "2024-03-05T09:30:00Z", "05.03.2024 09:30"),
        ("date:%Y-%m-%d", "05.03.2024", "2024-03-05"),
        ("date:%d %b %Y", 1709631000, "05 Mar 2024"),
        ("date:%Y", Decimal("1709631000"), "2024"),
        ("date:%-d.%-m.%Y", date(2024, 3, 5), "5.3.2024"),
        ("date:%10Y", date(2024, 3, 5), "0000002024"),
        ("date:100%%200", date(2024, 3, 5), "100%200"),  # a % written out, then digits: no width
        ("date:%Q %", date(2024, 3, 5), "%Q %"),  # what strftime does not know stays as written
    ],
)
def test_date_formats_with_strftime(spec: str, value: Any, text: str) -> None:
    assert build_transform(spec)(value) == text


@pytest.mark.parametrize("spec", ["date:%999999999Y", "date:%-101d", "date:%_0005000H"])
def test_a_date_part_too_wide_is_refused_where_strftime_gave_empty_text(spec: str) -> None:
    with pytest.raises(TransformSpecError, match="characters wide; the most is 100"):
        build_transform(spec)


def test_the_date_filter_refuses_a_part_too_wide_and_its_record_fails(compile_fields: CompileFields) -> None:
    error = mapping_error(compile_fields, "{{ record.d | date('%999999999Y') }}", {"id": 7, "d": date(2024, 3, 5)})

    assert "a part of the format is 999999999 characters wide; the most is 100" in str(error)


@pytest.mark.parametrize(
    ("value", "shown"),
    [("soon", "'soon'"), ("13/13/2024", "'13/13/2024'"), (True, "True")],
)
def test_date_rejects_what_is_not_a_date(value: Any, shown: str) -> None:
    with pytest.raises(TransformError) as caught:
        build_transform("date:%Y")(value)

    assert str(caught.value) == (
        f"cannot convert {shown} to datetime (use ISO 2024-03-05T09:30:00Z or a form like 05.03.2024 09:30)"
    )


@pytest.mark.parametrize(
    ("spec", "value", "result"),
    [
        ("parse_date:%m/%d/%Y", "03/05/2024", date(2024, 3, 5)),
        ("parse_date:%m/%d/%Y", " 03/05/2024 ", date(2024, 3, 5)),
        ("parse_date:%Y%m%d", 20240305, date(2024, 3, 5)),
        ("parse_date:%d %B %Y", "5 March 2024", date(2024, 3, 5)),
        ("parse_datetime:%m/%d/%Y %I:%M %p", "03/05/2024 09:30 PM", datetime(2024, 3, 5, 21, 30)),
        ("parse_datetime:%Y%m%d%H%M", "202403050930", datetime(2024, 3, 5, 9, 30)),
        ("parse_datetime:%Y-%m-%dT%H:%M:%S%z", "2024-03-05T09:30:00+0000", datetime(2024, 3, 5, 9, 30, tzinfo=UTC)),
        ("parse_date:%m/%d/%Y", "", None),
        ("parse_date:%m/%d/%Y", "   ", None),
        ("parse_datetime:%Y", "", None),
    ],
)
def test_parse_date_and_parse_datetime_read_their_form(spec: str, value: Any, result: Any) -> None:
    parsed = build_transform(spec)(value)

    assert parsed == result
    assert type(parsed) is type(result)


@pytest.mark.parametrize(
    ("spec", "value", "message"),
    [
        ("parse_date:%m/%d/%Y", "2024-03-05", "'2024-03-05' does not have the form '%m/%d/%Y'"),
        ("parse_date:%m/%d/%Y", "13/05/2024", "'13/05/2024' does not have the form '%m/%d/%Y'"),
        ("parse_datetime:%Y-%m-%d %H:%M", "2024-03-05", "'2024-03-05' does not have the form '%Y-%m-%d %H:%M'"),
    ],
)
def test_parse_date_rejects_other_forms(spec: str, value: str, message: str) -> None:
    with pytest.raises(TransformError) as caught:
        build_transform(spec)(value)

    assert str(caught.value) == message


# --- specs ----------------------------------------------------------------------


def test_every_built_in_transform_is_known() -> None:
    assert ", ".join(kind.usage for kind in KINDS.values()) == BUILT_IN


@pytest.mark.parametrize(("spec", "value", "result"), [(" strip ", " a ", "a"), ("truncate: 2", "abc", "ab")])
def test_spaces_around_a_name_or_length_are_ignored(spec: str, value: str, result: str) -> None:
    assert build_transform(spec)(value) == result


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("lowr", f"unknown transform 'lowr' (did you mean 'lower'?); built in: {BUILT_IN}"),
        ("trim", f"unknown transform 'trim' (did you mean 'strip'?); built in: {BUILT_IN}"),
        ("truncat:3", f"unknown transform 'truncat' (did you mean 'truncate'?); built in: {BUILT_IN}"),
        ("slugify", f"unknown transform 'slugify'; built in: {BUILT_IN}"),
        ("", f"unknown transform ''; built in: {BUILT_IN}"),
        ("strip:x", "strip takes no argument: write strip"),
        ("null_if_empty:", "null_if_empty takes no argument: write null_if_empty"),
        ("truncate", "truncate needs an argument: write truncate:N"),
        ("truncate:", "truncate needs an argument: write truncate:N"),
        ("split", "split needs an argument: write split:SEP"),
        ("join", "join needs an argument: write join:SEP"),
        ("date", "date needs an argument: write date:FORMAT"),
        ("parse_date", "parse_date needs an argument: write parse_date:FORMAT"),
        ("parse_datetime:", "parse_datetime needs an argument: write parse_datetime:FORMAT"),
        ("truncate:x", "'x' is not a length: write a whole number, such as truncate:40"),
        ("truncate:4.5", "'4.5' is not a length: write a whole number, such as truncate:40"),
        ("truncate:-1", "a length cannot be negative"),
    ],
)
def test_build_transform_rejects_bad_specs(spec: str, message: str) -> None:
    with pytest.raises(TransformSpecError) as caught:
        build_transform(spec)

    assert str(caught.value) == message
