"""One hostile record in a webhook event fails alone; the event's other records land (SPEC 8; issue 17 item 1).

A lone surrogate (which JSON's ``\\ud800`` escape carries) and a NUL byte or a lone surrogate in a key
(which PostgreSQL text cannot hold) each used to crash the run outside per-record handling, so the event
stayed pending for ever and blocked every later one. (A record nested too deep fails alone
too: test_odd_items.py.)
"""

from __future__ import annotations

import pytest

from tests.webhooks.conftest import InProcessFactory, WebhookProject, contact

BAD_RECORDS = {
    "a lone surrogate": (contact(2, name="Bad \ud800 name"), "2", "not valid Unicode"),
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


async def test_numbers_in_an_event_keep_their_exact_value(in_process: InProcessFactory) -> None:
    app = await in_process()
    body = b'{"items": [{"id": 1, "name": 1e400, "email": "a@example.com"}, {"id": 2, "name": '
    body += b'123456789012345678901234567890, "email": "b@example.com"}]}'

    event_id = (await app.send("local", body)).json()["event_id"]
    [event] = await app.settled(event_id)

    assert event["status"] == "processed", event
    assert app.project.customers() == [
        (1, "1E+400", "a@example.com"),
        (2, "123456789012345678901234567890", "b@example.com"),
    ]
