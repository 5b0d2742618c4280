"""Record keys as text, and the lookup resolvers that answer with them."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from app.mapping.keys import KeyReader
from app.mapping.lookups import DictLookups, NoLookups
from app.record_checks import UnfitKey
from app.records import duration_text, format_key, key_text, key_texts


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("C-7", "C-7"),
        ("", ""),
        (7, "7"),
        (-7, "-7"),
        (7.0, "7"),
        (7.5, "7.5"),
        (Decimal("7.0"), "7.0"),
        (Decimal("1E+3"), "1000"),
        (True, "true"),
        (False, "false"),
        (date(2024, 3, 5), "2024-03-05"),
        (datetime(2024, 3, 5, 9, 30), "2024-03-05T09:30:00"),
    ],
)
def test_key_text(value: Any, text: str) -> None:
    assert key_text(value) == text


@pytest.mark.parametrize(
    ("values", "text"),
    [
        ((7,), "7"),
        (("SE", 42), '["SE","42"]'),
        (("Malmö", date(2024, 3, 5), True), '["Malmö","2024-03-05","true"]'),
        (('a"b', "c"), '["a\\"b","c"]'),
    ],
)
def test_format_key_writes_a_composite_key_as_a_json_list(values: tuple[Any, ...], text: str) -> None:
    assert format_key(values) == text


@pytest.mark.parametrize(
    ("record", "text"),
    [
        ({"country": "SE", "customer": {"no": 42}}, '["SE","42"]'),
        ({"country": "SE", "customer": {"no": 0}}, '["SE","0"]'),
        ({"country": "SE"}, None),
        ({"country": None, "customer": {"no": 42}}, None),
        ({}, None),
    ],
)
def test_key_reader_reads_every_key_field(record: dict[str, Any], text: str | None) -> None:
    reader = KeyReader(["country", "customer.no"])

    assert reader.fields == ("country", "customer.no")
    assert reader.text(record) == text


def test_key_reader_gives_the_raw_values() -> None:
    assert KeyReader(["id", "site"]).values({"id": 7, "site": Decimal("1.0")}) == (7, Decimal("1.0"))


@pytest.mark.parametrize(
    ("source_key", "target_key"),
    [("3", "U-3"), ("C-9", "90"), ("true", "yes"), ('["SE","42"]', "K"), ("4", None), ("3.0", None)],
)
def test_dict_lookups_answer_as_text(source_key: str, target_key: str | None) -> None:
    lookups = DictLookups({"users": {3: "U-3", "C-9": 90, True: "yes", '["SE","42"]': "K"}})

    assert lookups.target_key("users", source_key) == target_key


def test_dict_lookups_know_only_their_syncs() -> None:
    assert DictLookups({"users": {3: "U-3"}}).target_key("companies", "3") is None


def test_no_lookups_answer_nothing() -> None:
    assert NoLookups().target_key("users", "3") is None


@pytest.mark.parametrize(
    "values",
    [
        [7, -7, 0, 10**20],
        ["C-7", "", "Å"],
        [7, "7", 7.0, True, Decimal("7.0"), date(2024, 3, 5)],  # mixed: value by value
        [True, False],  # booleans are not whole numbers here
    ],
)
def test_a_batch_of_key_values_reads_as_each_one_would(values: list[Any]) -> None:
    assert key_texts(values) == [key_text(value) for value in values]


@pytest.mark.parametrize("fields", [["id"], ["a.b"], ["id", "region"]])
def test_a_batch_of_records_reads_its_keys_as_one_by_one(fields: list[str]) -> None:
    reader = KeyReader(fields)
    records: list[dict[str, Any]] = [
        {"id": 7, "region": "N", "a": {"b": "x"}},
        {"id": "8", "region": "S", "a": {"b": 2}},
        {"region": "S", "a": {}},  # no key
        {"id": 9, "region": None, "a": {"b": None}},
    ]

    assert reader.texts(records) == [reader.text(record) for record in records]
    assert reader.texts(records[:1] * 3) == [reader.text(records[0])] * 3


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (True, "is a boolean (true), not text or a number"),
        (False, "is a boolean (false), not text or a number"),
        ([1], "is a list, not text or a number"),
        ({"n": 1}, "is an object, not text or a number"),
        (float("nan"), "is nan, not a finite number"),
        (float("-inf"), "is -inf, not a finite number"),
    ],
)
def test_a_key_that_is_no_text_or_number_is_unfit_alone_in_a_batch_and_in_a_composite_key(value: Any, why: str) -> None:
    """``True`` was the key ``"true"``, a list its JSON text: no key at all, now an :class:`UnfitKey` whose record
    fails alone."""
    single, composite = KeyReader(["id"]), KeyReader(["id", "region"])
    records = [{"id": 7, "region": "N"}, {"id": value, "region": "S"}, {"id": "8", "region": "S"}]

    [fine, unfit, text] = single.texts(records)
    [_, unfit_part, _] = composite.texts(records)

    assert (fine, text) == ("7", "8") and type(fine) is str and type(text) is str
    assert isinstance(unfit, UnfitKey) and unfit.why == why
    assert single.text(records[1]) == unfit and single.texts(records[1:2] * 3) == [unfit] * 3
    assert isinstance(unfit_part, UnfitKey) and unfit_part.why == f"field id {why}"


@pytest.mark.parametrize("value", [7.0, 7.5, Decimal("7"), date(2024, 3, 5), "true"])
def test_finite_floats_decimals_dates_and_the_text_true_are_keys(value: Any) -> None:
    [key] = KeyReader(["id"]).texts([{"id": value}])

    assert key == key_text(value) and not isinstance(key, UnfitKey)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(hours=100), "PT100H"),
        (timedelta(hours=838, minutes=59, seconds=59, microseconds=999999), "PT838H59M59.999999S"),
        (-timedelta(hours=1, minutes=30), "PT-1H-30M"),
        (-timedelta(seconds=0.5), "PT-0.5S"),
        (timedelta(microseconds=1), "PT0.000001S"),
        (timedelta(days=1, seconds=5), "PT24H5S"),
        (timedelta(0), "PT0S"),
    ],
)
def test_a_duration_is_iso_8601_text_as_postgresql_writes_an_interval_of_hours(value: timedelta, text: str) -> None:
    """What ``SET IntervalStyle = iso_8601`` makes of the same interval of hours: each part with its sign."""
    assert duration_text(value) == text
    assert key_text(value) == str(value)  # a key's text is as it was: the ID map keeps it
