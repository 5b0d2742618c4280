"""The small pieces: body paths, key placeholders, Link headers, JSON bodies and cursor order."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from app.errors import PermanentError
from connectors.rest.paging import next_link
from connectors.rest.paths import MISSING, body_value, fill_key, path_prefixes, record_in
from connectors.rest.values import cursor_order, json_bytes, latest, param_text


def _nested(depth: int) -> list[Any]:
    outer: list[Any] = []
    inner = outer
    for _ in range(depth - 1):
        inner.append([])
        inner = inner[0]
    return outer


BODY = {"data": {"items": [{"id": 1}, {"id": 2}], "count": 0}, "meta": None}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (None, BODY),
        ("", BODY),
        ("data.items", [{"id": 1}, {"id": 2}]),
        ("data.items.1.id", 2),
        ("data.count", 0),
        ("meta", None),
        ("meta.total", MISSING),
        ("data.items.7", MISSING),
        ("data.nope", MISSING),
    ],
)
def test_body_paths(path: str | None, value: Any) -> None:
    assert body_value(BODY, path) == value if value is not MISSING else body_value(BODY, path) is MISSING


def test_path_prefixes_run_from_the_path_out_to_the_body() -> None:
    assert path_prefixes("a.b.c") == ["a.b.c", "a.b", "a", None]
    assert path_prefixes(None) == [None]


def test_a_record_is_the_first_object_with_the_key_fields_from_the_records_path_outwards() -> None:
    assert record_in({"data": {"id": 5}, "id": "request-1"}, "data", ("id",)) == {"id": 5}
    assert record_in({"id": 5, "data": {"other": 1}}, "data", ("id",)) == {"id": 5, "data": {"other": 1}}
    assert record_in({"data": [{"id": 1}, {"id": 2}]}, "data", ("id",)) is None  # a list of several is no answer
    assert record_in({"data": {"id": None}}, "data", ("id",)) is None
    assert record_in({"customer": {"id": 7}, "meta": {"v": 1}}, "customers", ("id",)) == {"id": 7}
    assert record_in({"a": {"id": 1}, "b": {"id": 2}}, None, ("id",)) is None  # which one? neither


@pytest.mark.parametrize(
    ("template", "key", "fields", "path"),
    [
        ("/c/{key}", "7", ("id",), "/c/7"),
        ("/c/{key}", "a b/c", ("id",), "/c/a%20b%2Fc"),
        ("/c/{id}", "x", ("id",), "/c/x"),
        ("/o/{order}/l/{line}", '["A","1"]', ("order", "line"), "/o/A/l/1"),
        ("/c", "7", ("id",), "/c"),
    ],
)
def test_key_placeholders_are_filled_url_quoted(template: str, key: str, fields: tuple[str, ...], path: str) -> None:
    assert fill_key(template, key, fields) == path


def test_a_key_of_the_wrong_width_cannot_fill_a_path() -> None:
    with pytest.raises(ValueError, match="is not a key of 2 parts"):
        fill_key("/o/{order}/l/{line}", "7", ("order", "line"))


@pytest.mark.parametrize(
    ("headers", "url"),
    [
        ([("Link", '<https://a/x?p=2>; rel="next", <https://a/x?p=9>; rel="last"')], "https://a/x?p=2"),
        ([("Link", '<https://a/x?p=1>; rel="prev"'), ("Link", "</x?p=3>; rel=next")], "/x?p=3"),
        ([("Link", '<https://a/x?p=3>; title="n, m"; rel="last next"')], "https://a/x?p=3"),
        ([("Link", '<https://a/x?p=1>; rel="prev"')], None),
        ([], None),
    ],
)
def test_the_next_link_is_found_in_link_headers(headers: list[tuple[str, str]], url: str | None) -> None:
    assert next_link(httpx.Headers(headers)) == url


@pytest.mark.timeout(10)  # a bound, not a speed: the pattern that backtracked took ~20 s per page on this header
@pytest.mark.parametrize(
    "value",
    ["<" * 60_000, "<" * 30_000 + ">", "<a>" + " ;" * 30_000, '<a>; a="' * 10_000, "<a>; a=" + " " * 60_000 + "x"],
    ids=["opening-brackets", "brackets-then-one-closing", "spaced-semicolons", "open-quotes", "spaces-after-equals"],
)
def test_a_hostile_link_header_is_read_in_linear_time(value: str) -> None:
    assert next_link(httpx.Headers([("Link", value), ("Link", '</x?p=2>; rel="next"')])) == "/x?p=2"


def test_json_bodies_write_numbers_exactly_as_they_are() -> None:
    sent = json_bytes(
        {
            "a": Decimal("10.50"),
            "b": Decimal("1E+2"),
            "c": Decimal("0.30000000000000000001"),
            "d": Decimal("NaN"),
            "e": b"\x00\x01",
            "f": {1, 2} - {2},
            "g": 123456789012345678901234567890,
            "h": [-(2**63) - 1, 2**64 - 1, 2**64],
            "i": Decimal("-1E+30"),
            "j": Decimal("1.5E-7"),
            "k": 0.1,
            "l": [timedelta(hours=100), -timedelta(minutes=90)],  # a MariaDB TIME's durations, as ISO 8601
        }
    )

    assert sent == (
        b'{"a":10.50,"b":100,"c":0.30000000000000000001,"d":"NaN","e":"AAE=","f":[1],'
        b'"g":123456789012345678901234567890,"h":[-9223372036854775809,18446744073709551615,18446744073709551616],'
        b'"i":-1000000000000000000000000000000,"j":1.5E-7,"k":0.1,"l":["PT100H","PT-1H-30M"]}'
    )
    assert json.loads(sent, parse_float=Decimal)["c"] == Decimal("0.30000000000000000001")


def test_a_whole_decimal_of_a_huge_magnitude_is_sent_with_its_exponent_not_a_billion_digits() -> None:
    assert (
        json_bytes({"a": Decimal("1E+999999999"), "b": Decimal("9E+99")})
        == b'{"a":1E+999999999,"b":9' + b"0" * 99 + b"}"
    )


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"name": "B\ud800o"}, "the text at `name` is not valid Unicode (it has a lone surrogate)"),
        ({"lines": [{"sku": "ok"}, {"sku": "\udcff"}]}, "the text at `lines[1].sku` is not valid Unicode"),
        ({"n\udcffame": "x", "big": 2**70}, "a field name in `(the record)` is not valid Unicode"),
        ({"deep": _nested(300)}, "the value of `deep` is nested more than 254 levels deep"),
        ({"huge": 10**5000}, "the integer at `huge` has too many digits to write"),
    ],
)
def test_a_record_json_cannot_hold_says_what_and_where(record: dict[str, Any], message: str) -> None:
    with pytest.raises(PermanentError) as refused:
        json_bytes(record)

    assert str(refused.value).startswith(f"the record cannot be sent as JSON: {message}")
    str(refused.value).encode("utf-8")  # fit to be logged and stored


def test_a_value_json_cannot_hold_says_so() -> None:
    with pytest.raises(PermanentError, match="the record cannot be sent as JSON: cannot send a value of type complex"):
        json_bytes({"z": 1j})


@pytest.mark.parametrize(
    ("value", "text"),
    [(True, "true"), (7, "7"), (7.0, "7"), (Decimal("1.50"), "1.50"), (date(2024, 5, 1), "2024-05-01")],
)
def test_query_parameter_text(value: Any, text: str) -> None:
    assert param_text(value) == text


def test_param_text_of_a_datetime_keeps_its_time() -> None:
    assert param_text(datetime(2024, 5, 1, 12, 30, tzinfo=UTC)) == "2024-05-01T12:30:00+00:00"


def test_cursor_values_order_numbers_by_size_and_timestamps_by_moment() -> None:
    assert latest([9, 10, None, 2]) == 10
    assert latest(["2024-05-01T10:00:00+02:00", "2024-05-01T09:00:00Z"]) == "2024-05-01T09:00:00Z"
    assert latest(["2024-05-01T09:00:00", "2024-05-01T08:00:00Z"]) == "2024-05-01T09:00:00"  # no zone: UTC
    assert latest(["b", "a"]) == "b"
    assert latest([None]) is None
    assert cursor_order(date(2024, 5, 2)) > cursor_order("2024-05-01T23:59:59Z")


@pytest.mark.parametrize("junk", ["", "n/a", "unknown", "0000-00-00"])
def test_a_cursor_text_that_names_no_moment_never_beats_timestamps_or_numbers(junk: str) -> None:
    """Other text ranked above every timestamp: one record's ``""`` or ``"n/a"`` became the stored cursor, sent
    back at every later read (``?updated_since=n/a``), and no timestamp could ever move it again."""
    assert latest(["2024-05-01T10:00:00Z", junk, "2024-04-01T10:00:00Z"]) == "2024-05-01T10:00:00Z"
    assert latest([junk, 7, 9]) == 9
    assert latest([junk]) == junk  # a stream of opaque text cursors still has one


def test_connectors_check_unicode_with_the_engines_own_check_from_the_sdk() -> None:
    # one check, exported through connectors.base: the REST connector kept a copy of its own (is_unicode)
    import connectors.base
    import connectors.rest.values
    from app.record_checks import valid_unicode

    assert connectors.base.valid_unicode is valid_unicode
    assert "valid_unicode" in connectors.base.__all__
    assert not hasattr(connectors.rest.values, "is_unicode")
    assert connectors.base.valid_unicode("Åsa") and not connectors.base.valid_unicode("a\ud800")
