"""The same delivery twice (same webhook-id, X-GitHub-Delivery or Idempotency-Key) is answered 202 both times,
with the same event, and processed once (SPEC 5; issue 6, item 2)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.webhooks.conftest import InProcess, InProcessFactory, WebhookProject, contact

DELIVERY_HEADERS = [
    ("signed", "webhook-id", {"data": contact(1)}),
    ("hub", "X-GitHub-Delivery", {"action": "created", "contact": contact(1)}),
    ("tokened", "Idempotency-Key", contact(1)),
    ("local", "Idempotency-Key", {"items": [contact(1)]}),
]


async def _read_counts(app: InProcess, sync: str) -> int:
    """Records read by every run of ``sync``: each processing of an event reads its records."""
    await app.idle(sync)
    return sum(run["counts"]["read"] for run in await app.runs(sync))


async def _story(app: InProcess, sync: str, key: int) -> dict[str, Any]:
    answer = await app.api.get(f"/api/v1/syncs/{sync}/records/{key}")
    assert answer.status_code == 200, answer.text
    story: dict[str, Any] = answer.json()
    return story


async def _barrier(app: InProcess, system: str, payload: object) -> None:
    """Send a new delivery and wait until it is processed: events are taken in order, so anything the
    deliveries before it left pending has been processed by then too."""
    answer = await app.send(system, payload)
    assert answer.status_code == 202, answer.text
    await app.settled(answer.json()["event_id"])


@pytest.mark.parametrize(
    ("system", "header", "payload"), DELIVERY_HEADERS, ids=[f"{s} {h}" for s, h, _ in DELIVERY_HEADERS]
)
async def test_a_delivery_sent_twice_is_processed_once(
    in_process: InProcessFactory, system: str, header: str, payload: object
) -> None:
    app = await in_process()
    headers = {header: "delivery-0001"}

    first = await app.send(system, payload, headers)
    assert first.status_code == 202, first.text
    await app.settled(first.json()["event_id"])
    again = await app.send(system, payload, headers)  # the sender did not see the first 202: it sends again

    assert again.status_code == 202, again.text
    assert again.json() == first.json()
    barrier = contact(2) if system == "tokened" else {"data": contact(2), "contact": contact(2), "items": [contact(2)]}
    await _barrier(app, system, barrier)
    events = await app.events()
    assert [(event["id"], event["status"]) for event in events[1:]] == [(int(first.json()["event_id"]), "processed")]
    assert len(events) == 2
    assert await _read_counts(app, system) == 2  # the first delivery and the barrier: the repeat was not read
    assert [entry["action"] for entry in (await _story(app, system, 1))["log"]] == ["created"]
    assert app.project.customers() == [(1, "Name 1", "p1@example.com"), (2, "Name 2", "p2@example.com")]
    assert app.project.state.rows("SELECT count(*) FROM webhook_progress") == [(2,)]
    assert await app.metric("brygga_webhook_events_total", system=system, outcome="accepted") == 2
    assert await app.metric("brygga_webhook_events_total", system=system, outcome="duplicate") == 1


async def test_the_same_delivery_sent_at_once_many_times_is_one_event(
    in_process: InProcessFactory, state_project: WebhookProject
) -> None:
    """A sender that times out and retries at once: the copies race each other into the inbox."""
    app = await in_process(state_project)

    answers = await asyncio.gather(
        *(app.send("signed", {"data": contact(1)}, {"webhook-id": "msg_racing"}) for _ in range(12))
    )

    assert [answer.status_code for answer in answers] == [202] * 12, [answer.text for answer in answers]
    assert len({answer.json()["event_id"] for answer in answers}) == 1
    await app.settled(answers[0].json()["event_id"])
    await _barrier(app, "signed", {"data": contact(2)})
    assert len(await app.events()) == 2
    assert await _read_counts(app, "signed") == 2
    assert [entry["action"] for entry in (await _story(app, "signed", 1))["log"]] == ["created"]
    assert await app.metric("brygga_webhook_events_total", system="signed", outcome="duplicate") == 11


async def test_a_delivery_id_is_one_system_s_own(in_process: InProcessFactory) -> None:
    """Two systems may happen to use the same id for different deliveries: both are events."""
    app = await in_process()

    local = await app.send("local", {"items": [contact(1)]}, {"Idempotency-Key": "42"})
    token = await app.send("tokened", contact(2), {"Idempotency-Key": "42"})

    assert local.status_code == token.status_code == 202
    assert local.json()["event_id"] != token.json()["event_id"]
    await app.settled(local.json()["event_id"], token.json()["event_id"])
    assert [row[0] for row in app.project.customers()] == [1, 2]


async def test_deliveries_without_an_id_are_each_an_event(in_process: InProcessFactory) -> None:
    app = await in_process()

    answers = [await app.send("local", {"items": [contact(1)]}) for _ in range(2)]

    assert len({answer.json()["event_id"] for answer in answers}) == 2
    await app.settled(*(answer.json()["event_id"] for answer in answers))
    assert await _read_counts(app, "local") == 2  # both read; the second changed nothing
    assert [entry["action"] for entry in (await _story(app, "local", 1))["log"]] == ["created"]


@pytest.mark.parametrize(
    ("system", "header", "payload"), DELIVERY_HEADERS, ids=[f"{s} {h}" for s, h, _ in DELIVERY_HEADERS]
)
async def test_a_delivery_id_sent_again_with_another_body_is_refused_409_and_nothing_stored(
    in_process: InProcessFactory, system: str, header: str, payload: Any
) -> None:
    """A sender giving one id to several events (an Idempotency-Key per record, not per change) had every
    event after the first answered 202 and dropped: the target never saw the change, nothing said so."""
    app = await in_process()
    headers = {header: "customer-1"}
    first = await app.send(system, payload, headers)
    assert first.status_code == 202, first.text
    await app.settled(first.json()["event_id"])
    changed = _renamed(payload, "Name changed")

    again = await app.send(system, changed, headers)

    assert again.status_code == 409, again.text
    detail = again.json()["detail"]
    assert "'customer-1'" in detail and f"event {first.json()['event_id']}" in detail and "new id" in detail
    assert len(await app.events()) == 1
    assert app.project.customers() == [(1, "Name 1", "p1@example.com")]
    assert await app.metric("brygga_webhook_events_total", system=system, outcome="rejected: id reused") == 1
    assert await app.metric("brygga_webhook_events_total", system=system, outcome="duplicate") == 0


async def test_the_same_delivery_written_apart_is_still_the_same_delivery(
    in_process: InProcessFactory, state_project: WebhookProject
) -> None:
    """A sender that serialises its retry anew (other spacing, other key order) sends the same JSON: 202, one event."""
    app = await in_process(state_project)
    first = await app.send(
        "signed", b'{"data": {"id": 1, "name": "Name 1", "email": "p1@example.com"}}', {"webhook-id": "m1"}
    )
    assert first.status_code == 202, first.text

    again = await app.send(
        "signed", b'{"data":{"email":"p1@example.com","name":"Name 1","id":1}}', {"webhook-id": "m1"}
    )
    other = await app.send(
        "signed", b'{"data":{"email":"p1@example.com","name":"Name 2","id":1}}', {"webhook-id": "m1"}
    )

    assert again.status_code == 202, again.text
    assert again.json() == first.json()
    assert other.status_code == 409, other.text
    await app.settled(first.json()["event_id"])
    assert len(await app.events()) == 1
    assert app.project.customers() == [(1, "Name 1", "p1@example.com")]


def _renamed(payload: Any, name: str) -> Any:
    """``payload`` with its contact's name changed, wherever the contact sits."""
    if isinstance(payload, dict) and "id" in payload:
        return {**payload, "name": name}
    if isinstance(payload, dict):
        return {field: _renamed(value, name) for field, value in payload.items()}
    if isinstance(payload, list):
        return [_renamed(item, name) for item in payload]
    return payload
