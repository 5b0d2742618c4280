"""Translated expressions give exactly what Jinja's sandbox gives, only faster."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from app.mapping.expressions import ENVIRONMENT, condition_source, template_source
from app.mapping.python_code import Namespace

RECORDS: list[dict[str, Any]] = [
    {
        "id": 7, "first_name": "Ann", "last_name": "Berg", "price": 12.5, "qty": 3, "amount": Decimal("10.50"),
        "status": "active", "tags": ["a", "b"], "address": {"city": "Umeå", "zip": "90325"}, "items": [1, 2],
        "flag": True, "note": None, "name": "  mixed Case ",
    },
    {"id": 8, "first_name": "Bo", "status": "archived", "note": None, "address": None, "qty": 0, "price": 0},
    {},
    {"id": "9", "first_name": None, "last_name": "", "tags": [], "address": {"city": None}, "qty": -2, "price": 1e3},
]  # fmt: skip

TRANSLATED = [
    "{{ record.id }}",
    "{{ record.first_name }} {{ record.last_name }}",
    "{{ record.first_name ~ ' ' ~ record.last_name }}",
    "{{ record.missing }}",
    "{{ record.missing.deeper }}",
    "{{ record.address.city }}",
    "{{ record['address']['zip'] }}",
    "{{ record.tags[0] }}",
    "{{ record.note }}",
    "Note: {{ record.note }}!",
    "{{ record.price * 1.25 }}",
    "{{ record.qty + 1 }}",
    "{{ record.qty // 2 }} and {{ record.qty % 2 }}",
    "{{ -record.qty }}",
    "{{ record.status == 'active' }}",
    "{{ record.status != 'archived' and record.qty > 0 }}",
    "{{ not record.flag or record.id in [7, 8] }}",
    "{{ 1 < record.qty <= 3 }}",
    "{{ 'yes' if record.flag else 'no' }}",
    "{{ 'yes' if record.flag }}",
    "{{ record.first_name | upper }}",
    "{{ record.first_name | default('nobody') }}",
    "{{ record.name | trim | title }}",
    "{{ '%05d' | format(record.id) }}",
    "{{ record.tags | join(', ') }}",
    "{{ record.tags | first }}",
    "{{ record.missing is defined }}",
    "{{ record.note is none }}",
    "{{ record.amount | round(1) }}",
    "{{ {'a': record.id, 'b': [record.qty, (1, 2)]} }}",
    "{{ record.name | replace(' ', '_') }}",
    "{{ record.first_name | length }}",
    "{{ record.address.city | digits }}",
]

SANDBOXED = [
    "{{ record.first_name.upper() }}",
    "{{ record.name[1:4] }}",
    "{% if record.flag %}on{% else %}off{% endif %}",
    "{{ record.tags | map('upper') | list }}",
]


def _outcome(run: Any, record: dict[str, Any]) -> tuple[str, Any]:
    try:
        return ("value", run(record))
    except Exception as exc:
        return ("error", type(exc).__name__)


def _sandbox(text: str) -> Any:
    template = ENVIRONMENT.from_string(text)
    body = text[2:-2] if text.startswith("{{") and text.endswith("}}") and text.count("{{") == 1 else None
    if body is not None:
        expression = ENVIRONMENT.compile_expression(body, undefined_to_none=True)
        return lambda record: expression(record=record)
    return lambda record: template.render(record=record)


def _compiled(text: str) -> tuple[Any, str]:
    namespace = Namespace()
    source = template_source(text, namespace)
    return namespace.compile_lambda(source, "record", "<test>"), source


@pytest.mark.parametrize("text", TRANSLATED)
def test_translated_expressions_match_the_sandbox(text: str) -> None:
    compiled, source = _compiled(text)

    assert "sandboxed" not in source, f"{text} fell back to the sandbox: {source}"
    for record in RECORDS:
        assert _outcome(compiled, record) == _outcome(_sandbox(text), record), (text, record)


@pytest.mark.parametrize("text", SANDBOXED)
def test_other_forms_run_in_the_sandbox_with_the_same_results(text: str) -> None:
    compiled, source = _compiled(text)

    assert "sandboxed" in source
    for record in RECORDS:
        assert _outcome(compiled, record) == _outcome(_sandbox(text), record)


@pytest.mark.parametrize(
    "text",
    [
        "record.status != 'archived'",
        "record.qty > 0 and record.first_name",
        "record.missing",
        "record.tags | length > 1",
        "record.first_name.startswith('A')",
    ],
)
def test_conditions_have_the_sandbox_truth(text: str) -> None:
    namespace = Namespace()
    compiled = namespace.compile_lambda(condition_source(text, namespace), "record", "<test>")
    expression = ENVIRONMENT.compile_expression(text, undefined_to_none=True)

    for record in RECORDS:
        mine, theirs = _outcome(compiled, record), _outcome(lambda r: expression(record=r), record)
        assert mine[0] == theirs[0]
        if mine[0] == "value":
            assert bool(mine[1]) == bool(theirs[1])


def test_a_field_shadows_a_dict_method_in_both_paths() -> None:
    compiled, _ = _compiled("{{ record.items | length }}")
    sandboxed, source = _compiled("{{ record.items.count(2) }}")

    assert "sandboxed" in source
    assert compiled({"items": [1, 2, 3]}) == 3
    assert sandboxed({"items": [1, 2, 2]}) == 2
