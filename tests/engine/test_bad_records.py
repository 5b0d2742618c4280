"""One hostile record in a polled run fails alone into the dead letters; the rest land (SPEC 8; issue 17 item 1).

Records come from other systems: a key with a NUL byte (PostgreSQL text cannot hold one), text that is not
valid Unicode, nesting deeper than any system takes. Each must fail alone, whatever the state database.
"""

from __future__ import annotations

import hashlib
import sqlite3
import textwrap
from pathlib import Path
from typing import Any

import pytest

from app.engine.runner import Engine, RunOptions, open_engine
from app.engine.workspace import open_workspace
from app.store import RunInfo, Store

PROJECT = """\
version: 1
state: {state}
systems:
  crm:
    connector: sql
    url: sqlite:///crm.db
    streams: {{items: {{table: items, key: code}}}}
  erp:
    connector: sql
    url: sqlite:///erp.db
    streams: {{items: {{table: items, key: code}}}}
"""
SYNC = """\
source: crm.items
target: erp.items
retry: {attempts: 1, backoff: 0s, max_backoff: 0s}
fields:
  code: code
  name: name
"""


def _project(root: Path, state: str, rows: list[tuple[str, str]]) -> Path:
    for name in ("crm.db", "erp.db"):
        connection = sqlite3.connect(root / name)
        with connection:
            connection.execute("CREATE TABLE items (code TEXT PRIMARY KEY, name TEXT)")
        connection.close()
    connection = sqlite3.connect(root / "crm.db")
    with connection:
        connection.executemany("INSERT INTO items VALUES (?, ?)", rows)
    connection.close()
    (root / "brygga.yaml").write_text(PROJECT.format(state=state), encoding="utf-8")
    (root / "mappings").mkdir()
    (root / "mappings" / "items.yaml").write_text(textwrap.dedent(SYNC), encoding="utf-8")
    return root / "brygga.yaml"


async def _run(file: Path) -> tuple[RunInfo, list[tuple[str, str]], Engine]:
    async with open_engine(open_workspace(file, environ={})) as engine:
        run = await engine.run("items", RunOptions())
        letters = [(letter.source_key, letter.error) for letter in await engine.store.dead_letters("items")]
        return run, letters, engine


def _integer_keyed_target(file: Path, batch_size: int | None = None) -> Path:
    """The project's target table keyed by an INTEGER, the source's text keys converted by ``type: integer``."""
    (file.parent / "erp.db").unlink()
    connection = sqlite3.connect(file.parent / "erp.db")
    with connection:
        connection.execute("CREATE TABLE items (code INTEGER PRIMARY KEY, name TEXT)")
    connection.close()
    sync = file.parent / "mappings" / "items.yaml"
    sync.write_text(sync.read_text(encoding="utf-8").replace("code: code", "code: {from: code, type: integer}"))
    if batch_size is not None:
        file.write_text(
            file.read_text(encoding="utf-8").replace(
                "url: sqlite:///crm.db", f"url: sqlite:///crm.db\n    batch_size: {batch_size}"
            )
        )
    return file


def _add_source_rows(root: Path, rows: list[tuple[str, str]]) -> None:
    connection = sqlite3.connect(root / "crm.db")
    with connection:
        connection.executemany("INSERT INTO items VALUES (?, ?)", rows)
    connection.close()


def _target(root: Path) -> list[tuple[Any, ...]]:
    connection = sqlite3.connect(root / "erp.db")
    try:
        return list(connection.execute("SELECT code, name FROM items ORDER BY code"))
    finally:
        connection.close()


async def test_a_key_with_a_nul_byte_fails_alone_and_the_batch_lands(tmp_path: Path, state: str) -> None:
    file = _project(tmp_path, state, [("a", "Ann"), ("b\x00c", "Bo"), ("d", "Di")])

    run, letters, _ = await _run(file)

    assert run.status == "partial", run.error
    assert (run.counts.read, run.counts.created, run.counts.failed) == (3, 2, 1)
    assert _target(tmp_path) == [("a", "Ann"), ("d", "Di")]
    [(key, error)] = letters
    assert key == "b\\x00c"
    assert "its key holds a NUL byte" in error and "correct the key in the source system" in error

    again, letters_again, _ = await _run(file)  # the dead letter is tried again, and fails again alone
    assert again.status in ("partial", "succeeded") and [key for key, _ in letters_again] == ["b\\x00c"]
    assert _target(tmp_path) == [("a", "Ann"), ("d", "Di")]


