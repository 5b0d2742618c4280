"""The mapping test runner: ``run_tests`` verdicts and failure lines, ``values_match``, ``show``."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from app.config import AnySync, SyncConfig
from app.mapping.testing import CaseResult, run_tests, show, values_match
from tests.mapping.conftest import LOOKUP_SYNC, SYNC, OpenSync

FIELDS = f"""\
where: "{{{{ record.status != 'archived' }}}}"
fields:
  customer_no: id
  name: "{{{{ record.first_name }}}} {{{{ record.last_name }}}}"
  email: {{from: email, transform: [strip, lower], required: true}}
  limit: {{from: limit, type: decimal, decimal_mark: ","}}
  since: {{from: since, type: date}}
  vip: {{from: vip, type: boolean}}
  manager: {{lookup: {{sync: {LOOKUP_SYNC}, from: owner_id}}}}
"""


def _one_way(sync: AnySync) -> SyncConfig:
    assert isinstance(sync, SyncConfig)
    return sync


def run(open_sync: OpenSync, tests: str) -> list[CaseResult]:
    """Run the ``tests:`` YAML (its list items, indented by two) against the FIELDS sync."""
    workspace = open_sync(FIELDS + "tests:\n" + tests)
    return run_tests(_one_way(workspace.project.syncs[SYNC]), workspace.mappings[SYNC])


def verdicts(results: list[CaseResult]) -> list[tuple[str, list[str]]]:
    return [(result.name, result.failures) for result in results]


def test_passing_cases_of_every_kind(open_sync: OpenSync) -> None:
    results = run(
        open_sync,
        """\
  - name: a full record
    input:
      id: 7
      first_name: Ann
      last_name: Berg
      email: " Ann@Berg.SE "
      limit: "12 500,50"
      since: "05.03.2024"
      vip: ja
      owner_id: 3
    lookups: {users-to-users: {3: U-3}}
    output:
      customer_no: 7
      name: Ann Berg
      email: ann@berg.se
      limit: "12500.50"
      since: "2024-03-05"
      vip: true
      manager: U-3
  - name: a conversion error matches its field
    input: {id: 8, email: b@c.se, limit: "abc,"}
    error: limit
  - name: output lists some fields
    input: {id: 8, email: b@c.se, limit: 12.5}
    output: {email: b@c.se, limit: 12.50}
  - name: archived is skipped
    input: {id: 9, status: archived}
    skip: true
  - name: missing email fails on its field
    input: {id: 10}
    error: email
  - name: an error matched by its text, in any case
    input: {id: 10}
    error: MISSING OR EMPTY
  - name: a pending lookup is an error about the lookup
    input: {id: 11, email: d@e.se, owner_id: 4}
    error: lookup
""",
    )

    assert verdicts(results) == [
        ("a full record", []),
        ("a conversion error matches its field", []),
        ("output lists some fields", []),
        ("archived is skipped", []),
        ("missing email fails on its field", []),
        ("an error matched by its text, in any case", []),
        ("a pending lookup is an error about the lookup", []),
    ]
    assert all(result.passed and result.sync == SYNC for result in results)


def test_failing_output_names_each_differing_field(open_sync: OpenSync) -> None:
    results = run(
        open_sync,
        """\
  - name: wrong values
    input: {id: 7, email: x@y.se, limit: "1,5", since: "2024-03-05", vip: nej}
    output:
      customer_no: 8
      email: y@y.se
      limit: 2
      since: "2024-03-06"
      vip: "true"
      manager: null
      nosuch: 1
""",
    )

    assert verdicts(results) == [
        (
            "wrong values",
            [
                "customer_no: expected 8, got 7",
                "email: expected 'y@y.se', got 'x@y.se'",
                "limit: expected 2, got 1.5 (decimal)",
                "since: expected '2024-03-06', got 2024-03-05 (date)",
                "vip: expected 'true', got false",
                "nosuch: expected 1, got no such field",
            ],
        )
    ]
    assert not results[0].passed


def test_failing_expectations_say_what_happened_instead(open_sync: OpenSync) -> None:
    results = run(
        open_sync,
        """\
  - name: output, but it fails
    input: {id: 1}
    output: {customer_no: 1}
  - name: output, but it is skipped
    input: {id: 2, status: archived}
    output: {customer_no: 2}
  - name: skip, but it maps
    input: {id: 3, email: a@b.se}
    skip: true
  - name: skip, but it fails
    input: {id: 4}
    skip: true
  - name: error, but it maps
    input: {id: 5, email: a@b.se}
    error: email
  - name: error, but it is skipped
    input: {id: 6, status: archived}
    error: email
  - name: error, but another one
    input: {id: 7, email: a@b.se, limit: lots}
    error: email
  - name: error, but a pending lookup
    input: {id: 8, email: a@b.se, owner_id: 4}
    error: email
