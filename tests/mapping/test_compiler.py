"""Field forms end to end: a sync file, compiled by ``compile_mapping`` through the real loader, run on records."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import yaml

from app.config import SyncConfig
from app.errors import ConfigError, LookupPendingError, MappingError
from app.mapping.compiler import compile_mapping
from app.mapping.lookups import DictLookups
from tests.mapping.conftest import LOOKUP_SYNC, SYNC, CompileFields, ConfigIssues, OpenSync

CONTACT: dict[str, Any] = {
    "id": 7,
    "first_name": "Ann",
    "last_name": "Berg",
    "email": " Ann@Berg.SE ",
    "address": {"country": "Sverige", "city": "Malmö"},
    "items": [{"sku": "A-1"}, {"sku": "B-2"}],
    "odd.key": "dotted",
    "credit": {"limit": "12 500,50"},
    "status": "active",
    "owner_id": 3,
}


class RecordingLookups:
    """A resolver that answers from a table and remembers every question."""

    def __init__(self, answers: dict[tuple[str, str], str]) -> None:
        self.answers = answers
        self.asked: list[tuple[str, str]] = []

    def target_key(self, sync: str, source_key: str) -> str | None:
        self.asked.append((sync, source_key))
        return self.answers.get((sync, source_key))

    def source_key(self, sync: str, target_key: str) -> str | None:
        self.asked.append(("reverse " + sync, target_key))
        return self.answers.get(("reverse " + sync, target_key))


def map_one(compile_fields: CompileFields, spec: Any, record: dict[str, Any]) -> Any:
    """Map ``record`` with a sync of one field, ``out``, written as ``spec``; the field's value."""
    mapped = compile_fields({"out": spec}).apply(record)
    assert mapped is not None
    return mapped["out"]


def mapping_error(compile_fields: CompileFields, spec: Any, record: dict[str, Any]) -> MappingError:
    """The error mapping ``record`` with a sync of one field, ``out``, fails with."""
    mapping = compile_fields({"out": spec})
    with pytest.raises(MappingError) as caught:
        mapping.apply(record)
    return caught.value


# --- field forms ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "value"),
    [
        ("id", 7),
        ("address.city", "Malmö"),
        ("items[0].sku", "A-1"),
        ("items[-1].sku", "B-2"),
        ('["odd.key"]', "dotted"),
        ("address", {"country": "Sverige", "city": "Malmö"}),
        ("missing", None),
        ("address.missing.deeper", None),
        ("items[5].sku", None),
        ({"from": "address.country"}, "Sverige"),
        ({"from": "items[1].sku"}, "B-2"),
    ],
)
def test_a_path_reads_the_source_record(compile_fields: CompileFields, spec: Any, value: Any) -> None:
    assert map_one(compile_fields, spec, CONTACT) == value


@pytest.mark.parametrize(
    ("spec", "value"),
    [
        ("{{ record.id }}", 7),
        ("{{ record.id * 2 }}", 14),
        ("{{ record.address.city }}", "Malmö"),
        ("{{ record.items | length }}", 2),
        ("{{ record.status == 'active' }}", True),
        ("{{ record.missing }}", None),
        ({"template": "{{ record.id }}"}, 7),
        ("{{ record.first_name }} {{ record.last_name }}", "Ann Berg"),
        ("#{{ record.id }}", "#7"),
        ({"template": "{{ record.id }}-{{ record.status }}"}, "7-active"),
    ],
)
def test_an_expression_returns_native_types_alone_and_text_when_mixed(
    compile_fields: CompileFields, spec: Any, value: Any
) -> None:
    result = map_one(compile_fields, spec, CONTACT)

    assert result == value
    assert type(result) is type(value)


@pytest.mark.parametrize(
    "value",
    ["smb", 0, 12.5, False, None, "{{ not an expression }}", ["a", "b"], {"tier": 1, "tags": ["x"]}],
)
def test_value_is_a_constant(compile_fields: CompileFields, value: Any) -> None:
    result = map_one(compile_fields, {"value": value}, CONTACT)

    assert result == value
    assert type(result) is type(value)


@pytest.mark.parametrize("constant", [{"tier": 1, "tags": ["x"]}, ["a", ["b"]]])
def test_a_constant_is_not_shared_between_records(compile_fields: CompileFields, constant: Any) -> None:
    mapping = compile_fields({"value": {"value": constant}, "fallback": {"from": "missing", "default": constant}})

    first = mapping.apply(CONTACT)
    second = mapping.apply(CONTACT)

    assert first is not None
    assert second is not None
    for name in ("value", "fallback"):
        assert first[name] == constant
        assert first[name] is not second[name]
        first[name].clear()
        assert second[name] == constant


def test_fields_come_out_in_the_order_written(compile_fields: CompileFields) -> None:
    mapping = compile_fields({"z": "id", "a": {"value": 1}, "m": "{{ record.id }}"})

    assert mapping.field_names == ("z", "a", "m")
    assert list(mapping.apply(CONTACT) or {}) == ["z", "a", "m"]


def test_the_spec_example_maps_a_contact(open_sync: OpenSync) -> None:
    workspace = open_sync(
        """\
        where: "{{ record.status != 'archived' }}"
        fields:
          customer_no: id
          name: "{{ record.first_name }} {{ record.last_name }}"
          email: {from: email, transform: [strip, lower], required: true}
          country: {from: address.country, map: {Sverige: SE, Sweden: SE, Norge: "NO"}, default: SE}
          credit_limit: {from: credit.limit, type: decimal, decimal_mark: ","}
          segment: {value: smb}
          account_manager: {lookup: {sync: users-to-users, from: owner_id}}
        """
    )

    mapped = workspace.mappings[SYNC].apply(CONTACT, DictLookups({LOOKUP_SYNC: {3: "U-3"}}))

    assert mapped == {
        "customer_no": 7,
        "name": "Ann Berg",
        "email": "ann@berg.se",
        "country": "SE",
        "credit_limit": Decimal("12500.50"),
        "segment": "smb",
        "account_manager": "U-3",
    }
    assert str(mapped["credit_limit"]) == "12500.50"