async def test_a_key_longer_than_any_identifier_fails_alone_and_the_batch_lands(tmp_path: Path, state: str) -> None:
    """On PostgreSQL such a key failed the whole run: no index row holds 5 KB (the ID map and record log index
    their keys)."""
    long = "".join(hashlib.sha256(str(number).encode()).hexdigest() for number in range(80))  # 5,120, no repeats
    file = _project(tmp_path, state, [("a", "Ann"), (long, "Bo"), ("d", "Di")])

    run, letters, _ = await _run(file)
    again, letters_again, _ = await _run(file)  # its dead letter is tried again, and fails again alone

    assert run.status == "partial", run.error
    assert (run.counts.read, run.counts.created, run.counts.failed) == (3, 2, 1)
    assert _target(tmp_path) == [("a", "Ann"), ("d", "Di")]
    [(key, error)] = letters
    assert key.startswith(long[:100] + "… (5,120 characters, ") and len(key) < 200
    assert "its key is 5,120 bytes long, more than the 2,000 a key may have" in error
    assert again.status in ("partial", "succeeded") and [key for key, _ in letters_again] == [key]


async def test_an_error_quoting_a_nul_byte_is_stored_spelt_out(tmp_path: Path, state: str) -> None:
    file = _project(tmp_path, state, [("a", "12"), ("b", "1\x002")])
    (tmp_path / "mappings" / "items.yaml").write_text(
        textwrap.dedent(SYNC).replace("name: name", "name: {from: name, type: integer}"), encoding="utf-8"
    )

    run, letters, _ = await _run(file)

    assert run.status == "partial", run.error
    [(key, error)] = letters
    assert key == "b" and "\x00" not in error and "1\\x002" in error, error
    assert _target(tmp_path) == [("a", "12")]  # a TEXT column


