"""One path syntax in every config file: ``items[0].sku`` in mappings, webhooks and REST options.

The REST connector's old form of a list item, a number after a dot (``results.0.id``), is still read, and
``brygga validate`` says at its place how to write it now; it fails nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.config import ConfigWarning, Step, format_path, old_dotted_form, parse_path
from app.engine import open_workspace
from connectors.rest.paths import MISSING, body_value
from tests.cli.helpers import run_brygga

PROJECT = """\
version: 1
systems:
  api:
    connector: rest
    base_url: https://api.example.com
    streams:
      contacts:
        path: /contacts
        key: id
        records: results.0.items
        pagination: {type: cursor, path: meta.pages.0.next}
        total: {path: 'meta["0"].total'}
      orders:
        path: /orders
        key: id
        records: data[0].items
        pagination: {type: next_url, path: links.0}
"""


@pytest.mark.parametrize(
    ("old", "written"),
    [
        ("results.0.id", "results[0].id"),
        ("0.id", "[0].id"),
        ("data.items.12", "data.items[12]"),
        ("a.1.b.2", "a[1].b[2]"),
    ],
)
def test_the_old_dotted_form_is_found_and_said_the_one_way(old: str, written: str) -> None:
    assert old_dotted_form(old) == written
    assert parse_path(written) == tuple(int(part) if part.isdigit() else part for part in old.split("."))


@pytest.mark.parametrize("path", ["results[0].id", "data.items", 'meta["0"].total', "x1.y2", "a[", "", "v2.0x"])
def test_paths_in_the_one_syntax_or_that_do_not_parse_have_no_old_form(path: str) -> None:
    assert old_dotted_form(path) is None


@pytest.mark.parametrize(
    "steps",
    [("email",), ("items", 0, "sku"), ("odd.key",), ("a", -1), ('say "hi"', "x"), (" padded ",), (0, "id")],
)
def test_format_path_is_the_inverse_of_parse_path(steps: tuple[Step, ...]) -> None:
    assert parse_path(format_path(steps)) == steps


BODY: dict[str, Any] = {
    "results": [{"items": [{"id": 1}]}, {"items": [{"id": 2}]}],
    "odd.key": {"0": "a name, not an item"},
}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("results[0].items", [{"id": 1}]),
        ("results[-1].items[0].id", 2),
        ("results.1.items.0.id", 2),  # the old form, still read
        ('["odd.key"]["0"]', "a name, not an item"),
        ('["odd.key"].0', "a name, not an item"),  # a number after a dot is a name where the object has it
        ("results[2]", MISSING),
        ("results[0].nope", MISSING),
    ],
)
def test_body_paths_read_the_one_syntax_and_the_old_form(path: str, value: Any) -> None:
    assert body_value(BODY, path) == value


def test_the_old_form_in_rest_options_is_a_warning_at_its_place_saying_how_to_write_it(tmp_path: Path) -> None:
    (tmp_path / "brygga.yaml").write_text(PROJECT, encoding="utf-8")

    workspace = open_workspace(tmp_path / "brygga.yaml", {})

    warnings = workspace.project.warnings
    assert all(isinstance(warning, ConfigWarning) for warning in warnings)
    assert [(warning.line, warning.col, warning.message) for warning in warnings] == [
        (
            10,
            18,
            "systems.api.streams.contacts.records: 'results.0.items' names a list item the old way, a number after a"
            " dot (deprecated): write results[0].items",
        ),
        (
            11,
            42,
            "systems.api.streams.contacts.pagination.path: 'meta.pages.0.next' names a list item the old way, a"
            " number after a dot (deprecated): write meta.pages[0].next",
        ),
        (
            17,
            44,
            "systems.api.streams.orders.pagination.path: 'links.0' names a list item the old way, a number after a"
            " dot (deprecated): write links[0]",
        ),
    ]


def test_validate_prints_the_warning_as_file_line_col_and_succeeds(tmp_path: Path) -> None:
    (tmp_path / "brygga.yaml").write_text(PROJECT, encoding="utf-8")

    result = run_brygga("validate", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "brygga.yaml:10:18: warning: systems.api.streams.contacts.records: 'results.0.items'" in result.stderr
    assert "write results[0].items" in result.stderr
    assert result.stdout.startswith("ok: 1 system, 0 syncs")