# --- transforms -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("transform", "value", "result"),
    [
        (["strip", "lower"], " Ann@Berg.SE ", "ann@berg.se"),
        ("strip", "  x  ", "x"),
        (["truncate:3", "upper"], "abcdef", "ABC"),
        (["upper", "truncate:3"], "abcdef", "ABC"),
        (["strip", "truncate:3"], "  abcdef", "abc"),
        (["truncate:3", "strip"], "  abcdef", "a"),
        (["split:,", "strip", "upper"], " a , b ", ["A", "B"]),
        (["split:,", "strip", "join:;"], " a , b ", "a;b"),
        (["digits"], 46701234567, "46701234567"),
        (["collapse_spaces", "title"], "ann   marie  berg", "Ann Marie Berg"),
        (["parse_date:%m/%d/%Y", "date:%d.%m.%Y"], "03/05/2024", "05.03.2024"),
        (["strip", "null_if_empty"], "   ", None),
        (["lower"], None, None),
    ],
)
def test_transforms_apply_in_order(compile_fields: CompileFields, transform: Any, value: Any, result: Any) -> None:
    assert map_one(compile_fields, {"from": "x", "transform": transform}, {"id": 1, "x": value}) == result


def test_a_text_transform_on_a_mapping_fails_the_record(compile_fields: CompileFields) -> None:
    error = mapping_error(compile_fields, {"from": "address", "transform": ["strip", "upper"]}, CONTACT)

    assert error.cause == "transform strip: cannot apply a text transform to a mapping"
    assert (
        str(error) == f"sync {SYNC}, record 7, field out: transform strip: cannot apply a text transform to a mapping"
    )


def test_a_transform_that_cannot_read_the_value_names_itself(compile_fields: CompileFields) -> None:
    error = mapping_error(compile_fields, {"from": "x", "transform": "parse_date:%m/%d/%Y"}, {"id": 1, "x": "5.3.24"})

    assert error.cause == "transform parse_date:%m/%d/%Y: '5.3.24' does not have the form '%m/%d/%Y'"


# --- types ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_name", "value", "result"),
    [
        ("decimal", "12 500.50", Decimal("12500.50")),
        ("decimal", "1,234", Decimal("1234")),
        ("decimal", 0.1, Decimal("0.1")),
        ("integer", "7,000", 7000),
        ("number", "1,234.5", 1234.5),
        ("boolean", "ja", True),
        ("boolean", 0, False),
        ("date", "05/03/2024", date(2024, 3, 5)),
        ("datetime", "2024-03-05T09:30:00Z", datetime(2024, 3, 5, 9, 30, tzinfo=UTC)),
        ("datetime", 1709631000, datetime(2024, 3, 5, 9, 30, tzinfo=UTC)),
        ("datetime", " 2024-03-05 09:30 ", datetime(2024, 3, 5, 9, 30)),  # ISO text read inline, the rest not
        ("datetime", "05.03.2024 09:30", datetime(2024, 3, 5, 9, 30)),
        ("datetime", "", None),
        ("datetime", date(2024, 3, 5), datetime(2024, 3, 5)),
        ("datetime", ["2024-03-05", " "], [datetime(2024, 3, 5), None]),
        ("date", "2024-03-05", date(2024, 3, 5)),
        ("date", "2024-03-05T23:30:00+01:00", date(2024, 3, 5)),
        ("date", " 2024-03-05", date(2024, 3, 5)),
        ("date", datetime(2024, 3, 5, 23, 30), date(2024, 3, 5)),
        ("string", 7, "7"),
        ("string", True, "true"),
        ("string", Decimal("1.50"), "1.50"),
        ("integer", "", None),
        ("date", " ", None),
        ("string", "", ""),
        ("integer", ["1", "2,000"], [1, 2000]),
    ],
)
def test_type_converts_the_value(compile_fields: CompileFields, type_name: str, value: Any, result: Any) -> None:
    converted = map_one(compile_fields, {"from": "x", "type": type_name}, {"id": 1, "x": value})

    assert converted == result
    assert type(converted) is type(result)


def test_a_string_type_writes_a_mapping_as_json(compile_fields: CompileFields) -> None:
    assert map_one(compile_fields, {"from": "address", "type": "string"}, CONTACT) == (
        '{"city": "Malmö", "country": "Sverige"}'
    )


@pytest.mark.parametrize(
    ("type_name", "value", "cause"),
    [
        ("decimal", "abc", "cannot convert 'abc' to decimal"),
        (
            "integer",
            7.5,
            "cannot convert 7.5 to integer (it has a fraction; round it in an expression if that is meant)",
        ),
        ("boolean", "maybe", "cannot convert 'maybe' to boolean (use true/false, yes/no, ja/nej, 1/0 or on/off)"),
        ("boolean", 2, "cannot convert 2 to boolean (use true/false, yes/no, ja/nej, 1/0 or on/off)"),
        (
            "date",
            "13/13/2024",
            "cannot convert '13/13/2024' to date (use ISO 2024-03-05 or a form like 05.03.2024;"
            " parse_date:FORMAT for others)",
        ),
    ],
)
def test_a_value_that_does_not_convert_fails_the_record(
    compile_fields: CompileFields, type_name: str, value: Any, cause: str
) -> None:
    error = mapping_error(compile_fields, {"from": "x", "type": type_name}, {"id": 7, "x": value})

    assert type(error) is MappingError
    assert (error.sync, error.source_key, error.field, error.cause) == (SYNC, "7", "out", cause)
    assert str(error) == f"sync {SYNC}, record 7, field out: {cause}"
    assert error.reason == "mapping"