""",
    )

    required = "required, but 'email' is missing or empty (field email)"
    mapped = "name: ' ', email: 'a@b.se', limit: null, since: null, vip: null, manager: null}"
    assert verdicts(results) == [
        ("output, but it fails", [f"expected a mapped record, got an error: {required}"]),
        ("output, but it is skipped", ["expected a mapped record, got a skip (where was false)"]),
        ("skip, but it maps", [f"expected the record to be skipped, got a mapped record: {{customer_no: 3, {mapped}"]),
        ("skip, but it fails", [f"expected the record to be skipped, got an error: {required}"]),
        ("error, but it maps", [f"expected an error about 'email', got a mapped record: {{customer_no: 5, {mapped}"]),
        ("error, but it is skipped", ["expected an error about 'email', got a skip (where was false)"]),
        (
            "error, but another one",
            ["expected an error about 'email', got an error: cannot convert 'lots' to decimal (field limit)"],
        ),
        (
            "error, but a pending lookup",
            [
                "expected an error about 'email', got an error:"
                f" lookup: owner_id 4 has no target key in sync {LOOKUP_SYNC} yet (field manager)"
            ],
        ),
    ]


@pytest.mark.parametrize("wanted", ["contacts", "customers", "record", "sync", "field"])
def test_an_expected_error_does_not_match_the_sync_name_or_the_message_frame(open_sync: OpenSync, wanted: str) -> None:
    results = run(
        open_sync,
        f"""\
  - name: fails on limit, not on {wanted}
    input: {{id: 7, email: a@b.se, limit: lots}}
    error: {wanted}
