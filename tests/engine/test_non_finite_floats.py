"""Floats that are infinite or not a number (a SQLite REAL of 1e999, PostgreSQL's float8 'Infinity' and 'NaN').

orjson writes such a float as ``null``: the hash of a record holding ``inf`` was the hash of one holding null,
so a change from ``inf`` to NULL, or on to ``-inf``, was ``unchanged`` run after run and the target kept
``inf``; a dead letter's copy of the record lost the value too.
"""

from __future__ import annotations

import math
import sqlite3
import textwrap
from pathlib import Path

import pytest

from app.engine.runner import RunOptions, open_engine
from app.engine.workspace import open_workspace
from app.mapping.hashing import mapped_hash, record_hash
from app.records import dumps, loads, shown_dumps

PROJECT = """\
version: 1
state: sqlite:///state.db
systems:
  crm:
    connector: sql
    url: sqlite:///crm.db
    streams: {items: {table: items, key: code}}
  erp:
    connector: sql
    url: sqlite:///erp.db
    streams: {items: {table: items, key: code}}
"""
SYNC = """\
source: crm.items
target: erp.items
fields:
  code: code
  weight: weight
"""

INF, NAN = float("inf"), float("nan")


@pytest.mark.parametrize("value", [INF, -INF, NAN])
def test_a_non_finite_float_hashes_apart_from_null(value: float) -> None:
    for hashed in (record_hash, lambda record: mapped_hash(record, "items", "1")):
        assert hashed({"weight": value}) != hashed({"weight": None})
        assert hashed({"deep": [{"weight": value}]}) != hashed({"deep": [{"weight": None}]})
    assert record_hash({"weight": INF}) != record_hash({"weight": -INF})
    assert record_hash({"weight": value, "other": None}) == record_hash({"other": None, "weight": value})


@pytest.mark.parametrize("value", [INF, -INF, NAN])
def test_a_dead_letters_copy_keeps_a_non_finite_float(value: float) -> None:
    kept = loads(dumps({"weight": value, "list": [value], "none": None}))
    assert math.isnan(kept["weight"]) if math.isnan(value) else kept["weight"] == value
    assert kept["none"] is None


def test_logged_values_show_a_non_finite_float_as_its_text() -> None:
    """The record log's values are answered by the API as JSON, which has no such number."""
    assert loads(shown_dumps({"weight": INF, "list": [-INF, NAN], "none": None})) == {
        "weight": "inf",
        "list": ["-inf", "nan"],
        "none": None,
    }


def _weight(root: Path, database: str) -> object:
    connection = sqlite3.connect(root / database)
    try:
        return connection.execute("SELECT weight FROM items WHERE code = 'a'").fetchone()[0]
    finally:
        connection.close()


def _set_source(root: Path, value: float | None) -> None:
    connection = sqlite3.connect(root / "crm.db")
    with connection:
        connection.execute("UPDATE items SET weight = ? WHERE code = 'a'", (value,))
    connection.close()


async def test_a_change_to_or_from_infinity_is_written(tmp_path: Path) -> None:
    for name in ("crm.db", "erp.db"):
        connection = sqlite3.connect(tmp_path / name)
        with connection:
            connection.execute("CREATE TABLE items (code TEXT PRIMARY KEY, weight REAL)")
        connection.close()
    connection = sqlite3.connect(tmp_path / "crm.db")
    with connection:
        connection.executemany("INSERT INTO items VALUES (?, ?)", [("a", INF), ("b", 1.5)])
    connection.close()
    (tmp_path / "brygga.yaml").write_text(PROJECT, encoding="utf-8")
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "items.yaml").write_text(textwrap.dedent(SYNC), encoding="utf-8")
    workspace = open_workspace(tmp_path / "brygga.yaml", environ={})
    async with open_engine(workspace) as engine:
        first = await engine.run("items", RunOptions(full=True))
        assert (first.status, first.counts.created) == ("succeeded", 2)
        assert _weight(tmp_path, "erp.db") == INF
        for value in (None, -INF, INF):
            _set_source(tmp_path, value)
            run = await engine.run("items", RunOptions(full=True))
            assert (run.counts.updated, run.counts.unchanged) == (1, 1), value
            assert _weight(tmp_path, "erp.db") == value
        again = await engine.run("items", RunOptions(full=True))
        assert (again.counts.updated, again.counts.unchanged) == (0, 2)