# --- default --------------------------------------------------------------------


@pytest.mark.parametrize("record", [{"id": 1}, {"id": 1, "x": None}])
def test_default_fills_null_and_missing(compile_fields: CompileFields, record: dict[str, Any]) -> None:
    assert map_one(compile_fields, {"from": "x", "default": "SE"}, record) == "SE"


@pytest.mark.parametrize("value", ["", "  ", 0, False, []])
def test_default_leaves_other_empty_values(compile_fields: CompileFields, value: Any) -> None:
    result = map_one(compile_fields, {"from": "x", "default": "SE"}, {"id": 1, "x": value})

    assert result == value
    assert type(result) is type(value)


@pytest.mark.parametrize(
    ("type_name", "default", "result"),
    [
        ("decimal", "12.50", Decimal("12.50")),
        ("integer", "7,000", 7000),
        ("number", 5, 5.0),
        ("boolean", "ja", True),
        ("date", "05.03.2024", date(2024, 3, 5)),
        ("datetime", "2024-03-05T09:30:00Z", datetime(2024, 3, 5, 9, 30, tzinfo=UTC)),
        ("string", 5, "5"),
        ("string", False, "false"),
    ],
)
def test_default_is_converted_by_type(compile_fields: CompileFields, type_name: str, default: Any, result: Any) -> None:
    value = map_one(compile_fields, {"from": "x", "type": type_name, "default": default}, {"id": 1})

    assert value == result
    assert type(value) is type(result)


@pytest.mark.parametrize(("default", "result"), [(0, 0), (False, False), ("", "")])
def test_a_falsy_default_still_applies(compile_fields: CompileFields, default: Any, result: Any) -> None:
    value = map_one(compile_fields, {"from": "x", "default": default}, {"id": 1})

    assert value == result
    assert type(value) is type(result)


# --- required -------------------------------------------------------------------


@pytest.mark.parametrize(
    "record", [{"id": 7}, {"id": 7, "email": None}, {"id": 7, "email": ""}, {"id": 7, "email": " \t"}]
)
def test_required_fails_on_null_and_blank_text(compile_fields: CompileFields, record: dict[str, Any]) -> None:
    error = mapping_error(compile_fields, {"from": "email", "required": True}, record)

    assert type(error) is MappingError
    assert (error.sync, error.source_key, error.field) == (SYNC, "7", "out")
    assert error.cause == "required, but 'email' is missing or empty"
    assert str(error) == f"sync {SYNC}, record 7, field out: required, but 'email' is missing or empty"


@pytest.mark.parametrize("value", [0, False, "x", Decimal("0")])
def test_required_accepts_falsy_values_that_are_not_empty(compile_fields: CompileFields, value: Any) -> None:
    assert map_one(compile_fields, {"from": "x", "required": True}, {"id": 1, "x": value}) == value


@pytest.mark.parametrize(
    "spec",
    [
        {"template": "{{ record.email }}", "required": True},
        {"template": "{{ record.email | default('') }}", "required": True},
        {"value": None, "required": True},
        {"lookup": {"sync": LOOKUP_SYNC, "from": "email"}, "required": True},
    ],
)
def test_required_without_a_path_says_the_value_is_empty(compile_fields: CompileFields, spec: Any) -> None:
    error = mapping_error(compile_fields, spec, {"id": 7})

    assert error.cause == "required, but the value is empty"


def test_required_names_a_record_without_a_key(compile_fields: CompileFields) -> None:
    error = mapping_error(compile_fields, {"from": "email", "required": True}, {"name": "no id"})

    assert error.source_key is None
    assert str(error) == f"sync {SYNC}, record (no key), field out: required, but 'email' is missing or empty"


def test_the_first_failing_field_is_named(compile_fields: CompileFields) -> None:
    mapping = compile_fields(
        {
            "customer_no": "id",
            "email": {"from": "email", "required": True},
            "limit": {"from": "limit", "type": "decimal"},
        }
    )

    with pytest.raises(MappingError) as caught:
        mapping.apply({"id": 7, "limit": "abc"})

    assert caught.value.field == "email"


# --- map --------------------------------------------------------------------------

COUNTRIES = {"Sverige": "SE", "Sweden": "SE", "Norge": "NO"}


@pytest.mark.parametrize(
    ("table", "value", "result"),
    [
        (COUNTRIES, "Sverige", "SE"),
        (COUNTRIES, "Norge", "NO"),
        (COUNTRIES, "Danmark", "Danmark"),  # missing stays as it is
        (COUNTRIES, "sverige", "sverige"),  # exact: case counts
        ({**COUNTRIES, "*": "other"}, "Danmark", "other"),
        ({**COUNTRIES, "*": "other"}, "Sweden", "SE"),
        ({**COUNTRIES, "*": None}, "Danmark", None),
        ({1: "one", 2: "two"}, 1, "one"),
        ({1: "one", 2: "two"}, "1", "one"),  # a text value finds a number key
        ({"1": "one"}, 1, "one"),  # a number value finds a text key
        ({1: "one"}, "01", "01"),
        ({1.5: "half"}, 1.5, "half"),
        ({True: "yes", False: "no"}, True, "yes"),
        ({True: "yes", False: "no"}, "false", "no"),  # CSV text finds a boolean key
        ({"A": 1, "B": 2}, "B", 2),
        (COUNTRIES, ["Sverige", "Danmark", "Norge"], ["SE", "Danmark", "NO"]),
        ({**COUNTRIES, "*": "other"}, ["Sverige", "Danmark"], ["SE", "other"]),
        (COUNTRIES, {"a": 1}, {"a": 1}),
        ({**COUNTRIES, "*": "other"}, {"a": 1}, "other"),
    ],
)
def test_map_translates_values(compile_fields: CompileFields, table: dict[Any, Any], value: Any, result: Any) -> None:
    translated = map_one(compile_fields, {"from": "x", "map": table}, {"id": 1, "x": value})

    assert translated == result
    assert type(translated) is type(result)


