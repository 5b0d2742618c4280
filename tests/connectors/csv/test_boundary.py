"""The connector's edges: file work stays off the event loop, OS errors become permanent or transient."""

from __future__ import annotations

import errno
import threading
from pathlib import Path
from typing import Any

import pytest

from app.errors import ConnectorError, PermanentError, TransientError
from connectors.base import Write, WriteAction
from connectors.csv.files import CsvFileError, os_error
from tests.connectors.csv.conftest import SystemMaker, read_all


async def test_every_file_operation_runs_off_the_event_loop(
    system: SystemMaker, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (folder / "c.csv").write_text("id,name\n1,Ann\n", encoding="utf-8")
    connector = system(c="{file: c.csv, key: id}")
    loop_thread = threading.current_thread()
    opened_on: list[threading.Thread] = []
    real_open = Path.open

    def open_and_note(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self.parent == folder:
            opened_on.append(threading.current_thread())
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", open_and_note)

    await connector.prepare("c")
    await connector.prepare("c", write_fields=["id", "name"])
    await read_all(connector, "c")
    await connector.get("c", ["1"])
    await connector.existing_keys("c", ["1"])
    [keys async for keys in connector.scan_keys("c", 10)]
    await connector.write("c", [Write(WriteAction.CREATE, {"id": 2, "name": "Bo"}, None)])

    assert len(opened_on) == 7
    assert loop_thread not in opened_on


@pytest.mark.parametrize(
    ("number", "kind"),
    [
        (errno.ENOENT, CsvFileError),
        (errno.ENOTDIR, CsvFileError),
        (errno.EISDIR, CsvFileError),
        (errno.EACCES, CsvFileError),
        (errno.EPERM, CsvFileError),
        (errno.EROFS, CsvFileError),
        (errno.EIO, TransientError),
        (errno.ENOSPC, TransientError),
        (errno.ESTALE, TransientError),
        (errno.EAGAIN, TransientError),
    ],
    ids=errno.errorcode.get,
)
def test_os_errors_are_permanent_when_the_file_is_gone_or_refused_else_transient(
    number: int, kind: type[ConnectorError]
) -> None:
    error = os_error("files/c.csv", OSError(number, "it failed", "/data/files/c.csv"))

    assert type(error) is kind
    assert isinstance(error, PermanentError) != isinstance(error, TransientError)
    assert str(error) == "files/c.csv: it failed"


def test_an_os_error_about_another_file_names_it() -> None:
    error = os_error("files/c.csv", OSError(errno.EACCES, "Permission denied", "/data/files/.c.csv.1.brygga-tmp"))

    assert str(error) == "files/c.csv: Permission denied (/data/files/.c.csv.1.brygga-tmp)"
