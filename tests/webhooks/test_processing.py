"""What happens to a stored event: processed at once in a webhook run, replayed on demand, failed visibly,
turned into deletes, held while its sync is paused or busy (SPEC 5, 7; issue 6, item 5)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from app.engine import webhook_run as events_module
from app.engine.one_way_run import OneWayRun
from app.engine.pipeline import ReadAhead
from app.engine.writing import write_plan
from connectors.base import Batch
from tests.service.conftest import eventually
from tests.webhooks.conftest import InProcess, InProcessFactory, WebhookProject, contact, make_project


async def _accepted(app: InProcess, system: str, payload: object, headers: dict[str, str] | None = None) -> str:
    answer = await app.send(system, payload, headers)
    assert answer.status_code == 202, answer.text
    event_id: str = answer.json()["event_id"]
    return event_id


async def _json(app: InProcess, method: str, path: str, expect: int = 200, **options: Any) -> Any:
    answer = await app.api.request(method, path, **options)
    assert answer.status_code == expect, f"{method} {path}: {answer.status_code} {answer.text}"
    return answer.json()


async def _log(app: InProcess, sync: str, key: int) -> list[str]:
    """The actions of a record's log entries, oldest first."""
    story = await _json(app, "GET", f"/api/v1/syncs/{sync}/records/{key}")
    return [entry["action"] for entry in reversed(story["log"])]


async def test_a_replayed_event_is_processed_again_with_the_mapping_of_now(in_process: InProcessFactory) -> None:
    app = await in_process()
    event_id = await _accepted(app, "local", {"items": [contact(1), contact(2)]})
    await app.settled(event_id)
    assert app.project.customers() == [(1, "Name 1", "p1@example.com"), (2, "Name 2", "p2@example.com")]

    app.project.write_sync("local", name='"{{ record.name | upper }}"')
    assert await _json(app, "POST", "/api/v1/config/reload") is not None
    replayed = await _json(app, "POST", f"/api/v1/webhook-events/{event_id}/replay", 202)

    assert replayed["id"] == int(event_id) and replayed["status"] == "pending"
    await eventually(
        lambda: app.project.customers() == [(1, "NAME 1", "p1@example.com"), (2, "NAME 2", "p2@example.com")],
        10,
        "the replay to write the new mapping's output",
    )
    [event] = await app.settled(event_id)
    assert event["status"] == "processed" and event["records"] == 2
    assert await _log(app, "local", 1) == ["created", "updated"]
    await app.idle("local")
    runs = await app.runs("local")
    assert [(run["trigger"], run["counts"]["updated"]) for run in runs] == [("webhook", 2), ("webhook", 0)]
    assert await app.metric("brygga_webhook_events_total", system="local", outcome="processed") == 2


async def test_replaying_an_unknown_event_is_404(in_process: InProcessFactory) -> None:
    app = await in_process()

    answer = await app.api.post("/api/v1/webhook-events/12345/replay")

    assert answer.status_code == 404
    assert answer.json() == {"detail": "no webhook event with id 12345"}


async def test_an_event_with_a_record_that_fails_is_failed_with_its_error_and_the_record_is_a_dead_letter(
    in_process: InProcessFactory,
) -> None:
    app = await in_process()

    event_id = await _accepted(app, "local", {"items": [contact(1), {"id": 2, "name": "No Mail"}, contact(3)]})

    [event] = await app.settled(event_id)
    assert event["status"] == "failed"
    assert "record 2" in event["error"] and "email" in event["error"] and "required" in event["error"]
    assert [row[0] for row in app.project.customers()] == [1, 3]  # the others are written all the same
    letters = await _json(app, "GET", "/api/v1/dead-letters", params={"sync": "local"})
    assert [(letter["source_key"], "email" in letter["error"]) for letter in letters["items"]] == [("2", True)]
    await app.idle("local")
    [run] = await app.runs("local")
    assert (run["trigger"], run["status"], run["counts"]["created"], run["counts"]["failed"]) == (
        "webhook", "partial", 2, 1,
    )  # fmt: skip
    failed = await _json(app, "GET", f"/api/v1/runs/{run['id']}/records")
    assert [(entry["source_key"], entry["action"]) for entry in failed["items"] if entry["action"] == "failed"] == [
        ("2", "failed")
    ]

    fixed = await _accepted(app, "local", {"items": [{"id": 2, "name": "No Mail", "email": "p2@example.com"}]})
    [later] = await app.settled(fixed)
    assert later["status"] == "processed" and later["error"] is None
    assert (await _json(app, "GET", "/api/v1/dead-letters", params={"sync": "local"}))["items"] == []
    assert (await app.event(event_id))["status"] == "failed"  # its story stays as it was


