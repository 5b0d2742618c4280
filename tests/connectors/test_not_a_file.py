"""A csv or xlsx stream's file that is no regular file (a folder, a named pipe, a link to ``/dev/zero``) is a
clear error, for reading and for writing. As a target, a pipe hung the run for good (opening it waits for a
writer), and ``/dev/zero`` was read as one endless header line until memory ran out."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from app.config import load_project
from app.errors import PermanentError
from connectors.base import create_connector

Make = Callable[[Path], None]
NOT_FILES: dict[str, Make] = {
    "a-folder": lambda path: path.mkdir(),
    "a-named-pipe": os.mkfifo,
    "a-link-to-dev-zero": lambda path: path.symlink_to("/dev/zero"),
}


def _connector(root: Path, kind: str) -> object:
    (root / "files").mkdir()
    (root / "brygga.yaml").write_text(
        f"version: 1\nsystems:\n  files:\n    connector: {kind}\n    path: files\n"
        f"    streams: {{s: {{file: people.{kind}, key: id}}}}\n",
        encoding="utf-8",
    )
    return create_connector(load_project(root / "brygga.yaml", environ={}).systems["files"])


@pytest.mark.timeout(20)
@pytest.mark.parametrize("kind", ["csv", "xlsx"])
@pytest.mark.parametrize("target", [True, False], ids=["as-target", "as-source"])
@pytest.mark.parametrize("make", list(NOT_FILES.values()), ids=list(NOT_FILES))
async def test_a_file_that_is_no_regular_file_is_refused_at_once(
    tmp_path: Path, kind: str, target: bool, make: Make
) -> None:
    connector = _connector(tmp_path, kind)
    make(tmp_path / "files" / f"people.{kind}")

    with pytest.raises(PermanentError) as caught:
        await connector.prepare("s", write_fields=["id", "name"] if target else None)  # type: ignore[attr-defined]

    assert f"files/people.{kind}" in str(caught.value)
    assert "must name a regular file" in str(caught.value)
