"""A REST read's records are let go of once mapped (``Batch.originals``): a record that fails on its way to
the target is read anew from its page's answer for its dead letter, exactly as it was read, wherever the
batches cut the pages."""

from __future__ import annotations

import functools
import json
import sqlite3
from pathlib import Path

from app.engine.runner import RunOptions, open_engine
from app.engine.workspace import open_workspace
from app.store import Counts
from connectors.base import Record
from connectors.rest.originals import PageAgain, Span, after, originals
from tests.connectors.rest.server import ApiState, contacts

REFUSED = (3, 5, 6, 11, 12)
"""Ids the target refuses: the last of a page, the first of a batch, records of the batch's second page."""


def _project(root: Path, api_url: str) -> Path:
    systems = {
        "api": {
            "connector": "rest",
            "base_url": api_url,
            "batch_size": 5,
            "streams": {
                "contacts": {
                    "key": "id",
                    "path": "/pages/contacts",
                    "pagination": {"type": "page", "param": "page", "size_param": "size", "size": 3},
                }
            },
        },
        "db": {
            "connector": "sql",
            "url": "sqlite:///db.sqlite",
            "streams": {"copies": {"table": "copies", "key": "id"}},
        },
    }
    (root / "brygga.yaml").write_text(json.dumps({"version": 1, "state": "sqlite:///state.db", "systems": systems}))
    (root / "mappings").mkdir()
    (root / "mappings" / "in.yaml").write_text(
        "source: api.contacts\ntarget: db.copies\nretry: {attempts: 1}\nfields: {id: id, name: name}\n"
    )
    with sqlite3.connect(root / "db.sqlite") as db:
        refused = ", ".join(map(str, REFUSED))
        db.execute(f"CREATE TABLE copies (id INTEGER PRIMARY KEY, name TEXT, CHECK (id NOT IN ({refused})))")
    db.close()
    return root / "brygga.yaml"


async def test_a_record_let_go_of_and_refused_by_the_target_keeps_its_source_data_as_read(
    api: ApiState, api_url: str, tmp_path: Path
) -> None:
    api.contacts = contacts(14)
    path = _project(tmp_path, api_url)

    async with open_engine(open_workspace(path, environ={})) as engine:
        result = await engine.run("in", RunOptions())
        letters = await engine.store.dead_letters("in")

    assert (result.status, result.counts) == ("partial", Counts(read=14, created=9, failed=5)), result.error
    by_id = {row["id"]: row for row in api.contacts}
    assert {letter.source_key: letter.record for letter in letters} == {str(n): by_id[n] for n in REFUSED}


def _page_of_three(page: int) -> list[Record]:
    return [{"page": page, "at": at} for at in range(3)]


def test_the_spans_left_after_a_batch_name_each_record_where_its_page_has_it() -> None:
    pages = [PageAgain(functools.partial(_page_of_three, page)) for page in range(4)]
    held = [Span(0, pages[0], 1), Span(2, pages[1], 0), Span(5, pages[2], 0), Span(8, pages[3], 0)]

    first = originals(held)
    rest = after(held, 4)  # the records at 0..3 went into a batch; 4..10 are left

    assert [first(index) for index in range(4)] == [
        {"page": 0, "at": 1}, {"page": 0, "at": 2}, {"page": 1, "at": 0}, {"page": 1, "at": 1},
    ]  # fmt: skip
    assert [(span.start, span.first) for span in rest] == [(0, 2), (1, 0), (4, 0)]
    assert [originals(rest)(index) for index in range(7)] == [
        {"page": 1, "at": 2}, {"page": 2, "at": 0}, {"page": 2, "at": 1}, {"page": 2, "at": 2},
        {"page": 3, "at": 0}, {"page": 3, "at": 1}, {"page": 3, "at": 2},
    ]  # fmt: skip


def test_a_page_is_parsed_again_once_however_many_of_its_records_are_asked_for() -> None:
    parsed = []

    def parse() -> list[dict[str, int]]:
        parsed.append(1)
        return [{"at": at} for at in range(3)]

    page = PageAgain(parse)

    assert [page.record(2), page.record(0)] == [{"at": 2}, {"at": 0}]
    assert len(parsed) == 1