@pytest.mark.parametrize(
    ("table", "value", "result"),
    [
        ({1: "one", 0: "zero"}, True, True),  # True == 1 to Python: a boolean took the 1: entry
        ({1: "one", 0: "zero"}, False, False),
        ({1: "one", "*": "other"}, True, "other"),
        ({True: "yes", False: "no"}, 1, 1),  # and a number the true: entry
        ({True: "yes", False: "no"}, 0, 0),
        ({True: "yes", False: "no"}, 1.0, 1.0),
        ({True: "yes", False: "no"}, Decimal("0"), Decimal("0")),
        ({"1": "one", True: "yes"}, True, "yes"),  # both, the number as text
        ({"1": "one", True: "yes"}, 1, "one"),
        ({"1": "one", True: "yes"}, "true", "yes"),
        ({1: "one"}, 1.0, "one"),  # numbers match by value, whatever their type
        ({1: "one"}, Decimal("1.00"), "one"),
        ({1.0: "one"}, 1, "one"),
        ({2.5: "half"}, Decimal("2.5"), "half"),
        ({1: "one"}, [True, 1], [True, "one"]),
    ],
)
def test_map_matches_a_boolean_only_with_a_boolean_key(
    compile_fields: CompileFields, table: dict[Any, Any], value: Any, result: Any
) -> None:
    translated = map_one(compile_fields, {"from": "x", "map": table}, {"id": 1, "x": value})

    assert translated == result
    assert type(translated) is type(result)
    if isinstance(result, list):
        assert [type(item) for item in translated] == [type(item) for item in result]


def test_a_map_with_a_boolean_and_a_number_key_python_takes_as_one_says_so_where(config_issues: ConfigIssues) -> None:
    """``{1: one, true: yes}`` was refused as a "duplicate key 'True'", which the user never wrote."""
    issues = config_issues(
        """\
        fields:
          out: {from: x, map: {1: one, true: yes}}
        """
    )

    assert [str(issue).split(":", 1)[1] for issue in issues] == [
        "5:32: fields.out.map: key 'true' is the same key as '1' (line 5) to Python (a boolean is the number 1 "
        "or 0, 1.0 is 1): write one of them as text ('1': …), which text and numbers still find"
    ]


@pytest.mark.parametrize("table", [COUNTRIES, {**COUNTRIES, "*": "other"}])
def test_map_leaves_null_as_null(compile_fields: CompileFields, table: dict[Any, Any]) -> None:
    assert map_one(compile_fields, {"from": "x", "map": table}, {"id": 1}) is None


def test_map_translates_null_when_it_has_a_null_key(compile_fields: CompileFields) -> None:
    spec = {"from": "x", "map": {None: "unknown", "*": "other"}}

    assert map_one(compile_fields, spec, {"id": 1}) == "unknown"
    assert map_one(compile_fields, spec, {"id": 1, "x": ["a", None]}) == ["other", "unknown"]


# --- the order: value, transform, map, type, default, required ----------------------


@pytest.mark.parametrize(
    ("spec", "value", "result"),
    [
        # transform before map: the cleaned value is looked up
        ({"transform": ["strip", "lower"], "map": {"se": "SE"}}, " Se ", "SE"),
        # map before type: the mapped text is converted
        ({"map": {"yes": "1", "no": "0"}, "type": "integer"}, "yes", 1),
        ({"map": {"hög": "12,5"}, "type": "decimal", "decimal_mark": ","}, "hög", Decimal("12.5")),
        # transform before type: digits makes a number readable
        ({"transform": "digits", "type": "integer"}, "SEK 1 200:-", 1200),
        # type before default: blank text is null for a number, so the default applies
        ({"type": "integer", "default": 5}, "", 5),
        # map before default: a value mapped to null gets the default
        ({"map": {"unknown": None}, "default": "SE"}, "unknown", "SE"),
        # transform before default: null_if_empty hands over to the default
        ({"transform": ["strip", "null_if_empty"], "default": "n/a"}, "   ", "n/a"),
        # default before required: a defaulted value is not missing
        ({"default": "SE", "required": True}, None, "SE"),
        # all of them
        (
            {
                "transform": ["strip", "lower"],
                "map": {"ja": "1", "nej": "0", "*": None},
                "type": "boolean",
                "default": "nej",
                "required": True,
            },
            " JA ",
            True,
        ),
        (
            {
                "transform": ["strip", "lower"],
                "map": {"ja": "1", "nej": "0", "*": None},
                "type": "boolean",
                "default": "nej",
                "required": True,
            },
            "kanske",
            False,
        ),
    ],
)
def test_steps_apply_in_the_documented_order(
    compile_fields: CompileFields, spec: dict[str, Any], value: Any, result: Any
) -> None:
    mapped = map_one(compile_fields, {"from": "x", **spec}, {"id": 1, "x": value})

    assert mapped == result
    assert type(mapped) is type(result)


def test_type_comes_before_required(compile_fields: CompileFields) -> None:
    error = mapping_error(compile_fields, {"from": "x", "type": "decimal", "required": True}, {"id": 1, "x": "  "})

    assert error.cause == "required, but 'x' is missing or empty"


