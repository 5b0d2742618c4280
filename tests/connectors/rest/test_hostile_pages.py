"""A page of records from a REST API, some of them hostile, through the real engine into PostgreSQL
(SPEC 8; issue 17 items 1 and 7): each hostile record fails alone, the rest land, numbers keep their value."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest

from app.engine.runner import RunOptions, open_engine
from app.engine.workspace import open_workspace
from tests.connectors.rest.server import ApiState
from tests.services import FreshPostgresDatabase, require_service

BIG = 123456789012345678901234567890
DEEP = "{" + '"a":{' * 300 + '"b":1' + "}" * 301
PAGE = (
    '{"data": ['
    f'{{"id": "1", "name": "Ann", "n": {BIG}}},'
    '{"id": "2", "name": "Bad \\ud800 text", "n": 2},'
    f'{{"id": "3", "name": "Deep", "n": 3, "extra": {DEEP}}},'
    '{"id": "4\\u0000x", "name": "NUL key", "n": 4},'
    '{"id": "5", "name": "Huge", "n": 1e400},'
    '{"id": "6", "name": "Nul \\u0000 inside", "n": -98765432109876543210987654321}'
    "]}"
)


@pytest.fixture
async def target() -> AsyncIterator[str]:
    require_service("postgresql")
    async with FreshPostgresDatabase() as url:
        connection = await asyncpg.connect(url)
        try:
            await connection.execute("CREATE TABLE items (id TEXT PRIMARY KEY, name TEXT, n NUMERIC, extra TEXT)")
        finally:
            await connection.close()
        yield url


def _project(root: Path, api_url: str, target: str) -> Path:
    systems = {
        "api": {
            "connector": "rest",
            "base_url": api_url,
            "streams": {"items": {"key": "id", "path": "/raw/page", "records": "data"}},
        },
        "db": {"connector": "sql", "url": target, "streams": {"items": {"table": "items", "key": "id"}}},
    }
    (root / "brygga.yaml").write_text(json.dumps({"version": 1, "state": "sqlite:///state.db", "systems": systems}))
    (root / "mappings").mkdir()
    (root / "mappings" / "items.yaml").write_text(
        "source: api.items\ntarget: db.items\nretry: {attempts: 1, backoff: 0s, max_backoff: 0s}\n"
        "fields: {id: id, name: name, n: {from: n, type: decimal}, extra: extra}\n"
    )
    return root / "brygga.yaml"


async def test_hostile_records_on_a_page_fail_alone_and_numbers_keep_their_value(
    tmp_path: Path, api: ApiState, api_url: str, target: str
) -> None:
    api.raw["page"] = PAGE.encode()
    file = _project(tmp_path, api_url, target)

    async with open_engine(open_workspace(file, environ={})) as engine:
        run = await engine.run("items", RunOptions())
        letters = {letter.source_key: letter.error for letter in await engine.store.dead_letters("items")}

    connection = await asyncpg.connect(target)
    try:
        rows = [tuple(row) for row in await connection.fetch("SELECT id, name, n FROM items ORDER BY id")]
    finally:
        await connection.close()
    assert rows[0] == ("1", "Ann", Decimal(BIG))
    assert ("5", "Huge", Decimal("1e400")) in rows
    assert (run.counts.read, run.counts.failed) == (6, len(letters)), letters
    assert "not valid Unicode" in letters["2"] and "nested deeper than 254 levels" in letters["3"]
    assert "NUL byte" in letters["4\\x00x"]
    assert sorted(letters) == ["2", "3", "4\\x00x", "6"], letters  # 6: PostgreSQL text takes no NUL
    assert [row[0] for row in rows] == ["1", "5"]
    assert run.status == "partial"


async def test_a_dead_letter_whose_key_no_url_can_hold_is_retried_from_its_kept_copy(
    tmp_path: Path, api: ApiState, api_url: str, target: str
) -> None:
    """The source's ``get`` refuses a key such as ``..``; the dead letter is tried again from the copy it
    keeps instead, and the run goes on (issue 17: the refused look-up failed every later run for good)."""
    api.raw["page"] = b'{"data": [{"id": "1", "name": "Ann", "n": 1}, {"id": "..", "name": "Dots", "n": "x"}]}'
    api.raw["1"] = b'{"id": "1", "name": "Ann", "n": 1}'
    file = _project(tmp_path, api_url, target)
    config = json.loads(file.read_text())
    config["systems"]["api"]["streams"]["items"]["get"] = {"path": "/raw/{key}"}
    file.write_text(json.dumps(config))

    async with open_engine(open_workspace(file, environ={})) as engine:
        first = await engine.run("items", RunOptions())
        second = await engine.run("items", RunOptions())
        letters = [letter.source_key for letter in await engine.store.dead_letters("items")]

    assert (first.status, first.counts.failed) == ("partial", 1), first.error
    assert second.status == "partial", second.error
    assert letters == [".."]


async def test_a_record_nested_deeper_than_the_parser_recurses_fails_alone_and_its_page_lands(
    tmp_path: Path, api: ApiState, api_url: str, target: str
) -> None:
    """One record 100,000 levels deep failed the read of its whole page, so no record of it arrived and the
    run failed; now that record fails alone into the dead letters, saying why, and the others land."""
    deep = "[" * 100_000 + "]" * 100_000
    api.raw["page"] = (
        '{"data": [{"id": "1", "name": "Ann", "n": 1},'
        f'{{"id": "2", "name": "Deep", "n": 2, "extra": {deep}}},'
        '{"id": "3", "name": "Cy", "n": 3}]}'
    ).encode()
    file = _project(tmp_path, api_url, target)

    async with open_engine(open_workspace(file, environ={})) as engine:
        run = await engine.run("items", RunOptions())
        letters = {letter.source_key: letter.error for letter in await engine.store.dead_letters("items")}

    connection = await asyncpg.connect(target)
    try:
        rows = [tuple(row) for row in await connection.fetch("SELECT id, name FROM items ORDER BY id")]
    finally:
        await connection.close()
    assert (run.status, run.counts.read, run.counts.failed) == ("partial", 3, 1), run.error
    assert rows == [("1", "Ann"), ("3", "Cy")]
    assert list(letters) == ["2"]
    assert "field 'extra'" in letters["2"] and "nested deeper than 254 levels" in letters["2"], letters


async def test_items_of_a_page_that_are_not_records_fail_alone_and_the_rest_land(
    tmp_path: Path, api: ApiState, api_url: str, target: str
) -> None:
    """One ``null`` in a page's list (an API's deleted item) failed the whole read, at every run: the sync
    was stopped by one item, where a webhook's items that are not records each fail alone."""
    api.raw["page"] = b'{"data": [{"id": "1", "name": "Ann"}, null, 7, {"id": "2", "name": "Bo"}]}'
    file = _project(tmp_path, api_url, target)

    async with open_engine(open_workspace(file, environ={})) as engine:
        run = await engine.run("items", RunOptions())
        letters = sorted(letter.error for letter in await engine.store.dead_letters("items"))

    assert (run.status, run.counts.read, run.counts.created, run.counts.failed) == ("partial", 4, 2, 2), run.error
    assert len(letters) == 2
    assert f"api.items: reading page 1: {api_url}/raw/page: item 1 of the list at `data` is null, not a record" in (
        letters[0] + letters[1]
    )
    assert "item 2 of the list at `data` is a int value, not a record (an object)" in letters[0] + letters[1]