""",
    )

    assert results[0].failures == [
        f"expected an error about '{wanted}', got an error: cannot convert 'lots' to decimal (field limit)"
    ]


def test_a_sync_without_tests_has_no_results(open_sync: OpenSync) -> None:
    workspace = open_sync(FIELDS)

    assert run_tests(_one_way(workspace.project.syncs[SYNC]), workspace.mappings[SYNC]) == []


def test_a_case_result_passes_without_failures() -> None:
    assert CaseResult(SYNC, "case").passed
    assert not CaseResult(SYNC, "case", ["x: expected 1, got 2"]).passed


# --- values_match ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expected", "actual"),
    [
        ("x", "x"),
        (7, 7),
        (7, 7.0),
        (None, None),
        (True, True),
        (False, False),
        ("12.50", Decimal("12.5")),
        ("12500.50", Decimal("12500.5")),
        (12.5, Decimal("12.50")),
        (12, Decimal("12.0")),
        ("7", 7),
        (" 7 ", 7),
        (7, "7"),
        ("0.10", 0.1),
        ("2024-03-05", date(2024, 3, 5)),
        (" 2024-03-05 ", date(2024, 3, 5)),
        ("2024-03-05T09:30:00", datetime(2024, 3, 5, 9, 30)),
        ("2024-03-05 09:30:00", datetime(2024, 3, 5, 9, 30)),
        ("2024-03-05T09:30:00+00:00", datetime(2024, 3, 5, 9, 30, tzinfo=UTC)),
        ({"a": "1", "b": [None]}, {"a": Decimal(1), "b": [None]}),
        ([1, "2.0"], [1, Decimal(2)]),
        ([], []),
        (math.nan, math.nan),
        (math.nan, Decimal("NaN")),
        ({"a": [math.nan]}, {"a": [math.nan]}),
    ],
)
def test_values_match(expected: Any, actual: Any) -> None:
    assert values_match(expected, actual)


@pytest.mark.parametrize(
    ("expected", "actual"),
    [
        ("x", "X"),
        (math.nan, 1.0),
        (1.0, math.nan),
        (math.nan, "nan"),
        (math.nan, math.inf),
        (7, 8),
        ("7", 8),
        (None, ""),
        ("", None),
        (None, 0),
        (True, 1),
        (1, True),
        (False, 0),
        ("true", True),
        (True, "true"),
        ("12.5", Decimal("12.51")),
        ("abc", Decimal(1)),
        (7, "seven"),
        ("2024-03-05", date(2024, 3, 6)),
        ("05.03.2024", date(2024, 3, 5)),
        ("2024-03-05", datetime(2024, 3, 5)),
        ({"a": 1}, {"a": 1, "b": 2}),
        ({"a": 1, "b": 2}, {"a": 1}),
        ({"a": "1"}, {"a": "2"}),
        ([1], [1, 2]),
        ([1, 2], [2, 1]),
        ([1], (1,)),
        ({"a": 1}, [1]),
    ],
)
def test_values_do_not_match(expected: Any, actual: Any) -> None:
    assert not values_match(expected, actual)


# --- show -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("Ann", "'Ann'"),
        ("", "''"),
        (True, "true"),
        (False, "false"),
        (None, "null"),
        (7, "7"),
        (7.5, "7.5"),
        (Decimal("12500.50"), "12500.50 (decimal)"),
        (date(2024, 3, 5), "2024-03-05 (date)"),
        (datetime(2024, 3, 5, 9, 30), "2024-03-05T09:30:00 (datetime)"),
        (datetime(2024, 3, 5, 9, 30, tzinfo=UTC), "2024-03-05T09:30:00+00:00 (datetime)"),
        ({"a": 1, "b": "x"}, "{a: 1, b: 'x'}"),
        ([None, True, Decimal("1.5")], "[null, true, 1.5 (decimal)]"),
        ({}, "{}"),
        ([], "[]"),
        pytest.param("x" * 5_000_000, repr("x" * 200) + "… (5,000,000 characters)", id="long-text"),
        pytest.param(
            list(range(100_000)), "[" + ", ".join(map(str, range(20))) + ", … (100,000 in all)]", id="long-list"
        ),
        pytest.param(
            {f"k{i}": i for i in range(21)}, "{" + ", ".join(f"k{i}: {i}" for i in range(20)) + ", … (21 in all)}"
        ),
        pytest.param(10**5000, "an integer of more than 4300 digits", id="huge-integer"),
    ],
)
def test_show(value: Any, text: str) -> None:
    assert show(value) == text


# --- expected values read through the field's type ------------------------------------------

TYPED = """\
fields:
  customer_no: {from: id, type: string}
  changed_at: {from: changed_at, type: datetime}
  price: {from: price, type: decimal}
  ratio: {from: ratio, type: number}
  born: {from: born, type: date}
  count: {from: count, type: integer}
tests:
  - name: by meaning
    input: {id: 7, changed_at: "2024-05-01T10:00:07+00:00", price: "1.5", ratio: "0.25", born: "05.03.2024", count: "3"}
    output: {customer_no: 7, changed_at: "2024-05-01T10:00:07Z", price: "1.50", ratio: "0.250", born: "2024-03-05",
             count: "3"}
  - name: other instant and price
    input: {id: 7, changed_at: "2024-05-01T10:00:07+00:00", price: "1.5"}
    output: {changed_at: "2024-05-01T10:00:08Z", price: "1.51", customer_no: 8}
"""


def test_expected_values_are_read_through_the_fields_type(open_sync: OpenSync) -> None:
    workspace = open_sync(TYPED)

    results = run_tests(_one_way(workspace.project.syncs[SYNC]), workspace.mappings[SYNC])

    assert verdicts(results) == [
        ("by meaning", []),
        (
            "other instant and price",
            [
                "changed_at: expected '2024-05-01T10:00:08Z', got 2024-05-01T10:00:07+00:00 (datetime)",
                "price: expected '1.51', got 1.5 (decimal)",
                "customer_no: expected 8, got '7'",
            ],
        ),
    ]


def test_an_aware_datetime_matches_the_same_instant_written_with_z_without_a_type() -> None:
    assert values_match("2024-05-01T10:00:07Z", datetime(2024, 5, 1, 10, 0, 7, tzinfo=UTC))
    assert not values_match("2024-05-01T10:00:08Z", datetime(2024, 5, 1, 10, 0, 7, tzinfo=UTC))