async def test_delete_when_turns_an_event_into_deletes(in_process: InProcessFactory) -> None:
    app = await in_process()
    await app.settled(await _accepted(app, "local", {"action": "created", "items": [contact(1), contact(2)]}))

    deleting = await _accepted(app, "local", {"action": "deleted", "items": [{"id": 1}, {"id": 99}]})

    [event] = await app.settled(deleting)
    assert event["status"] == "processed"
    assert app.project.customers() == [(2, "Name 2", "p2@example.com")]
    assert await _log(app, "local", 1) == ["created", "deleted"]
    assert (await _json(app, "GET", "/api/v1/syncs/local/records/1"))["id_map"] is None
    await app.idle("local")
    newest = (await app.runs("local"))[0]
    assert newest["counts"] | {"read": 2} == {
        "read": 2, "created": 0, "updated": 0, "deleted": 1, "unchanged": 0, "skipped": 1, "failed": 0,
    }  # fmt: skip


async def test_events_wait_while_their_sync_is_paused_and_are_processed_in_order_when_it_resumes(
    in_process: InProcessFactory,
) -> None:
    app = await in_process()
    await _json(app, "POST", "/api/v1/syncs/local/pause")

    sent = [
        await _accepted(app, "local", {"action": "created", "items": [contact(3), contact(4)]}),
        await _accepted(app, "local", {"action": "deleted", "items": [{"id": 3}]}),
        await _accepted(app, "local", {"action": "created", "items": [contact(3, "Back")]}),
        await _accepted(app, "local", {"action": "updated", "items": [contact(4, "Changed")]}),
    ]

    await app.idle("local")  # every wake-up has given up: the sync is paused
    assert {event["status"] for event in await app.events()} == {"pending"}
    assert await app.runs("local") == []
    assert app.project.customers() == []

    resumed = await _json(app, "POST", "/api/v1/syncs/local/resume")

    assert resumed["paused"] is False
    assert {event["status"] for event in await app.settled(*sent)} == {"processed"}
    assert app.project.customers() == [(3, "Back", "p3@example.com"), (4, "Changed", "p4@example.com")]
    assert await _log(app, "local", 3) == ["created", "deleted", "created"]
    await app.idle("local")
    assert {run["trigger"] for run in await app.runs("local")} == {"webhook"}