def test_transform_comes_before_required(compile_fields: CompileFields) -> None:
    error = mapping_error(
        compile_fields, {"from": "x", "transform": "null_if_empty", "required": True}, {"id": 1, "x": ""}
    )

    assert error.cause == "required, but 'x' is missing or empty"


def test_map_comes_before_required(compile_fields: CompileFields) -> None:
    error = mapping_error(compile_fields, {"from": "x", "map": {"-": None}, "required": True}, {"id": 1, "x": "-"})

    assert error.cause == "required, but 'x' is missing or empty"


# --- where ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "record", "kept"),
    [
        ("{{ record.status != 'archived' }}", {"id": 1, "status": "active"}, True),
        ("{{ record.status != 'archived' }}", {"id": 1, "status": "archived"}, False),
        ("{{ record.status != 'archived' }}", {"id": 1}, True),
        ("record.status == 'active'", {"id": 1, "status": "active"}, True),
        ("record.status == 'active'", {"id": 1, "status": "archived"}, False),
        ("{{ record.active }}", {"id": 1, "active": True}, True),
        ("{{ record.active }}", {"id": 1, "active": False}, False),
        ("{{ record.active }}", {"id": 1}, False),  # a missing field is falsy
        ("{{ record.address.country }}", {"id": 1}, False),
        ("{{ record.tags }}", {"id": 1, "tags": []}, False),
        ("{{ record.tags }}", {"id": 1, "tags": ["a"]}, True),
        ("{{ record.id }}", {"id": 0}, False),
        # a CSV's booleans are text: 'false' was true (not empty), and the record written that was meant skipped
        ("{{ record.active }}", {"id": 1, "active": "false"}, False),
        ("{{ record.active }}", {"id": 1, "active": " Nej "}, False),
        ("{{ record.active }}", {"id": 1, "active": "0"}, False),
        ("{{ record.active }}", {"id": 1, "active": "true"}, True),
        ("{{ record.active }}", {"id": 1, "active": ""}, False),
        ("{{ record.email }}", {"id": 1, "email": "a@b.se"}, True),  # other text: kept, as before
        ("{{ record.status == 'x' or record.active }}", {"id": 1, "status": "y", "active": "no"}, False),
    ],
)
def test_where_keeps_or_skips(compile_fields: CompileFields, where: str, record: dict[str, Any], kept: bool) -> None:
    mapped = compile_fields({"id": "id"}, where=where).apply(record)

    assert mapped == ({"id": record["id"]} if kept else None)


def test_a_skipped_record_does_not_map_its_fields(compile_fields: CompileFields) -> None:
    mapping = compile_fields({"email": {"from": "email", "required": True}}, where="{{ record.status == 'active' }}")

    assert mapping.apply({"id": 1, "status": "archived"}) is None


def test_a_where_that_raises_fails_the_record(compile_fields: CompileFields) -> None:
    mapping = compile_fields({"id": "id"}, where="{{ record.id / record.parts }}")

    with pytest.raises(MappingError) as caught:
        mapping.apply({"id": 7, "parts": 0})

    error = caught.value
    assert type(error) is MappingError
    assert (error.sync, error.source_key, error.field) == (SYNC, "7", None)
    assert error.cause == "where: expression failed: ZeroDivisionError: division by zero"
    assert str(error) == f"sync {SYNC}, record 7: where: expression failed: ZeroDivisionError: division by zero"
    assert isinstance(error.__cause__, ZeroDivisionError)


# --- expressions ----------------------------------------------------------------


def test_an_expression_that_raises_fails_the_record(compile_fields: CompileFields) -> None:
    mapping = compile_fields({"id": "id", "share": "{{ record.total / record.parts }}"})

    with pytest.raises(MappingError) as caught:
        mapping.apply({"id": 7, "total": 10, "parts": 0})

    error = caught.value
    assert (error.field, error.cause) == ("share", "expression failed: ZeroDivisionError: division by zero")
    assert str(error) == f"sync {SYNC}, record 7, field share: expression failed: ZeroDivisionError: division by zero"
    assert isinstance(error.__cause__, ZeroDivisionError)


@pytest.mark.parametrize(
    "spec", ["{{ record.__class__ }}", "{{ record.id.__class__.__base__ }}", "{{ now }}", "{{ env }}"]
)
def test_internals_and_globals_are_config_errors(compile_fields: CompileFields, spec: str) -> None:
    with pytest.raises(ConfigError, match=r"bad expression: (unknown name|'__[a-z]+__' starts with an underscore)"):
        compile_fields({"out": spec})


def test_an_expression_cannot_call_now(compile_fields: CompileFields) -> None:
    with pytest.raises(ConfigError) as caught:
        compile_fields({"id": "{{ now() }}"})

    assert "bad expression: unknown name 'now'" in str(caught.value)


# --- lookup -----------------------------------------------------------------------


def test_lookup_asks_the_other_sync_for_the_target_key(compile_fields: CompileFields) -> None:
    lookups = RecordingLookups({(LOOKUP_SYNC, "3"): "U-3"})
    mapping = compile_fields({"manager": {"lookup": {"sync": LOOKUP_SYNC, "from": "owner_id"}}})

    assert mapping.apply(CONTACT, lookups) == {"manager": "U-3"}
    assert lookups.asked == [(LOOKUP_SYNC, "3")]


