"""A state database that cannot be used is one clean error line (no traceback, no internal URL, no
SQLAlchemy link) naming its file, saying what is wrong and what to do, with the state-error exit code."""

from __future__ import annotations

import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from app.cli.exit_codes import EXIT_CODES, listed_type
from app.errors import StoreError
from tests.cli.helpers import run_brygga

STATE_ERROR = EXIT_CODES[listed_type(StoreError) or StoreError]
DAMAGED = "is damaged (SQLite says: "
AFRESH = "restore it from a backup, or move it away to start afresh: a new one forgets the ID map"


def brygga_with_state(quickstart: Path, state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_brygga(*args, "-c", str(quickstart), env={"BRYGGA_STATE_URL": f"sqlite:///{state}"})


def assert_one_clean_error(result: subprocess.CompletedProcess[str], *parts: str) -> None:
    assert result.returncode == STATE_ERROR, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    for part in parts:
        assert part in lines[0]
    for internal in ("Traceback", "sqlite+aiosqlite", "sqlalche.me", "Event loop is closed"):
        assert internal not in result.stderr


def made_state(quickstart: Path) -> Path:
    state = quickstart.parent / "state.db"
    assert brygga_with_state(quickstart, state, "run", "--all").returncode == 0
    return state


@pytest.mark.parametrize("command", [["run", "--all"], ["status"]])
def test_a_file_that_is_not_a_database_is_said_to_be_damaged(quickstart: Path, command: list[str]) -> None:
    state = quickstart.parent / "state.db"
    state.write_bytes(bytes(range(256)) * 20)

    result = brygga_with_state(quickstart, state, *command)

    assert_one_clean_error(result, f"the state database {state} {DAMAGED}file is not a database): {AFRESH}")


@pytest.mark.parametrize("command", [["run", "--all"], ["status"]])
def test_bytes_overwritten_in_the_schema_are_a_damaged_file_not_a_traceback(
    quickstart: Path, command: list[str]
) -> None:
    """Bytes not UTF-8 where SQLite keeps its schema: its message quoted them, and decoding it raised
    UnicodeDecodeError from ``PRAGMA journal_mode=WAL``, a raw traceback."""
    state = made_state(quickstart)
    raw = bytearray(state.read_bytes())
    at = raw.index(b"CREATE TABLE") - 20
    raw[at : at + 2] = b"\xff\xfe"
    state.write_bytes(bytes(raw))

    result = brygga_with_state(quickstart, state, *command)

    assert_one_clean_error(result, f"the state database {state} {DAMAGED}", AFRESH)


@pytest.mark.parametrize("command", [["run", "--all"], ["status"]])
def test_a_folder_as_the_state_database_is_said(quickstart: Path, command: list[str]) -> None:
    state = quickstart.parent / "state.db"
    state.mkdir()

    result = brygga_with_state(quickstart, state, *command)

    assert_one_clean_error(result, f"the state database {state} is a folder: `state` must name a file")


@pytest.mark.parametrize("command", [["run", "--all"], ["status"]])
def test_a_symlink_loop_as_the_state_database_is_said(quickstart: Path, command: list[str]) -> None:
    state = quickstart.parent / "state.db"
    state.symlink_to(state.name)

    result = brygga_with_state(quickstart, state, *command)

    assert_one_clean_error(result, f"the state database {state} is a symlink loop")


def test_a_state_database_under_a_file_is_said(quickstart: Path) -> None:
    state = quickstart / "state.db"  # brygga.yaml is a file, not a folder

    result = brygga_with_state(quickstart, state, "run", "--all")

    assert_one_clean_error(result, f"cannot create the state database {state}: {quickstart} is not a folder")


def test_a_state_database_locked_by_another_process_says_so(quickstart: Path) -> None:
    """The run waits for the lock as long as the URL's ``?timeout=`` says (30 s when left out), then says who
    may hold it."""
    state = made_state(quickstart)
    holder = sqlite3.connect(state, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        result = run_brygga(
            "run", "--all", "-c", str(quickstart), env={"BRYGGA_STATE_URL": f"sqlite:///{state}?timeout=1.5"}
        )
        waited = time.monotonic() - started
    finally:
        holder.close()

    assert_one_clean_error(
        result,
        f"the state database {state} is locked (SQLite says: database is locked): another process has held a"
        " write transaction on it for more than 1.5 s",
    )
    assert waited >= 1.5, "the run gave up before the URL's timeout"


def test_a_read_only_state_database_says_to_let_brygga_write(quickstart: Path) -> None:
    state = made_state(quickstart)
    locked = subprocess.run(["chattr", "+i", str(state)], capture_output=True, check=False)
    if locked.returncode != 0:  # not root, or a file system without the immutable flag
        state.chmod(0o444)
        state.parent.chmod(0o555)
    try:
        result = brygga_with_state(quickstart, state, "run", "--all")
    finally:
        subprocess.run(["chattr", "-i", str(state)], capture_output=True, check=False)
        state.parent.chmod(0o755)
        state.chmod(0o644)

    assert_one_clean_error(
        result,
        f"the state database {state} cannot be written (SQLite says: attempt to write a readonly database): let"
        f" the user that runs brygga write to the file and to its folder {state.parent}",
    )
