"""``brygga schema`` describes the config files well enough for jsonschema to check them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from app.config.yaml_source import parse_yaml
from tests.cli.helpers import run_brygga

REPO = Path(__file__).resolve().parents[2]


def _schema(kind: str) -> Draft202012Validator:
    result = run_brygga("schema", kind)
    assert result.returncode == 0, result.stderr
    schema = json.loads(result.stdout)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _messages(validator: Draft202012Validator, data: Any) -> list[str]:
    """Every error message, those inside anyOf/oneOf branches included."""
    found: list[str] = []
    pending = list(validator.iter_errors(data))
    while pending:
        error = pending.pop()
        found.append(error.message)
        pending.extend(error.context or [])
    return found


def _load(text: str) -> Any:
    document = parse_yaml(Path("x.yaml"), text, [])
    assert document is not None
    return document.data


@pytest.fixture(scope="module")
def project_schema() -> Draft202012Validator:
    return _schema("project")


@pytest.fixture(scope="module")
def sync_schema() -> Draft202012Validator:
    return _schema("sync")


def test_quickstart_project_file_is_valid(project_schema: Draft202012Validator) -> None:
    data = _load((REPO / "brygga.yaml").read_text())

    assert list(project_schema.iter_errors(data)) == []


@pytest.mark.parametrize("sync_file", sorted((REPO / "mappings").glob("*.yaml")), ids=lambda p: p.name)
def test_quickstart_sync_files_are_valid(sync_schema: Draft202012Validator, sync_file: Path) -> None:
    assert list(sync_schema.iter_errors(_load(sync_file.read_text()))) == []


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda d: d["systems"]["crm"].update(connector="sqll"), "is not valid under any of the given schemas"),
        (lambda d: d["systems"]["crm"].update(ulr="x"), "Additional properties are not allowed ('ulr' was unexpected)"),
        (lambda d: d["systems"]["erp"]["streams"]["accounts"].pop("file"), "'file' is a required property"),
        (lambda d: d.update(version=2), "1 was expected"),
        (lambda d: d.update(retention={"runs": "5x"}), "does not match"),
    ],
    ids=["unknown connector kind", "unknown system key", "missing csv file", "bad version", "bad duration"],
)
def test_broken_project_file_is_rejected(project_schema: Draft202012Validator, edit: Any, expected: str) -> None:
    data = _load((REPO / "brygga.yaml").read_text())
    edit(data)

    messages = _messages(project_schema, data)

    assert any(expected in message for message in messages), messages


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda d: d.update(mode="upsrt"), "'upsrt' is not one of"),
        (lambda d: d["fields"].update(email={"form": "email"}), "Additional properties are not allowed ('form'"),
        (lambda d: d["fields"].update(segment=5), "5 is not valid under any of the given schemas"),
        (lambda d: d.pop("source"), "'source' is a required property"),
    ],
    ids=["bad mode", "misspelt field key", "field as a number", "no source"],
)
def test_broken_sync_file_is_rejected(sync_schema: Draft202012Validator, edit: Any, expected: str) -> None:
    data = _load((REPO / "mappings" / "crm-contacts-to-erp-customers.yaml").read_text())
    edit(data)

    messages = _messages(sync_schema, data)

    assert any(expected in message for message in messages), messages


def test_the_sync_schema_knows_decimal_mark() -> None:
    validator = _schema("sync")
    good = {"source": "a.b", "target": "c.d", "fields": {"x": {"from": "x", "type": "decimal", "decimal_mark": ","}}}
    bad = {"source": "a.b", "target": "c.d", "fields": {"x": {"from": "x", "type": "decimal", "decimal_mark": ";"}}}

    assert _messages(validator, good) == []
    assert any("';' is not one of" in message for message in _messages(validator, bad))
