"""Kinds that move no records in a run: a webhook source reads nothing; a kind not yet able to run says so."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from app.engine.project import open_project
from app.engine.runner import RunOptions, open_engine
from app.store import Counts

PROJECT = """\
version: 1
state: sqlite:///state.db
systems:
  shop:
    connector: webhook
    webhook: {verify: none, stream: orders}
    streams: {orders: {key: id}}
  crm:
    connector: rest
    base_url: https://crm.example.com
    streams: {contacts: {path: /contacts, key: id}}
  db:
    connector: sql
    url: sqlite:///db.sqlite
    streams: {orders: {table: orders, key: id}}
"""


def _project(tmp_path: Path) -> Path:
    (tmp_path / "mappings").mkdir()
    (tmp_path / "brygga.yaml").write_text(PROJECT)
    (tmp_path / "mappings" / "orders.yaml").write_text("source: shop.orders\ntarget: db.orders\nfields: {id: id}\n")
    (tmp_path / "mappings" / "contacts.yaml").write_text("source: crm.contacts\ntarget: db.orders\nfields: {id: id}\n")
    with sqlite3.connect(tmp_path / "db.sqlite") as connection:
        connection.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
    connection.close()
    return tmp_path / "brygga.yaml"


async def test_a_run_from_a_webhook_system_reads_nothing(tmp_path: Path) -> None:
    async with open_engine(open_project(_project(tmp_path), environ={})) as engine:
        run = await engine.run("orders", RunOptions())

    assert (run.status, run.counts) == ("succeeded", Counts())


async def test_a_kind_that_cannot_run_yet_fails_the_run_clearly(tmp_path: Path) -> None:
    async with open_engine(open_project(_project(tmp_path), environ={})) as engine:
        run = await engine.run("contacts", RunOptions())

    assert run.status == "failed"
    assert run.error == (
        "system crm: the rest connector can be configured and validated, but cannot read or write records yet"
        " in this version of Brygga"
    )
