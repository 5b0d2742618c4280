"""Two-way sync files (SPEC 3.1): what loads, and each mistake at its FILE:LINE:COL."""

from __future__ import annotations

import pytest

from app.config import TwoWaySyncConfig
from app.config.schema import sync_schema
from app.config.two_way import DIRECTIONS
from app.engine.workspace import open_workspace
from app.mapping.testing import run_tests
from tests.config.test_broken_configs import ENVIRON, Expected, found_issues
from tests.conftest import MINIMAL_PROJECT, ProjectWriter

A = "mappings/a.yaml"
B = "mappings/b.yaml"

TWO_WAY = """\
two_way:
  a: crm.contacts
  b: erp.customers
to_b:
  customer_no: id
  email: {from: email, transform: [strip, lower]}
to_a:
  id: customer_no
  email: email
"""
"""A valid two-way sync of nine lines: what a case appends starts on line 10."""


def test_a_two_way_sync_loads_with_both_directions_compiled(write_project: ProjectWriter) -> None:
    text = (
        TWO_WAY
        + "tests:\n  - {name: lower, direction: to_b, input: {id: 1, email: ' A@B.SE '}, output: {email: a@b.se}}\n"
    )
    workspace = open_workspace(write_project({A: text}), ENVIRON)

    sync = workspace.project.syncs["a"]
    assert isinstance(sync, TwoWaySyncConfig)
    assert (sync.source, sync.target, sync.two_way.wins, sync.two_way.create_in, sync.two_way.delete_in) == (
        "crm.contacts",
        "erp.customers",
        "a",
        ["a", "b"],
        [],
    )
    compiled = workspace.directions["a"]
    assert compiled["to_b"].apply({"id": 1, "email": " X@Y.SE "}) == {"customer_no": 1, "email": "x@y.se"}
    assert compiled["to_a"].apply({"customer_no": 1, "email": "x@y.se"}) == {"id": 1, "email": "x@y.se"}
    assert [result.passed for result in run_tests(sync.direction("to_b"), compiled["to_b"])] == [True]


def test_a_field_wins_applies_to_its_partner_field() -> None:
    sync = TwoWaySyncConfig.model_validate(
        {
            "two_way": {"a": "crm.contacts", "b": "erp.customers", "wins": "a"},
            "to_b": {"customer_no": "id", "phone": "phone", "name": "name"},
            "to_a": {"id": "customer_no", "phone": {"from": "phone", "wins": "b"}, "name": "name"},
        }
    )

    assert sync.wins_for("to_a", "phone") == "b"
    assert sync.wins_for("to_b", "phone") == "b"  # the same field the other way: settled alike
    assert sync.wins_for("to_b", "name") == "a"


LOOKUPS_BOTH_WAYS = TWO_WAY.replace(
    "  customer_no: id\n", "  customer_no: id\n  owner: {lookup: {sync: b, from: owner_id}}\n"
) + (
    "  owner_id: {lookup: {sync: b, from: owner}}\n"
    "tests:\n"
    "  - {name: forward, direction: to_b, input: {id: 1, owner_id: 3}, lookups: {b: {3: U3}}, output: {owner: U3}}\n"
    "  - {name: reverse, direction: to_a, input: {customer_no: 1, owner: U3}, lookups: {b: {U3: 3}},"
    " output: {owner_id: 3}}\n"
    "  - {name: waits, direction: to_a, input: {customer_no: 1, owner: U4}, lookups: {b: {U3: 3}}, error: owner_id}\n"
)
"""to_b asks sync b (crm.users → erp.users) for the user an owner became; to_a carries it back."""


def test_a_lookup_goes_forward_in_to_b_and_back_in_to_a_and_its_tests_read_the_map_the_way_it_goes(
    write_project: ProjectWriter,
) -> None:
    users = "source: crm.users\ntarget: erp.users\nfields: {user_no: id}\n"
    workspace = open_workspace(write_project({A: LOOKUPS_BOTH_WAYS, B: users}), ENVIRON)

    sync = workspace.project.syncs["a"]
    assert isinstance(sync, TwoWaySyncConfig)
    compiled = workspace.directions["a"]
    results = [
        result for direction in DIRECTIONS for result in run_tests(sync.direction(direction), compiled[direction])
    ]
    assert [(result.name, result.passed) for result in results] == [
        ("reverse", True),
        ("waits", True),
        ("forward", True),
    ], [result.failures for result in results]
    assert sync.partner("to_b", "owner") == "owner_id"  # one conflict, settled once, as for plain fields


