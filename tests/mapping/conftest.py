"""Fixtures that compile a sync through the real loader, as ``brygga test`` and runs do."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from app.config import ConfigIssue
from app.engine.workspace import Workspace, open_workspace
from app.errors import ConfigError
from app.mapping.compiler import CompiledMapping
from tests.conftest import ProjectWriter

SYNC = "contacts-to-customers"
"""The sync under test: crm.contacts (key ``id``) to erp.customers, in ``mappings/contacts.yaml``."""

LOOKUP_SYNC = "users-to-users"
"""A second sync that ``lookup`` fields can name."""

SYNC_HEADER = f"""\
name: {SYNC}
source: crm.contacts
target: erp.customers
"""

LOOKUP_SYNC_FILE = f"""\
name: {LOOKUP_SYNC}
source: crm.users
target: erp.users
fields: {{user_no: id}}
"""

OpenSync = Callable[[str], Workspace]
CompileFields = Callable[..., CompiledMapping]
ConfigIssues = Callable[[str], list[ConfigIssue]]


@pytest.fixture
def open_sync(write_project: ProjectWriter) -> OpenSync:
    """Open a project whose sync under test has this body (YAML after source and target)."""

    def open_(body: str) -> Workspace:
        path = write_project(
            {
                "mappings/contacts.yaml": SYNC_HEADER + textwrap.dedent(body),
                "mappings/users.yaml": LOOKUP_SYNC_FILE,
            }
        )
        return open_workspace(path, environ={})

    return open_


@pytest.fixture
def compile_fields(open_sync: OpenSync) -> CompileFields:
    """Compile a sync from a ``fields`` dict (and an optional ``where``), written as YAML."""

    def compile_(fields: dict[str, Any], where: str | None = None) -> CompiledMapping:
        document: dict[str, Any] = {"fields": fields}
        if where is not None:
            document["where"] = where
        return open_sync(yaml.safe_dump(document, allow_unicode=True, sort_keys=False)).mappings[SYNC]

    return compile_


@pytest.fixture
def config_issues(open_sync: OpenSync) -> ConfigIssues:
    """The issues a sync with this body is rejected with."""

    def issues(body: str) -> list[ConfigIssue]:
        with pytest.raises(ConfigError) as caught:
            open_sync(body)
        return caught.value.issues

    return issues
