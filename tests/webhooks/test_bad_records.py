"""One hostile record in a webhook event fails alone; the event's other records land (SPEC 8; issue 17 item 1).

A lone surrogate (which JSON's ``\\ud800`` escape carries), nesting deeper than any system takes, and a NUL
byte in a key (which PostgreSQL text cannot hold) each used to crash the run outside per-record handling,
so the event stayed pending for ever and blocked every later one.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.webhooks.conftest import InProcessFactory, WebhookProject, contact


def _nested(levels: int) -> Any:
    value: Any = "x"
    for _ in range(levels):
        value = {"a": value}
    return value


BAD_RECORDS = {
    "a lone surrogate": (contact(2, name="Bad \ud800 name"), "2", "not valid Unicode"),
    "nesting 300 levels deep": (contact(2) | {"name": _nested(300)}, "2", "nested deeper than 254 levels"),
    "a NUL byte in the key": ({"id": "2\x00x", "name": "n", "email": "e@example.com"}, "2\\x00x", "NUL byte"),
    "a lone surrogate in the key": ({"id": "2\udc80", "name": "n", "email": "e@example.com"}, "2\\udc80", "not valid"),
}


@pytest.mark.parametrize("bad", list(BAD_RECORDS))
async def test_a_hostile_record_fails_alone_and_the_events_after_it_are_processed(
    in_process: InProcessFactory, state_project: WebhookProject, bad: str
) -> None:
    record, stored_key, cause = BAD_RECORDS[bad]
    app = await in_process(state_project)

    first = (await app.send("local", {"items": [contact(1), record, contact(3)]})).json()["event_id"]
    [event] = await app.settled(first)
    later = (await app.send("local", {"items": [contact(4)]})).json()["event_id"]
    [after] = await app.settled(later)

    assert event["status"] == "failed" and cause in event["error"]
    assert after["status"] == "processed"
    assert [row[0] for row in app.project.customers()] == [1, 3, 4]
    await app.idle("local")
    runs = await app.runs("local")
    assert [run["status"] for run in runs] == ["succeeded", "partial"]
    assert runs[1]["counts"]["failed"] == 1 and runs[1]["counts"]["created"] == 2
    letters = (await app.api.get("/api/v1/dead-letters", params={"sync": "local"})).json()["items"]
    assert [(letter["source_key"], cause in letter["error"]) for letter in letters] == [(stored_key, True)]
    sync = (await app.api.get("/api/v1/syncs/local")).json()
    assert sync["status"] == "idle" and sync["dead_letters"] == 1