def test_a_reverse_lookup_asks_for_the_source_key_linked_with_the_key_found(open_sync: OpenSync) -> None:
    fields = {"owner_id": {"lookup": {"sync": LOOKUP_SYNC, "from": "manager"}}}
    workspace = open_sync(yaml.safe_dump({"fields": fields}))
    sync = workspace.project.syncs[SYNC]
    assert isinstance(sync, SyncConfig)
    mapping = compile_mapping(sync, ("id",), reverse_lookups={LOOKUP_SYNC})
    lookups = RecordingLookups({(f"reverse {LOOKUP_SYNC}", "U-3"): "3"})

    assert mapping.apply({"id": 1, "manager": "U-3"}, lookups) == {"owner_id": "3"}
    assert lookups.asked == [(f"reverse {LOOKUP_SYNC}", "U-3")]
    assert mapping.lookup_requests({"manager": "U-3"}, reverse=True) == [(LOOKUP_SYNC, "U-3")]
    assert mapping.lookup_requests({"manager": "U-3"}) == []
    with pytest.raises(LookupPendingError, match="manager U-4 is not linked with a record in sync"):
        mapping.apply({"id": 2, "manager": "U-4"}, lookups)


def test_lookup_with_a_composite_key_asks_with_a_json_list(compile_fields: CompileFields) -> None:
    lookups = RecordingLookups({(LOOKUP_SYNC, '["SE","42"]'): "U-42"})
    mapping = compile_fields({"manager": {"lookup": {"sync": LOOKUP_SYNC, "from": ["country", "owner.no"]}}})

    assert mapping.apply({"id": 1, "country": "SE", "owner": {"no": 42}}, lookups) == {"manager": "U-42"}
    assert lookups.asked == [(LOOKUP_SYNC, '["SE","42"]')]


@pytest.mark.parametrize(
    ("paths", "record"),
    [
        ("owner_id", {"id": 1}),
        ("owner_id", {"id": 1, "owner_id": None}),
        (["country", "owner_id"], {"id": 1, "country": "SE"}),
        (["country", "owner_id"], {"id": 1, "owner_id": 3}),
    ],
)
def test_lookup_of_a_null_source_value_is_null_without_asking(
    compile_fields: CompileFields, paths: Any, record: dict[str, Any]
) -> None:
    lookups = RecordingLookups({})
    mapping = compile_fields({"manager": {"lookup": {"sync": LOOKUP_SYNC, "from": paths}}})

    assert mapping.apply(record, lookups) == {"manager": None}
    assert lookups.asked == []


def test_lookup_without_a_target_key_is_pending(compile_fields: CompileFields) -> None:
    mapping = compile_fields({"customer_no": "id", "manager": {"lookup": {"sync": LOOKUP_SYNC, "from": "owner_id"}}})

    with pytest.raises(LookupPendingError) as caught:
        mapping.apply(CONTACT, RecordingLookups({}))

    error = caught.value
    assert error.reason == "lookup"
    assert isinstance(error, MappingError)
    assert (error.sync, error.source_key, error.field) == (SYNC, "7", "manager")
    assert error.cause == f"lookup: owner_id 3 has no target key in sync {LOOKUP_SYNC} yet"
    assert (
        str(error)
        == f"sync {SYNC}, record 7, field manager: lookup: owner_id 3 has no target key in sync {LOOKUP_SYNC} yet"
    )


def test_a_pending_composite_lookup_names_every_path(compile_fields: CompileFields) -> None:
    mapping = compile_fields({"manager": {"lookup": {"sync": LOOKUP_SYNC, "from": ["country", "owner.no"]}}})

    with pytest.raises(LookupPendingError) as caught:
        mapping.apply({"id": 1, "country": "SE", "owner": {"no": 42}}, RecordingLookups({}))

    assert caught.value.cause == f'lookup: country + owner.no ["SE","42"] has no target key in sync {LOOKUP_SYNC} yet'


@pytest.mark.parametrize(
    ("paths", "record", "why"),
    [
        ("owner_id", {"id": 1, "owner_id": True}, "owner_id is a boolean (true), not text or a number"),
        ("owner_id", {"id": 1, "owner_id": False}, "owner_id is a boolean (false), not text or a number"),
        ("owner_id", {"id": 1, "owner_id": [3]}, "owner_id is a list, not text or a number"),
        ("owner_id", {"id": 1, "owner_id": {"id": 3}}, "owner_id is an object, not text or a number"),
        ("owner_id", {"id": 1, "owner_id": float("nan")}, "owner_id is nan, not a finite number"),
        (["country", "owner.no"], {"id": 1, "country": "SE", "owner": {"no": True}}, "owner.no is a boolean (true)"),
    ],
)
def test_a_lookup_of_a_value_that_is_no_key_fails_its_record_instead_of_matching_its_text(
    compile_fields: CompileFields, paths: Any, record: dict[str, Any], why: str
) -> None:
    """A boolean was looked up as the key "true" (and found a parent keyed by that text), where a record's
    own key of ``true`` fails it: a lookup's key follows the same rule, and its record fails alone."""
    lookups = RecordingLookups({(LOOKUP_SYNC, "true"): "U-T", (LOOKUP_SYNC, '["SE","true"]'): "U-T"})
    mapping = compile_fields({"manager": {"lookup": {"sync": LOOKUP_SYNC, "from": paths}}})

    with pytest.raises(MappingError) as caught:
        mapping.apply(record, lookups)

    assert not isinstance(caught.value, LookupPendingError)  # no parent will ever be synced for it
    assert caught.value.field == "manager"
    assert caught.value.cause.startswith(f"lookup: {why}")
    assert caught.value.cause.endswith(
        f"so it is no key of a record in sync {LOOKUP_SYNC}: look it up by a field holding the parent's key "
        "(text or a whole number)"
    )
    assert lookups.asked == []
    assert mapping.lookup_requests(record) == []


