"""Opening a state database migrates it to the newest schema, and skips Alembic when it is there already."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, text

from app.errors import StoreError
from app.store import BatchChanges, IdMapping, Pair, Store
from app.store.database import MIGRATIONS, SCHEMA_HEAD


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def test_the_known_head_is_the_newest_migration() -> None:
    assert ScriptDirectory.from_config(_config()).get_current_head() == SCHEMA_HEAD, (
        "a migration was added: set SCHEMA_HEAD in app/store/database.py to its revision"
    )


async def test_a_database_at_the_newest_schema_opens_without_alembic(
    state_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await (await Store.open(state_url, tmp_path)).close()

    def no_upgrade(*_: object) -> None:
        raise AssertionError("Alembic ran for a database at the newest schema")

    monkeypatch.setattr(command, "upgrade", no_upgrade)
    store = await Store.open(state_url, tmp_path)
    await store.close()


async def test_a_database_at_an_older_schema_is_upgraded_when_opened(state_url: str, tmp_path: Path) -> None:
    store = await Store.open(state_url, tmp_path)
    try:
        async with store.engine.begin() as connection:
            await connection.run_sync(lambda sync: command.downgrade(_config(sync), "0003"))
            assert (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalar() == "0003"
    finally:
        await store.close()

    store = await Store.open(state_url, tmp_path)
    try:
        async with store.engine.connect() as connection:
            version = (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    finally:
        await store.close()
    assert version == SCHEMA_HEAD


async def test_a_database_a_newer_brygga_upgraded_is_a_store_error_saying_so(state_url: str, tmp_path: Path) -> None:
    store = await Store.open(state_url, tmp_path)
    try:
        async with store.engine.begin() as connection:
            await connection.execute(text("UPDATE alembic_version SET version_num = '9999_newer'"))
    finally:
        await store.close()

    with pytest.raises(StoreError) as caught:
        await Store.open(state_url, tmp_path)

    assert "has a newer schema (revision 9999_newer) than this Brygga" in str(caught.value)
    assert "use that version (or newer)" in str(caught.value)


def _shape(path: Path) -> dict[str, object]:
    """Each table's columns, indexes (with their columns), foreign keys, AUTOINCREMENT and WITHOUT ROWID, as
    SQLite reports them."""
    connection = sqlite3.connect(path)
    try:
        tables = connection.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
        shape: dict[str, object] = {}
        for name, sql in tables:
            indexes = sorted(
                (
                    index[1],
                    index[2],
                    index[3],
                    [row[2] for row in connection.execute(f"PRAGMA index_xinfo('{index[1]}')")],
                )
                for index in connection.execute(f"PRAGMA index_list('{name}')")
            )
            shape[name] = (
                connection.execute(f"PRAGMA table_xinfo('{name}')").fetchall(),
                indexes,
                sorted(connection.execute(f"PRAGMA foreign_key_list('{name}')").fetchall()),
                "AUTOINCREMENT" in sql.upper(),
                "WITHOUT ROWID" in sql.upper(),
            )
        return shape
    finally:
        connection.close()


async def test_a_new_sqlite_state_database_is_made_from_the_models_as_the_migrations_make_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first run makes its SQLite state from the models and marks it at the head, without running the
    migrations one by one (a quarter of a second of every first run): the schema is the same either way."""
    migrated = tmp_path / "migrated.db"
    engine = create_engine(f"sqlite:///{migrated}")
    with engine.begin() as sync:
        command.upgrade(_config(sync), "head")
    engine.dispose()

    def no_upgrade(*_: object) -> None:
        raise AssertionError("Alembic ran the migrations for a new SQLite state database")

    monkeypatch.setattr(command, "upgrade", no_upgrade)
    store = await Store.open(f"sqlite:///{tmp_path / 'new.db'}", tmp_path)
    try:
        async with store.engine.connect() as connection:
            version = (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    finally:
        await store.close()
    assert version == SCHEMA_HEAD
    assert _shape(tmp_path / "new.db") == _shape(migrated)


async def test_processes_opening_a_new_sqlite_state_database_at_once_all_get_it(tmp_path: Path) -> None:
    """``brygga serve`` and a ``brygga run`` started together on a new project: the first makes the schema
    in one transaction under SQLite's write lock, the others wait and find it made (each store its own
    connection and thread, as processes have)."""
    for attempt in range(3):
        url = f"sqlite:///{tmp_path / f'state{attempt}.db'}"
        opened = await asyncio.gather(*(Store.open(url, tmp_path) for _ in range(3)), return_exceptions=True)
        for store in opened:
            if isinstance(store, Store):
                await store.close()
        assert [type(store) for store in opened] == [Store, Store, Store], opened


async def test_an_sqlite_id_map_becomes_a_without_rowid_table_with_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as sync:
        command.upgrade(_config(sync), "0007")
        sync.execute(
            text(
                "INSERT INTO id_map (sync, source_key, target_key, hash, updated_at) "
                "VALUES ('s', '1', 'a', 'h1', '2026-12-07 10:00:00'), ('s', '2', NULL, 'h2', '2026-12-07 10:00:00')"
            )
        )
    engine.dispose()

    store = await Store.open(f"sqlite:///{path}", tmp_path)
    try:
        assert await store.id_map("s", ["1", "2", "3"]) == {
            "1": IdMapping("a", "h1"),
            "2": IdMapping(None, "h2"),
        }
    finally:
        await store.close()
    connection = sqlite3.connect(path)
    try:
        (sql,) = connection.execute("SELECT sql FROM sqlite_master WHERE name = 'id_map'").fetchone()
        indexes = {row[1] for row in connection.execute("PRAGMA index_list('id_map')")}
    finally:
        connection.close()
    assert "WITHOUT ROWID" in sql.upper()
    assert "ix_id_map_sync_target" in indexes


async def test_dead_letters_kept_before_their_hashes_were_give_their_record_when_asked(
    state_url: str, tmp_path: Path
) -> None:
    """Migration 0009 adds each dead letter's record hash; a letter kept before it has none, and a run asking
    about its key gets its record instead, to hash (the engine's hash: no migration can make it)."""
    store = await Store.open(state_url, tmp_path)
    try:
        async with store.engine.begin() as connection:
            await connection.run_sync(lambda sync: command.downgrade(_config(sync), "0008"))
            await connection.execute(
                text(
                    "INSERT INTO dead_letters (sync, source_key, record, error, reason, attempts, run_id, "
                    "first_failed_at, last_failed_at, direction) VALUES ('s', '1', '{\"id\": 1}', 'e', 'mapping', 1, "
                    "7, '2026-12-07 10:00:00', '2026-12-07 10:00:00', '')"
                )
            )
    finally:
        await store.close()

    store = await Store.open(state_url, tmp_path)
    try:
        found = await store.letters.of("s", 8, ["1", "2"], retried=True)
    finally:
        await store.close()
    assert [tuple(mark) for mark in found.marks] == [("1", None, {"id": 1}, 7)]
    assert found.retried == {}


async def test_two_way_pairs_of_an_older_schema_are_upgraded_with_no_delete_remembered(
    state_url: str, tmp_path: Path
) -> None:
    """0010 adds ``id_map.gone_from`` (the side a pair's record was deleted from, a delete ``delete_in`` does not
    carry): the pairs there were stay linked as they were, and a pair so marked is stored and read back."""
    store = await Store.open(state_url, tmp_path)
    try:
        async with store.engine.begin() as connection:
            await connection.run_sync(lambda sync: command.downgrade(_config(sync), "0009"))
            await connection.execute(
                text(
                    "INSERT INTO id_map (sync, source_key, target_key, base, updated_at) "
                    "VALUES ('s', '1', '7', '{}', CURRENT_TIMESTAMP)"
                )
            )
    finally:
        await store.close()

    store = await Store.open(state_url, tmp_path)
    try:
        run = await store.start_run("s", "manual")
        await store.commit_batch("s", run, BatchChanges(pairs=[Pair("2", "8", {}, "a")]))
        pairs = await store.pairs("s", ["1", "2"])
    finally:
        await store.close()
    assert pairs == {"1": Pair("1", "7", {}, None), "2": Pair("2", "8", {}, "a")}


_OLD_KEYS = {
    "b'\\x01\\xff'": "01ff",  # Python's text of bytes, as key_text wrote a binary key's
    'b"\'"': "27",
    "b''": "",
    '["A","b\'\\\\x02\'"]': '["A","02"]',  # a composite key's part: JSON of b'\x02'
    "b'x": None,  # no text Python writes: a text key, left as it is
    "b'\\x1'": None,
    "b'\\x61'": None,  # Python writes b'a'
    "bolt": None,
    '["b\'", "x"]': None,
}


async def test_keys_kept_as_python_text_of_bytes_become_hex(state_url: str, tmp_path: Path) -> None:
    """0011: the ID map, record log and dead letters held a binary key as ``b'\\x01'``; now its hex, as Brygga
    gives bytes' key text. Texts Python would not write for bytes are text keys, left alone, and a key whose
    hex is held already in the same sync is left as it was."""
    store = await Store.open(state_url, tmp_path)
    try:
        async with store.engine.begin() as connection:
            await connection.run_sync(lambda sync: command.downgrade(_config(sync), "0010"))
            for index, old in enumerate([*_OLD_KEYS, "b'\\xab'"]):
                values = {"sync": "s", "key": old, "target": old, "id": index}
                await connection.execute(
                    text(
                        "INSERT INTO id_map (sync, source_key, target_key, updated_at) "
                        "VALUES (:sync, :key, :target, CURRENT_TIMESTAMP)"
                    ),
                    values,
                )
                await connection.execute(
                    text(
                        "INSERT INTO record_log (run_id, sync, source_key, target_key, action, at) "
                        "VALUES (1, :sync, :key, :target, 'created', CURRENT_TIMESTAMP)"
                    ),
                    values,
                )
                await connection.execute(
                    text(
                        "INSERT INTO dead_letters (sync, source_key, record, error, reason, attempts, "
                        "first_failed_at, last_failed_at, direction) VALUES (:sync, :key, '{}', 'e', 'write', 1, "
                        "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, '')"
                    ),
                    values,
                )
            held = {"sync": "s", "key": "ab"}  # both b'\xab' and its hex: the old one is left
            await connection.execute(
                text("INSERT INTO id_map (sync, source_key, updated_at) VALUES (:sync, :key, CURRENT_TIMESTAMP)"), held
            )
            await connection.execute(
                text(
                    "INSERT INTO dead_letters (sync, source_key, record, error, reason, attempts, first_failed_at, "
                    "last_failed_at, direction) VALUES (:sync, :key, '{}', 'e', 'write', 1, CURRENT_TIMESTAMP, "
                    "CURRENT_TIMESTAMP, '')"
                ),
                held,
            )
    finally:
        await store.close()

    store = await Store.open(state_url, tmp_path)
    try:
        async with store.engine.connect() as connection:
            pairs = set((await connection.execute(text("SELECT source_key, target_key FROM id_map"))).all())
            logged = set((await connection.execute(text("SELECT source_key, target_key FROM record_log"))).all())
            letters = set((await connection.execute(text("SELECT source_key FROM dead_letters"))).scalars())
    finally:
        await store.close()
    expected = {(old if new is None else new) for old, new in _OLD_KEYS.items()}
    assert pairs == {(key, key) for key in expected} | {("b'\\xab'", "ab"), ("ab", None)}
    assert logged == {(key, key) for key in expected} | {("ab", "ab")}
    assert letters == expected | {"b'\\xab'", "ab"}
