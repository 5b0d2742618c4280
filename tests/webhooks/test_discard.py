"""Discarding a webhook event through the API: ``DELETE /api/v1/webhook-events/{id}`` sets a pending or
failed event aside for good, visibly and logged (issue 17: "a failed event can be discarded through the API")."""

from __future__ import annotations

import logging

import pytest

from tests.webhooks.conftest import InProcess, InProcessFactory, WebhookProject, contact


async def _accepted(app: InProcess, payload: object) -> int:
    answer = await app.send("local", payload)
    assert answer.status_code == 202, answer.text
    return int(answer.json()["event_id"])


async def test_a_discarded_pending_event_is_never_processed(
    in_process: InProcessFactory, state_project: WebhookProject, caplog: pytest.LogCaptureFixture
) -> None:
    app = await in_process(state_project)
    assert (await app.api.post("/api/v1/syncs/local/pause")).status_code == 200
    kept, dropped = await _accepted(app, {"items": [contact(1)]}), await _accepted(app, {"items": [contact(2)]})
    await app.idle("local")

    with caplog.at_level(logging.INFO, logger="brygga.webhooks"):
        answer = await app.api.delete(f"/api/v1/webhook-events/{dropped}")

    assert (answer.status_code, answer.content) == (204, b"")
    assert [(event["id"], event["status"]) for event in await app.events()] == [
        (dropped, "discarded"),
        (kept, "pending"),
    ]
    assert any(
        f"webhook event {dropped} from local (pending) discarded by ops" in record.getMessage()
        for record in caplog.records
    )
    assert (await app.api.post("/api/v1/syncs/local/resume")).status_code == 200
    [processed] = await app.settled(kept)
    assert processed["status"] == "processed"
    await app.idle("local")
    assert [row[0] for row in app.project.customers()] == [1], "the discarded event's record is not written"
    assert (await app.event(dropped))["status"] == "discarded"
    assert await app.service.store.inbox.syncs_with_pending() == set(), "no sync waits for it"
    assert await app.metric("brygga_webhook_events_total", system="local", outcome="discarded") == 1


async def test_a_failed_event_is_discarded_and_then_refuses_a_replay(in_process: InProcessFactory) -> None:
    app = await in_process()
    failing = await _accepted(app, {"items": [{"id": 2, "name": "No Mail"}]})
    [event] = await app.settled(failing)
    assert event["status"] == "failed"

    assert (await app.api.delete(f"/api/v1/webhook-events/{failing}")).status_code == 204
    again = await app.api.delete(f"/api/v1/webhook-events/{failing}")
    replay = await app.api.post(f"/api/v1/webhook-events/{failing}/replay")

    assert again.status_code == 204, "discarding twice is no error"
    assert (replay.status_code, replay.json()) == (
        409,
        {"detail": f"webhook event {failing} was discarded: it is not processed again"},
    )
    discarded = await app.event(failing)
    assert (discarded["status"], "email" in discarded["error"]) == ("discarded", True), "its error is kept"
    await app.idle("local")
    assert app.project.customers() == []


async def test_discarding_an_unknown_or_processed_event_or_without_a_token_is_refused(
    in_process: InProcessFactory,
) -> None:
    app = await in_process()
    done = await _accepted(app, {"items": [contact(1)]})
    await app.settled(done)

    unknown = await app.api.delete("/api/v1/webhook-events/12345")
    processed = await app.api.delete(f"/api/v1/webhook-events/{done}")
    anonymous = await app.hooks.delete(f"/api/v1/webhook-events/{done}")
    too_big = await app.api.delete(f"/api/v1/webhook-events/{2**64}")

    assert (unknown.status_code, unknown.json()) == (404, {"detail": "no webhook event with id 12345"})
    assert processed.status_code == 409 and "processed already" in processed.json()["detail"]
    assert anonymous.status_code == 401
    assert too_big.status_code == 404 and too_big.json()["detail"].startswith("not found: no such id")
    assert (await app.event(done))["status"] == "processed"