def test_a_reverse_lookup_of_a_boolean_fails_its_record(open_sync: OpenSync) -> None:
    fields = {"owner_id": {"lookup": {"sync": LOOKUP_SYNC, "from": "manager"}}}
    workspace = open_sync(yaml.safe_dump({"fields": fields}))
    sync = workspace.project.syncs[SYNC]
    assert isinstance(sync, SyncConfig)
    mapping = compile_mapping(sync, ("id",), reverse_lookups={LOOKUP_SYNC})
    lookups = RecordingLookups({(f"reverse {LOOKUP_SYNC}", "true"): "3"})

    with pytest.raises(MappingError, match=r"lookup: manager is a boolean \(true\)"):
        mapping.apply({"id": 1, "manager": True}, lookups)
    assert lookups.asked == []
    assert mapping.lookup_requests({"manager": True}, reverse=True) == []


def test_lookup_without_a_resolver_is_pending(compile_fields: CompileFields) -> None:
    mapping = compile_fields({"manager": {"lookup": {"sync": LOOKUP_SYNC, "from": "owner_id"}}})

    with pytest.raises(LookupPendingError) as caught:
        mapping.apply(CONTACT)

    assert caught.value.cause == f"lookup: owner_id 3 has no target key in sync {LOOKUP_SYNC} yet"


@pytest.mark.parametrize(
    ("owner_id", "table", "target"),
    [
        (3, {3: "U-3"}, "U-3"),
        ("3", {3: "U-3"}, "U-3"),
        (3, {"3": 30}, "30"),  # target keys come back as text, as the ID map stores them
        (3.0, {3: "U-3"}, "U-3"),
        (Decimal("3"), {3: "U-3"}, "U-3"),
        (date(2024, 3, 5), {"2024-03-05": "D"}, "D"),
    ],
)
def test_lookup_through_dict_lookups_compares_keys_as_text(
    compile_fields: CompileFields, owner_id: Any, table: dict[Any, Any], target: str
) -> None:
    mapping = compile_fields({"manager": {"lookup": {"sync": LOOKUP_SYNC, "from": "owner_id"}}})

    mapped = mapping.apply({"id": 1, "owner_id": owner_id}, DictLookups({LOOKUP_SYNC: table}))

    assert mapped == {"manager": target}


def test_a_lookup_result_goes_through_the_other_steps(compile_fields: CompileFields) -> None:
    mapping = compile_fields(
        {"manager": {"lookup": {"sync": LOOKUP_SYNC, "from": "owner_id"}, "type": "integer", "default": 0}}
    )
    lookups = DictLookups({LOOKUP_SYNC: {3: "30"}})

    assert mapping.apply({"id": 1, "owner_id": 3}, lookups) == {"manager": 30}
    assert mapping.apply({"id": 1}, lookups) == {"manager": 0}


# --- source keys ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "key"),
    [({"id": 7}, "7"), ({"id": "C-7"}, "C-7"), ({"id": 7.0}, "7"), ({"id": None}, None), ({}, None)],
)
def test_source_key_reads_the_source_streams_key(
    compile_fields: CompileFields, record: dict[str, Any], key: str | None
) -> None:
    mapping = compile_fields({"x": "id"})

    assert mapping.key.fields == ("id",)
    assert mapping.source_key(record) == key


# --- compile errors, at their place in the file ---------------------------------------
# The sync file starts with three header lines (name, source, target), so a body's first line is line 4.


@pytest.mark.parametrize(
    ("body", "line", "col", "message"),
    [
        (
            'fields:\n  email: "a..b"\n',
            5,
            10,
            "fields.email: bad path 'a..b' at character 2: write names joined by dots, [N] for list items"
            ' and ["name"] for names with dots, such as address.country or items[0].sku',
        ),
        (
            'fields:\n  email: {from: "items[0"}\n',
            5,
            17,
            "fields.email.from: bad path 'items[0' at character 6",
        ),
        (
            "fields:\n  owner: {lookup: {sync: users-to-users, from: [id, 'a.']}}\n",
            5,
            53,
            "fields.owner.lookup.from[1]: bad path 'a.' at character 2",
        ),
        (
            'fields:\n  name: "{{ record.first_name + }}"\n',
            5,
            9,
            "fields.name: bad expression: unexpected 'end of print statement'",
        ),
        (
            'fields:\n  name: {template: "{{ record.first_name"}\n',
            5,
            20,
            "fields.name.template: bad expression: unexpected end of template, expected 'end of print statement'.",
        ),
        (
            'fields:\n  name: "{% if record.x %}x"\n',
            5,
            9,
            "fields.name: bad expression: Unexpected end of template. Jinja was looking for the following tags:"
            " 'elif' or 'else' or 'endif'.",
        ),
        (
            'fields:\n  name: "Dear {{ record.first_name | shout }}"\n',
            5,
            9,
            "fields.name: bad expression: no filter named 'shout' (did you mean 'sort'?)",
        ),
        (
            'where: "{{ record.status | shout }}"\nfields:\n  id: id\n',
            4,
            8,
            "where: bad expression: no filter named 'shout' (did you mean 'sort'?)",
        ),
        (
            'where: "{{ recrod.status != 1 }}"\nfields:\n  id: id\n',
            4,
            8,
            "where: bad expression: unknown name 'recrod' (did you mean 'record'?)",
        ),
        (
            'fields:\n  name: "{{ record.first_name.__class__ }}"\n',
            5,
            9,
            "fields.name: bad expression: '__class__' starts with an underscore",
        ),
        (
            "fields:\n  email: {from: email, transform: [strip, lowr]}\n",
            5,
            43,
            "fields.email.transform[1]: unknown transform 'lowr' (did you mean 'lower'?); built in: strip,",
        ),
        (
            "fields:\n  email: {from: email, transform: lowr}\n",
            5,
            35,
            "fields.email.transform: unknown transform 'lowr' (did you mean 'lower'?)",
        ),
        (
            "fields:\n  email:\n    from: email\n    transform:\n      - strip\n      - truncate\n",
            9,
            9,
            "fields.email.transform[1]: truncate needs an argument: write truncate:N",
        ),
        (
            "fields:\n  email: {from: email, transform: ['strip:both']}\n",
            5,
            36,
            "fields.email.transform[0]: strip takes no argument: write strip",
        ),
        (
            "fields:\n  email: {from: email, transform: ['truncate:many']}\n",
            5,
            36,
            "fields.email.transform[0]: 'many' is not a length: write a whole number, such as truncate:40",
        ),
        (
            "fields:\n  limit: {from: limit, type: decimal, default: lots}\n",
            5,
            48,
            "fields.limit.default: the default does not fit type decimal: cannot convert 'lots' to decimal",
        ),
        (
            "fields:\n  count: {from: n, type: integer, default: 7.5}\n",
            5,
            44,
            "fields.count.default: the default does not fit type integer: cannot convert 7.5 to integer"
            " (it has a fraction; round it in an expression if that is meant)",
        ),
        (
            "fields:\n  active:\n    from: a\n    type: boolean\n    default: maybe\n",
            8,
            14,
            "fields.active.default: the default does not fit type boolean: cannot convert 'maybe' to boolean",
        ),
        (
            'where: "{% if record.x %}yes{% endif %}"\nfields:\n  id: id\n',
            4,
            8,
            "where: a condition is one expression: write {{ record.status != 'archived' }}",
        ),
        (
            'where: "{{ record.a }} {{ record.b }}"\nfields:\n  id: id\n',
            4,
            8,
            "where: a condition is one expression: write {{ record.status != 'archived' }}",
        ),
        (
            "where: record.status ==\nfields:\n  id: id\n",
            4,
            8,
            "where: bad expression: unexpected 'end of template'",
        ),
    ],
)
def test_a_compile_error_is_reported_at_its_place(
    config_issues: ConfigIssues, body: str, line: int, col: int, message: str
) -> None:
    issues = config_issues(body)

    assert len(issues) == 1
    issue = issues[0]
    assert issue.file.name == "contacts.yaml"
    assert (issue.line, issue.col) == (line, col)
    assert issue.message.startswith(message)


