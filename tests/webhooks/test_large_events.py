"""Large events in a webhook run: their records go in batches of the source's ``batch_size`` (an event over
several batches, its outcome committed with its last record), and each body is parsed off the event loop,
so the service answers while a run works through a flood (SPEC 5, 8: memory stays flat in the records)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

import pytest

from app.engine import webhook_checks
from app.engine import webhook_run as events_module
from app.engine.planning import plan_batch
from app.engine.webhook_checks import parse_json
from app.records import Record
from tests.webhooks.conftest import InProcess, InProcessFactory, contact, make_project

WAIT = 15.0


async def _accepted(app: InProcess, payload: object) -> str:
    answer = await app.send("local", payload)
    assert answer.status_code == 202, answer.text
    event_id: str = answer.json()["event_id"]
    return event_id


async def test_an_event_s_records_go_in_batches_and_its_outcome_with_its_last_record(
    in_process: InProcessFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    project = make_project(tmp_path / "batches")
    text = project.file.read_text(encoding="utf-8")
    project.file.write_text(text.replace("  local:\n    connector: webhook\n", "  local:\n    connector: webhook\n"
                                         "    batch_size: 2\n"), encoding="utf-8")  # fmt: skip
    planned: list[int] = []

    async def counted(parts: Any, records: Sequence[Record], *args: Any, **options: Any) -> Any:
        planned.append(len(records))
        return await plan_batch(parts, records, *args, **options)

    monkeypatch.setattr(events_module, "plan_batch", counted)
    app = await in_process(project)
    assert (await app.api.post("/api/v1/syncs/local/pause")).status_code == 200
    large = [contact(1), contact(2), contact(3), {"id": 4, "name": "No Mail"}, contact(5)]
    sent = [
        await _accepted(app, {"items": large}),
        await _accepted(app, {"items": [contact(6)]}),
        await _accepted(app, {"items": []}),
    ]
    await app.idle("local")

    assert (await app.api.post("/api/v1/syncs/local/resume")).status_code == 200
    events = await app.settled(*sent)

    assert planned == [2, 2, 2, 0]  # 1-2, 3-4, then 5 with the next event's 6; the empty event last
    assert [event["status"] for event in events] == ["failed", "processed", "processed"]
    assert "record 4" in events[0]["error"]
    assert [row[0] for row in app.project.customers()] == [1, 2, 3, 5, 6]
    await app.idle("local")
    [run] = await app.runs("local")
    assert (run["counts"]["created"], run["counts"]["failed"]) == (5, 1)


async def test_the_service_answers_while_a_run_parses_an_event(
    in_process: InProcessFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered, release = threading.Event(), threading.Event()
    threads: list[threading.Thread] = []

    def held(text: str) -> Any:
        threads.append(threading.current_thread())
        if len(threads) > 1:  # the first parse is the delivery's check, answered before the run starts
            entered.set()
            assert release.wait(WAIT), "the test never let the parse go on"
        return parse_json(text)

    monkeypatch.setattr(webhook_checks, "parse_json", held)
    app = await in_process()
    try:
        event_id = await _accepted(app, {"items": [contact(n) for n in range(1, 1001)]})
        assert await asyncio.to_thread(entered.wait, WAIT), "the run never parsed the event"

        health = await app.hooks.get("/health")
        pending = (await app.event(event_id))["status"]
    finally:
        release.set()

    assert health.status_code == 200
    assert pending == "pending"
    assert threads[1] is not threading.main_thread(), "the run parsed the event on the event loop"
    [event] = await app.settled(event_id)
    assert event["status"] == "processed"
    assert len(app.project.customers()) == 1000
