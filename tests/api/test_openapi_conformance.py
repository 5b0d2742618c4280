"""schemathesis against the live ``/openapi.json``: every operation, a bounded number of examples each
(valid ones, and ones the description rules out), with an operator's token: no 5xx answer, and every
answer as the description says (status code, content type, headers, body)."""

from __future__ import annotations

import itertools
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import APIOperation, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import ApiProject, ServeFactory
from tests.api.test_e2e import run
from tests.engine.conftest import contact

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES = settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def can_break(operation: APIOperation[Any, Any, Any, Any]) -> bool:
    """Whether the description rules out some request: a parameter that is not free text."""
    return any(parameter.definition["schema"].get("type") != "string" for parameter in operation.iter_parameters())


def test_every_operation_answers_as_described(serve: ServeFactory, project: ApiProject) -> None:
    served = serve(project)
    project.crm.insert("contacts", [contact(1), contact(2, email="")])
    assert run(served.operator, "contacts")["status"] == "partial"  # a run, a record log, a dead letter to find
    headers = {"Authorization": f"Bearer {project.secrets.operator}"}
    schema = schemathesis.openapi.from_url(f"{served.process.url}/openapi.json")
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"the description has an operation schemathesis cannot read: {result.err()}"
        operations.append(result.ok())
    assert len(operations) >= 17, [operation.label for operation in operations]

    problems: list[str] = []
    for operation, mode in itertools.product(operations, GenerationMode):
        if mode is GenerationMode.NEGATIVE and not can_break(operation):
            continue

        @EXAMPLES
        @given(case=operation.as_strategy(generation_mode=mode))
        def answers_as_described(case: Any) -> None:
            response = case.call(base_url=served.process.url, headers=headers, timeout=10)
            case.validate_response(response, checks=CHECKS, headers=headers)

        try:
            answers_as_described()
        except (Exception, FailureGroup) as exc:  # every operation is tried; all problems are reported together
            problems.append(f"{operation.label} ({mode.value} examples):\n{exc}")

    assert not problems, "\n\n".join(problems)