def test_every_compile_error_is_reported_at_once(config_issues: ConfigIssues) -> None:
    issues = config_issues(
        """\
        where: "{% if x %}{% endif %}"
        fields:
          a: "a..b"
          b: "{{ record.id + }}"
          c: {from: c, transform: [trim, truncate]}
          d: {from: d, type: date, default: "31.02.2024"}
        """
    )

    assert [(issue.line, issue.col, issue.message.partition(":")[0]) for issue in issues] == [
        (4, 8, "where"),
        (6, 6, "fields.a"),
        (7, 6, "fields.b"),
        (8, 28, "fields.c.transform[0]"),
        (8, 34, "fields.c.transform[1]"),
        (9, 37, "fields.d.default"),
    ]
    assert "unknown transform 'trim' (did you mean 'strip'?)" in issues[3].message
    assert str(issues[0]).endswith(
        "contacts.yaml:4:8: where: a condition is one expression: write {{ record.status != 'archived' }}"
    )


def test_plain_copies_are_known_so_a_copied_key_need_not_be_read_again(compile_fields: CompileFields) -> None:
    mapping = compile_fields(
        {
            "customer_no": "id",
            "city": "address.city",
            "name": {"from": "first_name", "transform": ["strip"]},
            "status": {"from": "status", "map": {"active": "A"}},
            "owner": {"from": "owner_id", "type": "string"},
            "note": {"from": "note", "default": "-"},
            "fixed": {"value": 1},
        }
    )

    assert mapping.copies == {"customer_no": "id", "city": "address.city"}


# --- pass-through -----------------------------------------------------------------

PASSED: dict[str, Any] = {"id": 7, "name": "Ann", "credit": Decimal("12.50")}


def test_a_mapping_of_every_field_to_itself_gives_a_record_of_just_those_fields_back_as_it_is(
    compile_fields: CompileFields,
) -> None:
    mapping = compile_fields({"id": "id", "name": {"from": "name"}, "credit": "credit"})
    record = dict(PASSED)
    assert mapping.apply(record) is record
    assert record == PASSED


@pytest.mark.parametrize(
    "record",
    [
        {"id": 7, "name": "Ann", "credit": Decimal("12.50"), "extra": 1},  # a field the mapping leaves out
        {"id": 7, "name": "Ann"},  # one it lacks
        {"name": "Ann", "id": 7, "credit": Decimal("12.50")},  # the same fields in another order
    ],
)
def test_a_record_with_other_fields_is_mapped_as_ever(compile_fields: CompileFields, record: dict[str, Any]) -> None:
    mapped = compile_fields({"id": "id", "name": "name", "credit": "credit"}).apply(record)
    assert mapped is not record
    assert mapped == {"id": 7, "name": "Ann", "credit": record.get("credit")}
    assert list(mapped or {}) == ["id", "name", "credit"]


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"id": "id", "name": "name", "credit": "name"}, None),  # a field from another
        ({"id": "id", "name": {"from": "name", "transform": "upper"}, "credit": "credit"}, None),
        ({"id": "id", "name": {"from": "name", "required": True}, "credit": "credit"}, None),
        ({"id": "id", "name": {"from": "name", "default": "?"}, "credit": "credit"}, None),
        ({"id": {"from": "id", "type": "integer"}, "name": "name", "credit": "credit"}, None),
        ({"id": "id", "name": "name", "credit": "credit"}, "record.id > 1"),
    ],
)
def test_a_mapping_that_changes_or_skips_anything_never_passes_a_record_through(
    compile_fields: CompileFields, fields: dict[str, Any], where: str | None
) -> None:
    record = dict(PASSED)
    mapped = compile_fields(fields, where).apply(record)
    assert mapped is not record
    assert record == PASSED
