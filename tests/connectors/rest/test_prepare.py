"""The connector class as the engine sees it, and ``prepare``'s checks of paths against keys (no request made)."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import pytest

from app.config import read_project
from app.errors import PermanentError
from connectors.base import StreamInfo, connector_class, create_connector
from connectors.rest.config import RestSystem
from connectors.rest.connector import RestConnector
from tests.connectors.rest.conftest import rest_system

WRITE = {"create": {"method": "POST", "path": "/contacts"}, "update": {"method": "PATCH", "path": "/contacts/{key}"}}


def test_the_rest_kind_is_a_complete_connector_that_assigns_keys() -> None:
    kind = connector_class("rest")

    assert kind is RestConnector
    assert not inspect.isabstract(kind)
    assert kind.assigns_keys is True
    assert kind.options_model is RestSystem


def system(tmp_path: Path, **stream: Any) -> RestConnector:
    return rest_system(tmp_path, {"base_url": "https://crm.example.com", "streams": {"s": {"key": "id", **stream}}})


async def test_a_stream_with_consistent_paths_is_prepared_without_a_request(tmp_path: Path) -> None:
    connector = system(tmp_path, path="/contacts", get={"path": "/contacts/{key}"}, write=WRITE)

    assert await connector.prepare("s") == StreamInfo()
    assert await connector.prepare("s", write_fields=["name"]) == StreamInfo()
    assert connector._client is None  # nothing was sent, nothing was opened


@pytest.mark.parametrize(
    ("stream", "message"),
    [
        ({"path": "/contacts/{key}"}, "the stream's `path` '/contacts/{key}' cannot have {…}: it lists every record"),
        (
            {"path": "/c", "get": {"path": "/c/{id}/{name}"}},
            "'{name}' in '/c/{id}/{name}' is not a key field: use {key}, {id}",
        ),
        (
            {"path": "/c", "key": ["a", "b"], "get": {"path": "/c/{key}"}},
            "{key} in '/c/{key}' stands for a one-field key; this key has several: use {a}, {b}",
        ),
        (
            {"path": "/c", "write": {"create": {"method": "POST", "path": "/c/{key}"}}},
            "`write.create` '/c/{key}' cannot have {…}: a new record has no key",
        ),
        (
            {"path": "/c", "write": {"delete": {"method": "DELETE", "path": "/c/{uuid}"}}},
            "'{uuid}' in '/c/{uuid}' is not a key field: use {key}, {id}",
        ),
    ],
)
async def test_paths_that_do_not_fit_the_key_are_config_errors_and_stop_a_run_clearly(
    tmp_path: Path, stream: dict[str, Any], message: str
) -> None:
    options = {"base_url": "https://crm.example.com", "streams": {"s": {"key": "id", **stream}}}
    project_file = {"version": 1, "systems": {"crm": {"connector": "rest", **options}}}
    (tmp_path / "brygga.yaml").write_text(json.dumps(project_file), encoding="utf-8")
    project, issues = read_project(tmp_path / "brygga.yaml", {})
    connector = create_connector(project.systems["crm"])  # as if made without the config's checks

    with pytest.raises(PermanentError) as failed:
        await connector.prepare("s")

    assert [issue.message.split(": ", 1)[1] for issue in issues] == [message]  # brygga validate says it first
    assert str(failed.value) == f"crm.s: {message}"


async def test_a_stream_without_write_cannot_be_a_target(tmp_path: Path) -> None:
    connector = system(tmp_path, path="/contacts")

    await connector.prepare("s")
    with pytest.raises(PermanentError, match=r"crm\.s: the stream has no `write`: add `create`, `update` and `delete`"):
        await connector.prepare("s", write_fields=["name"])


async def test_an_unknown_stream_names_those_there_are(tmp_path: Path) -> None:
    connector = system(tmp_path, path="/contacts")

    with pytest.raises(PermanentError, match=r"system crm has no stream 'people' \(its streams: s\)"):
        await connector.prepare("people")