def test_the_sync_schema_knows_both_kinds() -> None:
    schema = sync_schema()

    text = str(schema)
    assert "two_way" in text and "to_a" in text and "source" in text


def test_a_rest_side_without_get_is_refused(write_project: ProjectWriter) -> None:
    api = (
        "  api:\n    connector: rest\n    base_url: http://127.0.0.1:9\n    streams:\n      people:\n"
        "        path: /people\n        key: id\n"
        "        write: {create: {method: POST, path: /people}, update: {method: PATCH, path: '/people/{key}'}}\n"
    )
    sync = TWO_WAY.replace("b: erp.customers", "b: api.people").replace("  customer_no: id\n", "")
    found = found_issues(write_project({"brygga.yaml": MINIMAL_PROJECT + api, A: sync}))

    assert [(file, line, col) for file, line, col, _ in found] == [(A, 3, 6)]
    assert "two_way.b: api.people: the stream has no get" in found[0][3]


CASES = [
    pytest.param(
        {A: TWO_WAY + "source: crm.contacts\n"},
        [(A, 10, 1, "source: a sync file is either one-way (source, target, fields) or two-way")],
        id="one-way-key-in-two-way",
    ),
    pytest.param(
        {A: "source: crm.contacts\ntarget: erp.customers\nfields: {customer_no: id}\nto_a: {id: customer_no}\n"},
        [(A, 4, 1, "to_a: a sync file is either one-way (source, target, fields) or two-way")],
        id="two-way-key-in-one-way",
    ),
    pytest.param(
        {A: TWO_WAY.replace("b: erp.customers", "b: erp.customer")},
        [(A, 3, 6, "two_way.b: system erp has no stream 'customer'")],
        id="unknown-stream",
    ),
    pytest.param(
        {A: TWO_WAY.replace("b: erp.customers", "b: erp.customers\n  wins: newest")},
        [(A, 4, 9, "two_way.wins: newest needs each side's change-time field")],
        id="newest-without-fields",
    ),
    pytest.param(
        {A: TWO_WAY.replace("email: email", "email: {from: email, wins: first}")},
        [(A, 9, 30, "to_a.email.wins: 'first' is not valid: choose a, b or newest")],
        id="field-wins-word",
    ),
    pytest.param(
        {A: TWO_WAY, B: "source: crm.users\ntarget: crm.contacts\nfields: {id: id, email: email}\n"},
        [(A, 9, 3, "to_a.email: sync b writes email into crm.contacts too")],
        id="field-written-by-another-sync",
    ),
    pytest.param(
        {
            A: TWO_WAY.replace(
                "email: {from: email, transform: [strip, lower]}", "email: {from: email, transform: [nope]}"
            )
        },
        [(A, 6, 36, "to_b.email.transform[0]: unknown transform 'nope'")],
        id="mapping-problem-in-to_b",
    ),
    pytest.param(
        {
            A: TWO_WAY.replace("  email: email", "  email: email\n  phone: {lookup: {sync: b, from: phone_id}}"),
            B: "source: crm.contacts\ntarget: crm.users\nfields: {id: id}\n",
        },
        [
            (
                A,
                10,
                26,
                "to_a.phone.lookup.sync: sync b links crm to crm, but to_a reads erp and writes crm: a lookup here"
                " needs a sync between erp and crm (either way; a lookup in to_a gives a key of crm)",
            )
        ],
        id="lookup-through-a-sync-linking-neither-way",
    ),
    pytest.param(
        {A: TWO_WAY.replace("  email: email", "  email: email\n  phone: {lookup: {sync: bb, from: phone_id}}")},
        [(A, 10, 26, "to_a.phone.lookup.sync: no sync named 'bb'")],
        id="lookup-through-an-unknown-sync",
    ),
    pytest.param(
        {A: TWO_WAY + "where: {a: '{{ record.status ==  }}'}\n"},
        [(A, 10, 12, "where.a:")],
        id="where-per-side",
    ),
    pytest.param(
        {A: TWO_WAY + "tests:\n  - {name: t, input: {id: 1}, output: {email: x}}\n"},
        [(A, 11, 5, "tests[0]: missing required key 'direction'")],
        id="test-without-direction",
    ),
]


@pytest.mark.parametrize(("files", "expected"), CASES)
def test_two_way_mistakes_are_reported_at_their_place(
    write_project: ProjectWriter, files: dict[str, str], expected: list[Expected]
) -> None:
    found = found_issues(write_project(files))

    shown = [
        (file, line, col, want if want in message else message)
        for (file, line, col, message), (_, _, _, want) in zip(found, expected, strict=False)
    ]
    assert shown + found[len(expected) :] == expected
