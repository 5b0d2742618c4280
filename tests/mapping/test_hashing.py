"""``record_hash``: the same values give the same hash whatever their order or spelling; any change shows."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from app.mapping.hashing import UnfitRecordError, canonical_json, mapped_hash, record_hash

RECORD: dict[str, Any] = {
    "customer_no": 7,
    "name": "Ann Berg",
    "limit": Decimal("12500.50"),
    "since": date(2024, 3, 5),
    "seen": datetime(2024, 3, 5, 9, 30, tzinfo=UTC),
    "active": True,
    "tags": ["a", "b"],
    "address": {"country": "SE", "lines": ["Storgatan 1"]},
    "manager": None,
}


def test_the_hash_is_128_bits_of_hex() -> None:
    digest = record_hash(RECORD)

    assert len(digest) == 32
    assert int(digest, 16) >= 0
    assert record_hash(RECORD) == digest


@pytest.mark.parametrize(
    ("record", "digest"),
    [
        (RECORD, "3855e149a7b8c76bbe2fd4b54debe43a"),
        ({1: "one", "b": [1]}, "009d06a95bfb16d9b56417a76bb58598"),  # a key that is not text
        ({"d": Decimal("12.30")}, "dd99072d0cf8c6055dd70bbac7415379"),
    ],
)
def test_the_hash_of_a_record_never_changes_between_versions(record: dict[Any, Any], digest: str) -> None:
    """ID maps keep these hashes: a new way of computing them must give the very same digests, or
    every record of every sync would be written again after an upgrade."""
    assert record_hash(record) == digest
    assert hashlib.blake2b(canonical_json(record), digest_size=16).hexdigest() == digest


def test_the_hash_ignores_key_order_at_every_level() -> None:
    reordered = {
        "manager": None,
        "address": {"lines": ["Storgatan 1"], "country": "SE"},
        "tags": ["a", "b"],
        "active": True,
        "seen": datetime(2024, 3, 5, 9, 30, tzinfo=UTC),
        "since": date(2024, 3, 5),
        "limit": Decimal("12500.50"),
        "name": "Ann Berg",
        "customer_no": 7,
    }

    assert record_hash(reordered) == record_hash(RECORD)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (Decimal("1.50"), Decimal("1.5")),
        (Decimal("1.500"), Decimal("1.5")),
        (Decimal("100"), Decimal("1E+2")),
        (Decimal("0.00"), Decimal("0")),
        (Decimal("-0"), Decimal("0")),
        (Decimal("12500.50"), Decimal("12500.5")),
    ],
)
def test_equal_decimals_hash_the_same_however_spelled(one: Decimal, other: Decimal) -> None:
    assert record_hash({"limit": one}) == record_hash({"limit": other})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("customer_no", 8),
        ("customer_no", "7"),
        ("name", "Ann  Berg"),
        ("name", "ann berg"),
        ("limit", Decimal("12500.51")),
        ("since", date(2024, 3, 6)),
        ("seen", datetime(2024, 3, 5, 9, 31, tzinfo=UTC)),
        ("seen", datetime(2024, 3, 5, 9, 30)),  # naive is not UTC
        ("active", False),
        ("tags", ["b", "a"]),  # list order counts
        ("tags", ["a", "b", "c"]),
        ("address", {"country": "NO", "lines": ["Storgatan 1"]}),
        ("address", {"country": "SE", "lines": ["Storgatan 2"]}),
        ("address", {"country": "SE"}),
        ("manager", "U-3"),
        ("manager", ""),
    ],
)
def test_the_hash_changes_when_a_value_changes(field: str, value: Any) -> None:
    assert record_hash({**RECORD, field: value}) != record_hash(RECORD)


def test_the_hash_changes_when_a_field_is_added_or_removed() -> None:
    without_manager = {name: value for name, value in RECORD.items() if name != "manager"}

    assert record_hash(without_manager) != record_hash(RECORD)
    assert record_hash({**RECORD, "extra": None}) != record_hash(RECORD)


@pytest.mark.parametrize(
    ("record", "text"),
    [
        ({"b": 1, "a": 2}, b'{"a":2,"b":1}'),
        ({"limit": Decimal("12500.50")}, b'{"limit":"12500.5"}'),
        ({"limit": Decimal("1E+3")}, b'{"limit":"1000"}'),
        ({"limit": Decimal("-0.00")}, b'{"limit":"0"}'),
        ({"since": date(2024, 3, 5)}, b'{"since":"2024-03-05"}'),
        ({"seen": datetime(2024, 3, 5, 9, 30, tzinfo=UTC)}, b'{"seen":"2024-03-05T09:30:00+00:00"}'),
        ({"nested": {"z": [1, Decimal("2.0")], "a": None}}, b'{"nested":{"a":null,"z":[1,"2"]}}'),
        ({"name": "Åsa"}, '{"name":"Åsa"}'.encode()),
        ({"tuple": (1, 2)}, b'{"tuple":[1,2]}'),
        ({"set": {3, 1, 2}}, b'{"set":[1,2,3]}'),
        ({"bytes": b"\x01\xff"}, b'{"bytes":"01ff"}'),
        ({1: "one"}, b'{"1":"one"}'),
        ({"flag": True, "ratio": 0.5}, b'{"flag":true,"ratio":0.5}'),
    ],
)
def test_canonical_json(record: dict[Any, Any], text: bytes) -> None:
    assert canonical_json(record) == text


class _Odd:
    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text


def test_a_value_of_a_type_no_connector_gives_is_hashed_by_its_type_and_text() -> None:
    assert record_hash({"odd": _Odd("a")}) == record_hash({"odd": _Odd("a")})
    assert record_hash({"odd": _Odd("a")}) != record_hash({"odd": _Odd("b")})
    assert record_hash({"odd": _Odd("a")}) != record_hash({"odd": "a"})


def _nested(levels: int) -> Any:
    value: Any = "x"
    for _ in range(levels):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ({"n": 2**64}, {"n": 2**64 + 1}),
        ({"n": -(2**63) - 1}, {"n": -(2**63) - 2}),
        ({"n": 123456789012345678901234567890}, {"n": 123456789012345678901234567891}),
        ({"t": "a\ud800"}, {"t": "a\ud801"}),
        ({"t": "\x00"}, {"t": ""}),
        ({"deep": _nested(300)}, {"deep": _nested(301)}),
        ({"d": Decimal("1E+999999999")}, {"d": Decimal("1E+999999998")}),
        ({"d": Decimal("1.00000000000000000000000000001")}, {"d": Decimal("1.00000000000000000000000000002")}),
    ],
)
def test_records_orjson_refuses_are_hashed_all_the_same_and_any_change_shows(
    one: dict[str, Any], other: dict[str, Any]
) -> None:
    assert record_hash(one) == record_hash(dict(one))
    assert record_hash(one) != record_hash(other)


def test_a_record_nested_twenty_thousand_levels_deep_is_hashed_without_exhausting_the_stack() -> None:
    assert len(record_hash({"deep": _nested(20_000)})) == 32


def test_a_huge_decimal_exponent_is_hashed_as_written_not_as_a_billion_digits() -> None:
    assert canonical_json({"d": Decimal("1E+999999999")}) == b'{"d":"1E+999999999"}'
    assert canonical_json({"d": Decimal("-0E+999999999")}) == b'{"d":"0"}'


@pytest.mark.parametrize(
    ("record", "cause"),
    [
        ({"name": "Ann \ud800"}, "field 'name' holds text that is not valid Unicode (a lone surrogate)"),
        ({"tags": ["a", {"b": "\udfff"}]}, "field 'tags' holds text that is not valid Unicode (a lone surrogate)"),
        ({"odd": {"\ud800": 1}}, "field 'odd' has a field name that is not valid Unicode (a lone surrogate)"),
        ({"deep": _nested(300)}, "field 'deep' is nested deeper than 254 levels"),
        ({"list": [[_nested(260)]]}, "field 'list' is nested deeper than 254 levels"),
    ],
)
def test_a_mapped_record_no_system_could_take_is_refused_with_its_cause(record: dict[str, Any], cause: str) -> None:
    with pytest.raises(UnfitRecordError) as refused:
        mapped_hash(record, "contacts", "7")

    assert str(refused.value) == f"sync contacts, record 7: the mapped record {cause}"


def test_a_mapped_record_with_big_numbers_or_nul_bytes_is_hashed_as_any_other() -> None:
    record = {"n": 2**70, "t": "a\x00b", "deep": _nested(250)}

    assert mapped_hash(record, "contacts", "7") == record_hash(record)


@pytest.mark.parametrize(
    "text",
    ["12500.50", "-0.00", "0E-8", "1E+3", "1.5E-7", "100", "-100.000", "0.000001", "123456789012345678.90", "NaN",
     "-Infinity", "7.0", "-7.10", "12.34", "-5", "0.10", "5E+1"],
)  # fmt: skip
def test_decimals_read_as_plain_text_agree_with_the_normal_form(text: str) -> None:
    value = Decimal(text)
    normal = format(value.normalize(), "f")

    assert canonical_json({"d": value}) == f'{{"d":"{"0" if normal == "-0" else normal}"}}'.encode()