async def test_a_run_that_fails_unexpectedly_is_failed_visibly_and_the_next_one_works(
    tmp_path: Path, state: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = _project(tmp_path, state, [("a", "Ann")])
    from app.engine import one_way_run as run_module

    async def broken(self: object, batches: object) -> None:
        raise RuntimeError("a defect")

    with monkeypatch.context() as patch:
        patch.setattr(run_module.OneWayRun, "_read_source", broken)
        failed, _, _ = await _run(file)
    worked, _, _ = await _run(file)

    assert failed.status == "failed"
    assert failed.error == "an unexpected error (RuntimeError: a defect); the service log has its details"
    assert worked.status == "succeeded" and _target(tmp_path) == [("a", "Ann")]


async def test_a_key_beyond_64_bits_for_an_integer_key_column_fails_alone(tmp_path: Path, state: str) -> None:
    huge = "9" * 23
    file = _integer_keyed_target(_project(tmp_path, state, [("1", "Ann"), (huge, "Big"), ("3", "Cy")]))

    run, letters, _ = await _run(file)
    again, letters_again, _ = await _run(file)  # the dead letter is tried again (looked up by key), alone

    assert run.status == "partial", run.error
    assert (run.counts.created, run.counts.failed) == (2, 1)
    assert _target(tmp_path) == [(1, "Ann"), (3, "Cy")]
    assert [key for key, _ in letters] == [huge]
    assert again.status == "partial", again.error
    assert [key for key, _ in letters_again] == [huge]


async def test_source_text_that_is_not_utf8_fails_its_record_alone(tmp_path: Path, state: str) -> None:
    file = _project(tmp_path, state, [("a", "Ann"), ("c", "Cy")])
    connection = sqlite3.connect(tmp_path / "crm.db")
    with connection:  # SQLite keeps whatever bytes a program stores as TEXT
        connection.execute("INSERT INTO items VALUES ('b', CAST(X'41FF42' AS TEXT))")
    connection.close()

    run, letters, _ = await _run(file)
    again, letters_again, _ = await _run(file)  # retried by key: read again the same way, fails again alone

    assert run.status == "partial", run.error
    assert (run.counts.read, run.counts.created, run.counts.failed) == (3, 2, 1)
    assert _target(tmp_path) == [("a", "Ann"), ("c", "Cy")]
    [(key, error)] = letters
    assert key == "b" and "'name'" in error and "not valid Unicode" in error, error
    assert again.status == "partial", again.error
    assert [key for key, _ in letters_again] == ["b"]


COLLISION = "its target key 1 is already that of source record 1: writing both would overwrite one with the other"


@pytest.mark.parametrize("batch_size", [1000, 1], ids=["one-batch", "a-batch-each"])
async def test_two_source_keys_converted_to_one_target_key_never_overwrite_each_other(
    tmp_path: Path, state: str, batch_size: int
) -> None:
    file = _integer_keyed_target(_project(tmp_path, state, [("1", "Ann"), ("01", "Zero-one"), ("2", "Bo")]), batch_size)

    run, letters, _ = await _run(file)

    assert run.status == "partial", run.error
    assert (run.counts.read, run.counts.created, run.counts.failed) == (3, 2, 1)
    assert _target(tmp_path) == [(1, "Zero-one"), (2, "Bo")]  # read first (keys in text order): Ann fails, not lost
    [(key, error)] = letters
    assert key == "1" and "its target key 1 is already that of source record 01" in error, error


async def test_a_new_source_key_whose_target_key_an_earlier_run_wrote_fails_alone(tmp_path: Path, state: str) -> None:
    file = _integer_keyed_target(_project(tmp_path, state, [("1", "Ann"), ("2", "Bo")]))
    first, _, _ = await _run(file)
    _add_source_rows(tmp_path, [("01", "Zero-one"), ("3", "Cy")])

    run, letters, _ = await _run(file)
    again, letters_again, _ = await _run(file)  # the dead letter, tried again, fails again: still taken

    assert first.status == "succeeded", first.error
    assert (run.counts.created, run.counts.unchanged, run.counts.failed) == (1, 2, 1)
    assert _target(tmp_path) == [(1, "Ann"), (2, "Bo"), (3, "Cy")]
    assert [key for key, _ in letters] == ["01"] and COLLISION in letters[0][1]
    assert again.counts.failed == 1 and [key for key, _ in letters_again] == ["01"]


async def test_a_key_copied_as_it_is_is_never_looked_up_for_a_shared_target(
    tmp_path: Path, state: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = _project(tmp_path, state, [("a", "Ann"), ("b", "Bo")])

    async def looked_up(*_: object) -> dict[tuple[str, str], str]:
        raise AssertionError("a copied key (the same text as the source key) cannot meet another record's")

    monkeypatch.setattr(Store, "source_keys", looked_up)
    run, _, _ = await _run(file)

    assert run.status == "succeeded", run.error
    assert _target(tmp_path) == [("a", "Ann"), ("b", "Bo")]


async def test_a_source_key_no_value_of_its_column_stays_a_dead_letter_run_after_run(
    tmp_path: Path, state: str
) -> None:
    """SQLite keeps ``garbage`` in a DATE key column: its record fails alone, and each later run retries the
    dead letter by its key, finds the record, and fails it again; it is never taken as gone from the source
    (its dead letter cleared, the record failing every other run)."""
    file = _project(tmp_path, state, [])
    for name in ("crm.db", "erp.db"):
        connection = sqlite3.connect(tmp_path / name)
        with connection:
            connection.execute("DROP TABLE items")
            connection.execute("CREATE TABLE items (code DATE PRIMARY KEY, name TEXT)")
        connection.close()
    _add_source_rows(tmp_path, [("2024-01-01", "Ann"), ("garbage", "Bo"), ("2024-01-03", "Di")])

    for _ in range(3):
        run, letters, _engine = await _run(file)
        assert (run.status, run.counts.read, run.counts.failed, run.counts.skipped) == ("partial", 3, 1, 0)
        assert [key for key, _ in letters] == ["garbage"]
    assert _target(tmp_path) == [("2024-01-01", "Ann"), ("2024-01-03", "Di")]


async def test_records_without_a_key_stay_dead_letters_counted_once_run_after_run(tmp_path: Path, state: str) -> None:
    """A record without a key fails alone into a dead letter keyed by a stand-in (``(no key)`` and its hash).
    A later run retried it by that stand-in, which no source holds: taken for gone, its dead letter was
    cleared (``skipped``), and the read failed the record again: read 6 for 4 records, a new letter each run."""
    for folder in ("in", "out", "mappings"):
        (tmp_path / folder).mkdir()
    (tmp_path / "in" / "items.csv").write_text("code,name\na,Ann\n,Bo\nc,Cy\n,Di\n", encoding="utf-8")
    (tmp_path / "brygga.yaml").write_text(
        f"version: 1\nstate: {state}\nsystems:\n"
        "  crm: {connector: csv, path: in, streams: {items: {file: items.csv, key: code}}}\n"
        "  erp: {connector: csv, path: out, streams: {items: {file: items.csv, key: code}}}\n",
        encoding="utf-8",
    )
    (tmp_path / "mappings" / "items.yaml").write_text(textwrap.dedent(SYNC), encoding="utf-8")
    ids = []

    for _ in range(3):
        run, letters, _engine = await _run(tmp_path / "brygga.yaml")
        assert (run.status, run.counts.read, run.counts.failed, run.counts.skipped) == ("partial", 4, 2, 0)
        assert [error for _, error in letters] == ["sync items: the record has no value for its key field code"] * 2
        async with open_engine(open_workspace(tmp_path / "brygga.yaml", environ={})) as engine:
            ids.append([letter.id for letter in await engine.store.dead_letters("items")])
    assert ids[0] == ids[1] == ids[2], "the dead letters were cleared and made again"
    assert (tmp_path / "out" / "items.csv").read_text(encoding="utf-8").splitlines() == ["code,name", "a,Ann", "c,Cy"]


def _null_key_project(root: Path, state: str) -> Path:
    """A SQLite source keyed by a nullable ``code`` beside its ``id``, read on an ``updated_at`` cursor."""
    connection = sqlite3.connect(root / "crm.db")
    with connection:
        connection.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, code TEXT UNIQUE, name TEXT, updated_at TEXT)")
        connection.executemany(
            "INSERT INTO items (code, name, updated_at) VALUES (?, ?, ?)",
            [("a", "Ann", "2024-05-01 10:00"), (None, "Bo", "2024-05-01 10:01"), ("c", "Cy", "2024-05-01 10:02")],
        )
    connection.close()
    connection = sqlite3.connect(root / "erp.db")
    with connection:
        connection.execute("CREATE TABLE items (code TEXT PRIMARY KEY, name TEXT)")
    connection.close()
    (root / "brygga.yaml").write_text(
        PROJECT.format(state=state).replace(
            "streams: {items: {table: items, key: code}}\n  erp",
            "streams: {items: {table: items, key: code, cursor: updated_at}}\n  erp",
        ),
        encoding="utf-8",
    )
    (root / "mappings").mkdir()
    (root / "mappings" / "items.yaml").write_text(textwrap.dedent(SYNC), encoding="utf-8")
    return root / "brygga.yaml"


async def test_sql_rows_whose_key_is_null_fail_visibly_once_run_after_run(tmp_path: Path, state: str) -> None:
    """They were left out of every read without a word: now each is a record without a key, failed alone
    into a dead letter that stays (never made again, never counted twice), by full and changes reads alike."""
    file = _null_key_project(tmp_path, state)
    error = "sync items: the record has no value for its key field code"

    run, letters, _engine = await _run(file)  # the first run is a full read
    assert (run.status, run.counts.read, run.counts.created, run.counts.failed) == ("partial", 3, 2, 1)
    assert letters == [(letters[0][0], error)] and letters[0][0].startswith("(no key) ")
    first = letters

    _add_source_rows_with_cursor(tmp_path, [(None, "Di", "2024-05-01 10:03"), ("e", "Ed", "2024-05-01 10:04")])
    run, letters, _engine = await _run(file)  # a changes read: Di is past the stored cursor
    assert (run.counts.created, run.counts.failed) == (1, 2)
    assert len(letters) == 2 and first[0] in letters

    for _ in range(2):
        again, letters_again, _engine = await _run(file)
        assert (again.counts.created, again.counts.failed) == (0, 2)
        assert letters_again == letters
    assert _target(tmp_path) == [("a", "Ann"), ("c", "Cy"), ("e", "Ed")]


def _add_source_rows_with_cursor(root: Path, rows: list[tuple[str | None, str, str]]) -> None:
    connection = sqlite3.connect(root / "crm.db")
    with connection:
        connection.executemany("INSERT INTO items (code, name, updated_at) VALUES (?, ?, ?)", rows)
    connection.close()


async def test_a_mapped_target_key_that_is_a_boolean_fails_its_record_alone(tmp_path: Path, state: str) -> None:
    """A mapping giving the target key a boolean wrote it as the key ``"true"`` (SQLite stored ``1``): now the
    record fails alone, saying to correct the mapping."""
    file = _project(tmp_path, state, [("a", "Ann"), ("b", "Bo")])
    sync = tmp_path / "mappings" / "items.yaml"
    mapped = "code: \"{{ record.code == 'b' or record.code }}\""  # true for b: no key
    sync.write_text(sync.read_text(encoding="utf-8").replace("code: code", mapped))

    run, letters, _ = await _run(file)

    assert run.status == "partial", run.error
    assert (run.counts.created, run.counts.failed) == (1, 1)
    assert _target(tmp_path) == [("a", "Ann")]
    assert letters == [
        (
            "b",
            "sync items, record b: the mapped record's target key is a boolean (true), not text or a number: "
            "correct the mapping of code",
        )
    ]
