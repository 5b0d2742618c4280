"""Atomic rewrites: a failure, another writer or a kill -9 mid-rewrite never leaves a partial file."""

from __future__ import annotations

import csv
import errno
import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from app.errors import TransientError
from connectors.base import Write, WriteAction
from connectors.csv import rewrite
from connectors.csv.connector import CsvConnector
from connectors.csv.files import CsvFileError
from connectors.csv.rewrite import FileChangedError
from tests.connectors.csv.conftest import SystemMaker, records_of, temp_files, write_system

REPO = Path(__file__).resolve().parents[3]
ROWS = 20_000


@pytest.fixture
def big(system: SystemMaker, folder: Path) -> CsvConnector:
    """A file large enough that a rewrite flushes part of its temporary file before it fails."""
    rows = "".join(f"{n},name {n},city {n % 97}\r\n" for n in range(ROWS))
    (folder / "big.csv").write_text("id,name,city\r\n" + rows, encoding="utf-8", newline="")
    return system(big="{file: big.csv, key: id}")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class FailingWriter:
    """A CSV writer whose disk fills up after some rows."""

    def __init__(self, out: Any, **options: Any) -> None:
        self.writer = REAL_WRITER(out, **options)
        self.rows = 0

    def writerow(self, row: Iterable[Any]) -> Any:
        self.rows += 1
        if self.rows > ROWS // 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return self.writer.writerow(row)

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


REAL_WRITER = csv.writer


def fail_mid_write(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csv, "writer", FailingWriter)


def fail_fsync(monkeypatch: pytest.MonkeyPatch) -> None:
    def fsync(descriptor: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", fsync)


def fail_rename(monkeypatch: pytest.MonkeyPatch) -> None:
    def replace(self: Path, target: Path) -> Path:
        raise OSError(errno.EBUSY, "Device or resource busy")

    monkeypatch.setattr(Path, "replace", replace)


@pytest.mark.parametrize("inject", [fail_mid_write, fail_fsync, fail_rename], ids=["writer", "fsync", "rename"])
async def test_a_rewrite_that_fails_leaves_the_old_file_whole_and_no_temporary_file(
    big: CsvConnector, folder: Path, monkeypatch: pytest.MonkeyPatch, inject: Callable[[pytest.MonkeyPatch], None]
) -> None:
    before = digest(folder / "big.csv")
    inject(monkeypatch)

    with pytest.raises(TransientError):
        await big.write("big", [Write(WriteAction.UPDATE, {"name": "changed"}, str(ROWS - 1))])

    assert digest(folder / "big.csv") == before
    assert temp_files(folder) == []


async def test_the_writer_really_failed_after_writing_part_of_the_temporary_file(
    big: CsvConnector, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes: list[int] = []
    real_unlink = Path.unlink

    def unlink(self: Path, missing_ok: bool = False) -> None:
        sizes.append(self.stat().st_size)
        real_unlink(self, missing_ok)

    fail_mid_write(monkeypatch)
    monkeypatch.setattr(Path, "unlink", unlink)

    with pytest.raises(TransientError, match="No space left on device"):
        await big.write("big", [Write(WriteAction.DELETE, None, "0")])

    assert len(sizes) == 1
    assert 0 < sizes[0] < (folder / "big.csv").stat().st_size


async def test_a_folder_brygga_may_not_write_in_is_a_permanent_error_that_says_why(
    big: CsvConnector, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(path: Any, flags: int, mode: int = 0o777) -> int:
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(os, "open", refuse)

    with pytest.raises(CsvFileError, match="the folder itself must be writable"):
        await big.write("big", [Write(WriteAction.DELETE, None, "0")])

    assert temp_files(folder) == []


async def test_a_file_changed_by_someone_else_during_the_rewrite_is_kept_and_the_batch_can_be_retried(
    system: SystemMaker, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (folder / "c.csv").write_text("id,name\n1,Ann\n", encoding="utf-8")
    connector = system(c="{file: c.csv, key: id}")
    real_fsync = os.fsync

    def fsync_while_someone_appends(descriptor: int) -> None:
        with (folder / "c.csv").open("a", encoding="utf-8") as other:
            other.write("9,from elsewhere\n")
        monkeypatch.setattr(os, "fsync", real_fsync)
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", fsync_while_someone_appends)
    batch = [Write(WriteAction.CREATE, {"id": 2, "name": "Bo"}, None)]

    with pytest.raises(FileChangedError, match="the file changed while Brygga was rewriting it"):
        await connector.write("c", batch)
    assert (folder / "c.csv").read_text(encoding="utf-8") == "id,name\n1,Ann\n9,from elsewhere\n"
    assert temp_files(folder) == []

    await connector.write("c", batch)
    assert (folder / "c.csv").read_text(encoding="utf-8") == "id,name\n1,Ann\n9,from elsewhere\n2,Bo\n"


KILLED_WRITER = textwrap.dedent(
    """\
    import asyncio, sys
    from pathlib import Path
    from app.config import load_project
    from connectors.base import Write, WriteAction, create_connector

    async def main() -> None:
        project = load_project(Path(sys.argv[1]), environ={})
        connector = create_connector(project.systems["files"])
        await connector.write("big", [Write(WriteAction.UPDATE, {"name": "rewritten"}, "199999")])
        print("finished the rewrite before the kill", flush=True)

    asyncio.run(main())
    """
)


def test_a_writer_killed_mid_rewrite_leaves_the_original_file_complete(tmp_path: Path, folder: Path) -> None:
    rows = 200_000
    filler = "x" * 60
    text = "id,name,city,note\r\n" + "".join(f"{n},name {n},city {n % 97},{filler}\r\n" for n in range(rows))
    target = folder / "big.csv"
    target.write_text(text, encoding="utf-8", newline="")
    before = digest(target)
    project = write_system(tmp_path, {"big": "{file: big.csv, key: id}"})

    writer = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(project)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_a_temporary_file(folder, writer, timeout=60)
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait(timeout=30)
        out, err = writer.communicate(timeout=30)

    assert writer.returncode == -signal.SIGKILL, (out, err)
    leftovers = temp_files(folder)
    assert len(leftovers) == 1, "the kill should have landed while the temporary file was being written"
    assert digest(target) == before
    with target.open(encoding="utf-8", newline="") as reopened:
        parsed = list(csv.reader(reopened))
    assert len(parsed) == rows + 1
    assert parsed[-1] == [str(rows - 1), f"name {rows - 1}", f"city {(rows - 1) % 97}", filler]


def _wait_for_a_temporary_file(folder: Path, writer: subprocess.Popen[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not temp_files(folder):
        if writer.poll() is not None:
            out, err = writer.communicate(timeout=30)
            pytest.fail(f"the writer ended (code {writer.returncode}) before a temporary file appeared: {out}{err}")
        if time.monotonic() > deadline:
            pytest.fail(f"no temporary file appeared in {folder} within {timeout}s")
        time.sleep(0.0005)


async def test_after_a_kill_the_next_write_succeeds_beside_the_leftover_temporary_file(
    big: CsvConnector, folder: Path
) -> None:
    leftover = folder / f".big.csv.deadbeef{rewrite.TEMP_SUFFIX}"
    leftover.write_text("id,name,city\r\n0,half a fi", encoding="utf-8")

    await big.write("big", [Write(WriteAction.UPDATE, {"name": "after the crash"}, "0")])

    records = await records_of(big, "big")
    assert len(records) == ROWS
    assert records[0] == {"id": "0", "name": "after the crash", "city": "city 0"}
    assert temp_files(folder) == [leftover.name]