async def test_events_that_come_while_another_run_goes_on_are_processed_right_after_it(
    in_process: InProcessFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = await in_process()
    entered, release = asyncio.Event(), asyncio.Event()
    read_source = OneWayRun._read_source

    async def held(run: OneWayRun, batches: ReadAhead[Batch]) -> None:
        entered.set()
        await release.wait()
        await read_source(run, batches)

    monkeypatch.setattr(OneWayRun, "_read_source", held)
    manual = (await _json(app, "POST", "/api/v1/syncs/local/runs", 202))["run_id"]
    await asyncio.wait_for(entered.wait(), 10)

    sent = [await _accepted(app, "local", {"items": [contact(n)]}) for n in (1, 2)]

    await app.service.webhooks.close()  # their wake-ups found the sync busy
    assert {event["status"] for event in await app.events()} == {"pending"}
    assert (await _json(app, "GET", "/api/v1/syncs/local"))["status"] == "running"
    release.set()
    await app.settled(*sent)
    assert [row[0] for row in app.project.customers()] == [1, 2]
    await app.idle("local")
    webhook_run, manual_run = await app.runs("local")
    assert manual_run["id"] == manual and manual_run["trigger"] == "manual"
    assert webhook_run["trigger"] == "webhook" and webhook_run["counts"]["created"] == 2
    assert webhook_run["started_at"] >= manual_run["finished_at"]


async def test_events_that_come_while_a_webhook_run_writes_are_taken_by_that_run(
    in_process: InProcessFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = await in_process()
    entered, release = asyncio.Event(), asyncio.Event()

    async def held(*args: Any) -> Any:
        entered.set()
        await release.wait()
        return await write_plan(*args)

    monkeypatch.setattr(events_module, "write_plan", held)
    first = await _accepted(app, "local", {"items": [contact(1)]})
    await asyncio.wait_for(entered.wait(), 10)

    later = [await _accepted(app, "local", {"items": [contact(n)]}) for n in (2, 3, 4)]

    await app.service.webhooks.close()
    release.set()
    await app.settled(first, *later)
    assert [row[0] for row in app.project.customers()] == [1, 2, 3, 4]
    await app.idle("local")
    [run] = await app.runs("local")  # the run that was going looked again before it ended
    assert run["counts"]["created"] == 4
    assert app.project.state.rows("SELECT DISTINCT run_id FROM webhook_progress") == [(run["id"],)]


def _weighted(root: WebhookProject) -> WebhookProject:
    root.write(delete_when="{{ 1 / event.weight < 0 }}")
    return root


async def test_an_event_whose_delete_when_fails_fails_alone(in_process: InProcessFactory, tmp_path: Any) -> None:
    app = await in_process(_weighted(make_project(tmp_path / "weighted")))

    poison = await _accepted(app, "local", {"weight": 0, "items": [contact(1)]})
    kept = await _accepted(app, "local", {"weight": 1, "items": [contact(2), contact(3)]})
    deleted = await _accepted(app, "local", {"weight": -1, "items": [{"id": 3}]})

    events = await app.settled(poison, kept, deleted)
    assert [event["status"] for event in events] == ["failed", "processed", "processed"]
    assert "delete_when" in events[0]["error"] and "ZeroDivisionError" in events[0]["error"]
    assert app.project.customers() == [(2, "Name 2", "p2@example.com")]


async def test_delete_when_reads_a_boolean_word_in_the_body_as_that_boolean(
    in_process: InProcessFactory, tmp_path: Any
) -> None:
    """``"deleted": "false"`` is text that is not empty, which Jinja takes for true: the record was deleted."""
    root = make_project(tmp_path / "flagged")
    root.write(delete_when="{{ event.deleted }}")
    app = await in_process(root)
    await app.settled(await _accepted(app, "local", {"items": [contact(1), contact(2)]}))

    kept = await _accepted(app, "local", {"deleted": "false", "items": [contact(1)]})
    also_kept = await _accepted(app, "local", {"deleted": " No ", "items": [contact(2)]})
    deleting = await _accepted(app, "local", {"deleted": "true", "items": [{"id": 2}]})

    events = await app.settled(kept, also_kept, deleting)
    assert [event["status"] for event in events] == ["processed"] * 3
    assert app.project.customers() == [(1, "Name 1", "p1@example.com")]


async def test_webhook_events_are_listed_newest_first_page_by_page_and_by_system(in_process: InProcessFactory) -> None:
    app = await in_process()
    ids = [await _accepted(app, "local", {"items": [contact(n)]}) for n in (1, 2, 3)]
    other = await _accepted(app, "tokened", contact(4))
    await app.settled(*ids, other)

    first = await _json(app, "GET", "/api/v1/webhook-events", params={"system": "local", "limit": 2})
    rest = await _json(app, "GET", "/api/v1/webhook-events", params={"system": "local", "cursor": first["next"]})

    assert [event["id"] for event in first["items"] + rest["items"]] == [int(n) for n in reversed(ids)]
    assert rest["next"] is None
    assert {event["system"] for event in first["items"] + rest["items"]} == {"local"}
    assert set(first["items"][0]) == {"id", "system", "received_at", "records", "status", "error"}
    anonymous = await app.hooks.get("/api/v1/webhook-events")
    assert anonymous.status_code == 401


async def test_metrics_count_accepted_duplicate_rejected_and_processed_events(in_process: InProcessFactory) -> None:
    app = await in_process()
    await app.settled(await _accepted(app, "signed", {"data": contact(1)}, {"webhook-id": "msg_1"}))
    await _accepted(app, "signed", {"data": contact(1)}, {"webhook-id": "msg_1"})
    await app.settled(await _accepted(app, "signed", {"data": {"id": 2}}))  # fails a record: processed all the same
    refusals = [
        ("signed", {"webhook-signature": "v1,AAAA"}, 401),
        ("signed", {"webhook-signature": "v1,AAAA"}, 401),
        ("tokened", {"authorization": "Bearer wrong"}, 401),
        ("nobody", {}, 404),
    ]
    for system, headers, status in refusals:
        assert (await app.send(system, {"data": contact(3)}, headers)).status_code == status
    assert (await app.send("small", {"id": 5, "padding": "x" * 2000})).status_code == 413
    await app.idle("signed")

    text = (await app.hooks.get("/metrics")).text

    expected = {
        ("signed", "accepted"): 2, ("signed", "duplicate"): 1, ("signed", "processed"): 2,
        ("signed", "rejected: bad signature"): 2, ("tokened", "rejected: bad token"): 1,
        ("(unknown)", "rejected: unknown system"): 1, ("small", "rejected: too large"): 1,
    }  # fmt: skip
    found = {
        (line.split('system="')[1].split('"')[0], line.split('outcome="')[1].split('"')[0]): float(line.split()[-1])
        for line in text.splitlines()
        if line.startswith("brygga_webhook_events_total{")
    }
    assert found == expected


async def test_thin_events_fetch_their_records_and_each_event_answers_for_its_own(in_process: InProcessFactory) -> None:
    app = await in_process()
    app.project.crm.insert("contacts", [contact(1, "Fresh"), contact(2, "Also fresh")])
    await _json(app, "POST", "/api/v1/syncs/shop/pause")  # the events go in one round, one group
    gone = await _accepted(app, "shop", {"changed": [{"id": 5}]})
    found = await _accepted(app, "shop", {"changed": [{"id": 1, "name": "stale"}, {"id": 2}]})
    await app.idle("shop")

    await _json(app, "POST", "/api/v1/syncs/shop/resume")

    missing, fetched = await app.settled(gone, found)
    assert missing["status"] == "failed" and "shop.contacts has no record 5" in missing["error"]
    assert (fetched["status"], fetched["error"]) == ("processed", None)
    assert app.project.customers() == [(1, "Fresh", "p1@example.com"), (2, "Also fresh", "p2@example.com")]


async def test_events_waiting_for_a_target_that_is_down_say_why(in_process: InProcessFactory) -> None:
    """While the target cannot be reached the sync turns failing; its events stayed pending with no error."""
    app = await in_process()
    erp = app.project.root / "erp.db"
    erp.rename(app.project.root / "erp.db.away")

    waiting = await _accepted(app, "local", {"action": "created", "items": [contact(1)]})
    await app.idle("local")

    event = await app.event(waiting)
    assert event["status"] == "pending"
    assert "erp.db does not exist" in (event["error"] or ""), event
    (app.project.root / "erp.db.away").rename(erp)
