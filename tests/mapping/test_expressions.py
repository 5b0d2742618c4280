"""Jinja2 expressions and conditions over a record: native types, filters, the sandbox, syntax errors."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from jinja2.exceptions import SecurityError

from app.mapping.expressions import ExpressionSyntaxError, compile_condition, compile_template

RECORD: dict[str, Any] = {
    "id": 7,
    "first_name": "Ann",
    "last_name": "Berg",
    "price": Decimal("12.50"),
    "active": True,
    "tags": ["a", "b"],
    "address": {"country": "SE", "lines": ["Storgatan 1"]},
    "phone": "+46 (0)70-123",
    "since": "2024-03-05",
    "csv": "a, b",
    "nothing": None,
    "status": "active",
}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("{{ record.id }}", 7),
        ("{{record.id}}", 7),
        ("{{- record.id -}}", 7),
        ("{{ record['id'] }}", 7),
        ("{{ record.id + 1 }}", 8),
        ("{{ record.id * 1.5 }}", 10.5),
        ("{{ record.price }}", Decimal("12.50")),
        ("{{ record.active }}", True),
        ("{{ record.id > 5 }}", True),
        ("{{ record.tags }}", ["a", "b"]),
        ("{{ record.address }}", {"country": "SE", "lines": ["Storgatan 1"]}),
        ("{{ record.address.country }}", "SE"),
        ("{{ record.address.lines[0] }}", "Storgatan 1"),
        ("{{ record.tags | length }}", 2),
        ("{{ record.nothing }}", None),
        ("{{ none }}", None),
        ("{{ [record.id, record.first_name] }}", [7, "Ann"]),
        ("{{ record.first_name ~ ' ' ~ record.last_name }}", "Ann Berg"),
        ("{{ record.first_name if record.active else 'x' }}", "Ann"),
        ("{{ record.get('id') }}", 7),
    ],
)
def test_a_single_expression_returns_its_native_value(text: str, value: Any) -> None:
    result = compile_template(text)(RECORD)

    assert result == value
    assert type(result) is type(value)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("{{ record.first_name }} {{ record.last_name }}", "Ann Berg"),
        ("#{{ record.id }}", "#7"),
        ("{{ record.id }}{{ record.id }}", "77"),
        (" {{ record.id }} ", " 7 "),
        ("{{ record.id }} kr", "7 kr"),
        ("{{ record.price }} SEK", "12.50 SEK"),
        ("{{ record.missing }}-{{ record.id }}", "-7"),
        ("{% if record.active %}yes{% else %}no{% endif %}", "yes"),
        ("{% for tag in record.tags %}[{{ tag }}]{% endfor %}", "[a][b]"),
        ("plain text", "plain text"),
    ],
)
def test_text_around_or_between_expressions_renders_a_string(text: str, value: str) -> None:
    result = compile_template(text)(RECORD)

    assert result == value
    assert type(result) is str


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("{{ record.items }}", [{"sku": "A-1"}, {"sku": "B-2"}]),
        ("{{ record.items[0].sku }}", "A-1"),
        ("{{ record.items | length }}", 2),
        ("{{ record.keys }}", "K"),
        ("{{ record.values | sum }}", 3),
        ("{{ record.order.items }}", 5),
        ("{{ record.get('keys') }}", "K"),  # a method still works when no field has its name
    ],
)
def test_a_field_named_like_a_dict_method_is_the_field(text: str, value: Any) -> None:
    record = {"items": [{"sku": "A-1"}, {"sku": "B-2"}], "keys": "K", "values": [1, 2], "order": {"items": 5}}

    assert compile_template(text)(record) == value


@pytest.mark.parametrize(
    "text",
    [
        "{{ record.missing }}",
        "{{ record.missing.deeper }}",
        "{{ record.address.missing.deeper }}",
        "{{ record.nothing }}",
    ],
)
def test_missing_fields_give_none(text: str) -> None:
    assert compile_template(text)(RECORD) is None


def test_the_record_can_be_named_otherwise() -> None:
    assert compile_template("{{ source.id }}", variable="source")(RECORD) == 7


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("{{ record.phone | digits }}", "46070123"),
        ("{{ 'a  b\tc' | collapse_spaces }}", "a b c"),
        ("{{ '  a ' | strip }}", "a"),
        ("{{ record.csv | split(',') }}", ["a", " b"]),
        ("{{ '' | null_if_empty }}", None),
        ("{{ record.since | date('%d.%m.%Y') }}", "05.03.2024"),
        ("{{ record.since | date }}", "2024-03-05"),
        ("{{ record.first_name | upper }}", "ANN"),
        ("{{ record.tags | join('-') }}", "a-b"),
        ("{{ record.missing | default('n/a') }}", "n/a"),
        ("{{ record.price | float }}", 12.5),
        ("{{ 2.6 | round }}", 3.0),
        ("{{ record.tags | first }}", "a"),
    ],
)
def test_brygga_transforms_and_jinja_filters_work_as_filters(text: str, value: Any) -> None:
    result = compile_template(text)(RECORD)

    assert result == value
    assert type(result) is type(value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{{ record.__class__ }}", "'__class__' starts with an underscore"),
        ("{{ record.id.__class__.__mro__ }}", "starts with an underscore"),
        ("{{ record.__init__.__globals__ }}", "starts with an underscore"),
        ("{{ record | attr('__class__') }}", "'__class__' starts with an underscore"),
        ("{{ now }}", "unknown name 'now': an expression sees the record only"),
        ("{{ env }}", "unknown name 'env'"),
        ("{{ lipsum }}", "unknown name 'lipsum'"),
        ("{{ cycler }}", "unknown name 'cycler'"),
        ("{{ self }}", "unknown name 'self'"),
        ("{{ now() }}", "unknown name 'now'"),
        ("{{ range(3) | list }}", "unknown name 'range'"),
        ("{{ dict(a=1) }}", "unknown name 'dict'"),
        ("{{ recrod.id }}", "unknown name 'recrod' (did you mean 'record'?)"),
        ("{% include '/etc/passwd' %}", "{% include %} has nothing to read here"),
        ("{% import 'os' as os %}", "{% import %} has nothing to read here"),
        ("{{ record.tags | random }}", "no filter named 'random'"),
        ("{{ record.id }}" + " " * 100_000, "longer than 100,000 characters"),
    ],
)
def test_internals_globals_and_unknown_names_are_refused_when_compiled(text: str, message: str) -> None:
    """Before, each was null (or an error) at run time, for every record, and validate said ok: a misspelt
    ``recrod`` in a ``where`` passed or skipped every record silently."""
    with pytest.raises(ExpressionSyntaxError) as caught:
        compile_template(text)

    assert message in str(caught.value)


def test_what_an_expression_sets_itself_and_a_loop_may_be_named() -> None:
    text = "{% set n = record.tags | length %}{% for tag in record.tags %}{{ loop.index }}{{ tag }}{% endfor %}/{{ n }}"

    assert compile_template(text)({"tags": ["a", "b"]}) == "1a2b/2"


def test_internals_named_by_a_record_value_give_nothing() -> None:
    assert compile_template("{{ record | attr(record.name) }}")({"name": "__class__"}) is None


def test_a_method_left_uncalled_is_an_error_not_its_address() -> None:
    """``record.get`` rendered as ``<built-in method get of dict object at 0x7f…>``: a new text at every run,
    so the record was updated at every run."""
    with pytest.raises(TypeError, match="gives the method get, not a value: call it, or name a field"):
        compile_template("{{ record.get }}")({"id": 1})
    with pytest.raises(TypeError, match="gives the method get"):
        compile_template("Note: {{ record.get }}")({"id": 1})
    assert compile_template("{{ record.get('id') }}")({"id": 1}) == 1


def test_the_sandbox_does_not_let_an_expression_change_the_record() -> None:
    record = {"tags": ["a"]}

    with pytest.raises(SecurityError):
        compile_template("{{ record.tags.append('b') }}")(record)
    assert record == {"tags": ["a"]}


def test_an_expression_that_raises_lets_the_error_through() -> None:
    with pytest.raises(ZeroDivisionError):
        compile_template("{{ record.id / 0 }}")(RECORD)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{{ record.id", "bad expression: unexpected end of template, expected 'end of print statement'."),
        ("{{ record.id }", "bad expression: unexpected '}'"),
        ("{{ record. }}", "bad expression: expected name or number"),
        ("{{ record.id + }}", "bad expression: unexpected 'end of print statement'"),
        ("{% if %}x{% endif %}", "bad expression: Expected an expression, got 'end of statement block'"),
        (
            "line one\n{{ record.id + }}",
            "bad expression: unexpected 'end of print statement' (line 2 of the expression)",
        ),
        ("{{ record.id | shout }}", "bad expression: no filter named 'shout' (did you mean 'sort'?)"),
        ("Dear {{ record.first_name | shout }}", "bad expression: no filter named 'shout' (did you mean 'sort'?)"),
        ("{{ record.id is shouty }}", "bad expression: no test named 'shouty'"),
    ],
)
def test_compile_template_rejects_bad_syntax(text: str, message: str) -> None:
    with pytest.raises(ExpressionSyntaxError) as caught:
        compile_template(text)

    assert str(caught.value) == message


# --- conditions -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("{{ record.status != 'archived' }}", True),
        ("{{ record.status == 'archived' }}", False),
        ("  {{ record.id == 7 }}  ", True),
        ("{{- record.id == 7 -}}", True),
        ("record.id == 7", True),
        ("record.id > 7", False),
        ("record.active and record.id", 7),
        ("{{ record.tags }}", ["a", "b"]),
        ("{{ record.missing }}", None),
        ("record.missing.deeper", None),
        ("{{ record.missing != 'archived' }}", True),
        ("{{ record.tags | length > 1 }}", True),
    ],
)
def test_compile_condition_gives_the_expression_value(text: str, value: Any) -> None:
    assert compile_condition(text)(RECORD) == value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{% if record.x %}yes{% endif %}", "a condition is one expression: write {{ record.status != 'archived' }}"),
        ("yes {{ record.x }}", "a condition is one expression: write {{ record.status != 'archived' }}"),
        ("{{ record.a }} {{ record.b }}", "a condition is one expression: write {{ record.status != 'archived' }}"),
        ("{{ record.id == }}", "bad expression: unexpected 'end of template'"),
        ("record.id +", "bad expression: unexpected 'end of template'"),
        ("{{ record.status | shout }}", "bad expression: no filter named 'shout' (did you mean 'sort'?)"),
    ],
)
def test_compile_condition_rejects_what_is_not_one_expression(text: str, message: str) -> None:
    with pytest.raises(ExpressionSyntaxError) as caught:
        compile_condition(text)

    assert str(caught.value) == message


def test_a_condition_that_raises_lets_the_error_through() -> None:
    with pytest.raises(TypeError, match="'>' not supported between instances of 'str' and 'int'"):
        compile_condition("record.status > 1")(RECORD)


def test_a_date_value_is_kept_native() -> None:
    assert compile_template("{{ record.day }}")({"day": date(2024, 3, 5)}) == date(2024, 3, 5)


def test_a_condition_over_a_body_that_is_a_list_reads_its_fields_as_missing() -> None:
    """``delete_when`` sees a webhook's whole body, which may be a list of records (SPEC): ``event.action``
    raised AttributeError ('list' object has no attribute 'get') and the event's records were dropped."""
    deleted = compile_condition("{{ event.action == 'deleted' }}", variable="event")
    bodies: list[Any] = [[{"id": 4}], [], {"action": "deleted"}, {"id": 4}]

    assert [deleted(body) for body in bodies] == [
        False,
        False,
        True,
        False,
    ]


@pytest.mark.parametrize(
    "text",
    [
        "waited {{ record.wait }}",
        "{{ 'waited ' ~ record.wait }}",
        "{% for each in [record.wait] %}waited {{ each }}{% endfor %}",
        "{% set long = record.wait %}waited {{ long }}",
    ],
)
def test_a_duration_in_text_is_iso_8601_not_python_text(text: str) -> None:
    record = {"wait": timedelta(hours=100)}  # a MariaDB TIME past a day, a PostgreSQL interval of hours

    assert compile_template(text)(record) == "waited PT100H", "not Python's '4 days, 4:00:00'"
    assert compile_template("{{ record.wait }}")(record) == timedelta(hours=100), "alone, the value itself"
