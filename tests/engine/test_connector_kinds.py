"""A webhook system moves no records in a scheduled or manual run: its records come by webhook."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from app.engine.runner import RunOptions, open_engine
from app.engine.workspace import open_workspace
from app.store import Counts

PROJECT = """\
version: 1
state: sqlite:///state.db
systems:
  shop:
    connector: webhook
    webhook: {verify: none, stream: orders}
    streams: {orders: {key: id}}
  db:
    connector: sql
    url: sqlite:///db.sqlite
    streams: {orders: {table: orders, key: id}}
"""


def _project(tmp_path: Path) -> Path:
    (tmp_path / "mappings").mkdir()
    (tmp_path / "brygga.yaml").write_text(PROJECT)
    (tmp_path / "mappings" / "orders.yaml").write_text("source: shop.orders\ntarget: db.orders\nfields: {id: id}\n")
    with sqlite3.connect(tmp_path / "db.sqlite") as connection:
        connection.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
    connection.close()
    return tmp_path / "brygga.yaml"


async def test_a_run_from_a_webhook_system_reads_nothing(tmp_path: Path) -> None:
    async with open_engine(open_workspace(_project(tmp_path), environ={})) as engine:
        run = await engine.run("orders", RunOptions())

    assert (run.status, run.counts) == ("succeeded", Counts())
