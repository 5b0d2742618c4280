"""A sync whose source and target keys are binary columns (SQLite ``BLOB``): keys as hex, end to end.

Their key text was Python's ``b'\\x01'``: no column takes it back, so a dead letter could not be read
fresh by key, and a mirror sync could not delete a target record whose source row was gone.
"""

from __future__ import annotations

import sqlite3
import textwrap
from pathlib import Path

from app.engine.runner import RunOptions, open_engine
from app.engine.workspace import open_workspace
from app.store import Counts, RunInfo

PROJECT = """\
version: 1
state: sqlite:///state.db
systems:
  crm:
    connector: sql
    url: sqlite:///crm.db
    streams: {tokens: {table: tokens, key: id}}
  erp:
    connector: sql
    url: sqlite:///erp.db
    streams: {tokens: {table: tokens, key: id, delete: hard}}
"""
SYNC = """\
source: crm.tokens
target: erp.tokens
mode: mirror
retry: {attempts: 1, backoff: 0s, max_backoff: 0s, later_runs: 5}
fields:
  id: id
  name: {from: name, required: true}
"""


def _execute(path: Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    connection = sqlite3.connect(path)
    try:
        with connection:
            return list(connection.execute(sql, params))
    finally:
        connection.close()


def _project(root: Path) -> Path:
    for name in ("crm.db", "erp.db"):
        _execute(root / name, "CREATE TABLE tokens (id BLOB PRIMARY KEY, name TEXT)")
    (root / "brygga.yaml").write_text(PROJECT, encoding="utf-8")
    (root / "mappings").mkdir()
    (root / "mappings" / "tokens.yaml").write_text(textwrap.dedent(SYNC), encoding="utf-8")
    return root / "brygga.yaml"


async def _run(file: Path) -> RunInfo:
    async with open_engine(open_workspace(file, environ={})) as engine:
        return await engine.run("tokens", RunOptions())


async def test_binary_keys_are_hex_in_the_state_and_rows_are_found_deleted_and_retried_by_them(
    tmp_path: Path,
) -> None:
    file = _project(tmp_path)
    crm, erp = tmp_path / "crm.db", tmp_path / "erp.db"
    for key, name in ((b"\x01'", "one"), (b"\xff\x00", None), (b"\x02", "two")):
        _execute(crm, "INSERT INTO tokens VALUES (?, ?)", key, name)

    first = await _run(file)
    keys = _execute(tmp_path / "state.db", "SELECT source_key, target_key FROM id_map ORDER BY 1")
    letters = _execute(tmp_path / "state.db", "SELECT source_key FROM dead_letters")

    # the failed record's row is set right in the source: its dead letter is read again, fresh, by key
    _execute(crm, "UPDATE tokens SET name = 'late' WHERE id = ?", b"\xff\x00")
    _execute(crm, "DELETE FROM tokens WHERE id = ?", b"\x02")
    second = await _run(file)

    assert first.counts == Counts(read=3, created=2, failed=1)
    assert keys == [("0127", "0127"), ("02", "02")]
    assert letters == [("ff00",)]
    assert second.counts == Counts(read=2, created=1, unchanged=1, deleted=1), second.error
    assert _execute(erp, "SELECT id, name FROM tokens ORDER BY 1") == [(b"\x01'", "one"), (b"\xff\x00", "late")]
    assert _execute(tmp_path / "state.db", "SELECT count(*) FROM dead_letters") == [(0,)]
