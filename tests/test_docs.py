"""Docs drift: every config key, connector option, transform and type is documented."""

from __future__ import annotations

import tomllib
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from app.config import ProjectFile, SyncConfig, WebhookConfig
from app.config.kinds import installed_kinds, options_model
from app.config.project import Alert, ApiConfig, ApiToken, RecordLogConfig, Retention
from app.config.sync import FIELD_SOURCES, FieldMapping, FieldType, Lookup, RetryPolicy, Schedule, SyncTest
from app.config.two_way import Newest, SidesWhere, TwoWayBlock, TwoWayField, TwoWaySyncConfig, TwoWayTest
from app.mapping.transforms import KINDS

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"


def _kind_pages() -> dict[str, Path]:
    """Each connector kind's page: docs/connectors/ for the built-in ones, the README of an example's package."""
    pages: dict[str, Path] = {}
    for project in [REPO / "pyproject.toml", *sorted((REPO / "examples").glob("*/pyproject.toml"))]:
        kinds = tomllib.loads(project.read_text(encoding="utf-8"))["project"]["entry-points"]["brygga.connectors"]
        for kind in kinds:
            pages[kind] = DOCS / "connectors" / f"{kind}.md" if project.parent == REPO else project.parent / "README.md"
    return pages


def _models_within(model: type[BaseModel]) -> list[type[BaseModel]]:
    """``model`` and every model reachable through its fields' types."""
    found: list[type[BaseModel]] = []
    pending: list[object] = [model]
    while pending:
        current = pending.pop()
        if isinstance(current, type) and issubclass(current, BaseModel):
            if current in found:
                continue
            found.append(current)
            pending.extend(info.annotation for info in current.model_fields.values())
        else:
            pending.extend(typing.get_args(current))
    return found


def _keys(models: list[type[BaseModel]]) -> set[str]:
    return {info.alias or name for model in models for name, info in model.model_fields.items()}


def _undocumented(page: Path, keys: set[str]) -> list[str]:
    """The keys that ``page`` never shows as code (`` `key` ``)."""
    text = page.read_text(encoding="utf-8")
    return sorted(key for key in keys if f"`{key}`" not in text)


@pytest.mark.parametrize("kind", installed_kinds())
def test_every_connector_option_is_documented(kind: str) -> None:
    page = _kind_pages().get(kind)
    if page is None:
        pytest.skip(f"connector kind '{kind}' is installed from elsewhere: its own package documents it")
    keys = _keys(_models_within(options_model(kind))) - {"type"}

    assert _undocumented(page, keys) == []


def test_every_project_key_is_documented() -> None:
    models: list[type[BaseModel]] = [ProjectFile, ApiConfig, ApiToken, Retention, RecordLogConfig, Alert, WebhookConfig]

    assert _undocumented(DOCS / "configuration.md", _keys(models)) == []


def test_every_sync_key_transform_and_type_is_documented() -> None:
    keys = _keys([SyncConfig, FieldMapping, Lookup, Schedule, RetryPolicy, SyncTest]) | set(FIELD_SOURCES)
    keys |= set(typing.get_args(FieldType))
    keys |= {kind.usage for kind in KINDS.values()}

    assert _undocumented(DOCS / "mappings.md", keys) == []


def test_every_two_way_key_is_documented() -> None:
    keys = _keys([TwoWaySyncConfig, TwoWayBlock, Newest, SidesWhere, TwoWayField, TwoWayTest])
    keys -= _keys([FieldMapping, Lookup, SyncTest]) - {"wins"}  # field forms and tests: in mappings.md

    assert _undocumented(DOCS / "two-way.md", keys) == []


def test_the_drift_check_notices_a_missing_key(tmp_path: Path) -> None:
    class Example(BaseModel):
        documented: int
        forgotten: int

    page = tmp_path / "page.md"
    page.write_text("| `documented` | is here |\n| forgotten | lacks its backticks |\n")

    assert _undocumented(page, _keys([Example])) == ["forgotten"]
