"""A two-way sync through the HTTP API, in-process: how it lists, its runs' counts per direction and
conflicts, its log entries' directions, /metrics, and a webhook event from one side settling its pair."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.api.app import create_app
from app.engine.settings import ServiceSettings
from tests.engine.two_way_project import TwoWayProject, make_two_way_project
from tests.service.conftest import eventually
from tests.webhooks.conftest import aftermath, metric_value


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[TwoWayProject, httpx.AsyncClient]]:
    project = make_two_way_project(tmp_path)
    text = project.file.read_text()
    text = text.replace(
        "      contacts: {table: contacts, key: id, cursor: updated_at, delete: hard}\n",
        "      contacts: {table: contacts, key: id, cursor: updated_at, delete: hard}\n"
        "    webhook: {verify: none, stream: contacts}\n",
    )
    project.file.write_text(text)
    sync = (tmp_path / "mappings" / "crm-erp.yaml").read_text()
    (tmp_path / "mappings" / "crm-erp.yaml").write_text("webhook: true\n" + sync)
    project.crm.insert([{"id": n, "email": f"c{n}@crm.se", "phone": "1", "name": f"C {n}"} for n in (1, 2)])
    settings = ServiceSettings(config=project.file, lease_ttl=timedelta(seconds=5), shutdown_grace=timedelta(seconds=3))
    app = create_app(settings, environ={})
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    client = httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000", timeout=10)
    try:
        yield project, client
    finally:
        await aftermath()
        await client.aclose()
        await lifespan.__aexit__(None, None, None)


async def run_now(client: httpx.AsyncClient) -> dict[str, Any]:
    started = await client.post("/api/v1/syncs/crm-erp/runs")
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    found: dict[str, Any] = {}

    async def finished() -> bool:
        found.update((await client.get(f"/api/v1/runs/{run_id}")).json())
        return bool(found["status"] != "running")

    await eventually(finished, 10, f"run {run_id} to finish")
    return found


async def test_a_two_way_sync_and_its_runs_through_the_api(
    served: tuple[TwoWayProject, httpx.AsyncClient],
) -> None:
    project, client = served

    listed = (await client.get("/api/v1/syncs/crm-erp")).json()
    first = await run_now(client)
    project.crm.execute("UPDATE contacts SET name = 'CRM name' WHERE id = 1")
    project.erp.execute("UPDATE customers SET name = 'ERP name' WHERE customer_no = 1")
    second = await run_now(client)
    log = (await client.get(f"/api/v1/runs/{second['id']}/records")).json()["items"]
    metrics = (await client.get("/metrics")).text
    story = (await client.get("/api/v1/syncs/crm-erp/records/1")).json()

    assert (listed["mode"], listed["source"], listed["target"]) == ("two_way", "crm.contacts", "erp.customers")
    assert first["status"] == "succeeded", first["error"]
    assert first["counts_by_direction"]["to_b"]["created"] == 2
    assert first["counts_by_direction"]["to_a"]["created"] == 0
    assert first["conflicts"] == 0
    assert second["conflicts"] == 1
    conflict = [entry for entry in log if entry["action"] == "conflict"]
    assert [(entry["direction"], entry["conflict"]) for entry in conflict] == [
        ("to_b", {"field": "name", "a": "CRM name", "b": "ERP name", "winner": "a"})
    ]
    assert {entry["direction"] for entry in log} <= {"to_a", "to_b"}
    assert project.erp.records(["name"])[1] == {"name": "CRM name"}
    assert metric_value(metrics, "brygga_conflicts_total", sync="crm-erp") == 1
    assert story["id_map"]["target_key"] == "1"
    assert [entry["action"] for entry in story["log"]] == ["updated", "conflict", "created"]


async def test_a_webhook_event_from_one_side_settles_its_pair(served: tuple[TwoWayProject, httpx.AsyncClient]) -> None:
    project, client = served
    await run_now(client)
    project.crm.execute("UPDATE contacts SET email = 'pushed@crm.se' WHERE id = 2")

    answer = await client.post("/webhooks/crm", json={"id": 2})

    assert answer.status_code == 202, answer.text

    async def carried() -> bool:
        return project.erp.records(["email"])[2] == {"email": "pushed@crm.se"}

    await eventually(carried, 10, "the pushed change to reach the ERP")
    runs = (await client.get("/api/v1/runs", params={"sync": "crm-erp"})).json()["items"]
    assert runs[0]["trigger"] == "webhook"


async def test_an_event_item_that_is_no_record_does_not_stop_its_siblings_pair(
    served: tuple[TwoWayProject, httpx.AsyncClient],
) -> None:
    """An item that is no record used to get the whole delivery refused (400); its siblings' pairs settle now,
    and the event's outcome names the odd item."""
    project, client = served
    await run_now(client)
    project.crm.execute("UPDATE contacts SET email = 'pushed@crm.se' WHERE id = 2")

    answer = await client.post("/webhooks/crm", json=[7, {"id": 2}])

    assert answer.status_code == 202, answer.text

    async def carried() -> bool:
        return project.erp.records(["email"])[2] == {"email": "pushed@crm.se"}

    await eventually(carried, 10, "the pushed change to reach the ERP")
    event: dict[str, Any] = {}

    async def settled() -> bool:
        event.update((await client.get("/api/v1/webhook-events")).json()["items"][0])
        return bool(event["status"] != "pending")

    await eventually(settled, 10, "the event to be processed")
    assert event["status"] == "failed" and "[0] is the number 7, not a record" in event["error"], event


async def test_an_event_record_without_a_key_fails_alone_into_the_dead_letters(
    served: tuple[TwoWayProject, httpx.AsyncClient],
) -> None:
    """Its key missing, an event's record was passed over without a word (no run counted it, no dead letter
    kept it); it fails alone now, and its sibling's pair settles."""
    project, client = served
    await run_now(client)
    project.crm.execute("UPDATE contacts SET email = 'pushed@crm.se' WHERE id = 2")

    answer = await client.post("/webhooks/crm", json=[{"email": "nokey@crm.se"}, {"id": 2}])

    assert answer.status_code == 202, answer.text
    run: dict[str, Any] = {}

    async def ended() -> bool:
        runs = (await client.get("/api/v1/runs", params={"sync": "crm-erp"})).json()["items"]
        run.update(runs[0])
        return bool(run["trigger"] == "webhook" and run["status"] != "running")

    await eventually(ended, 10, "the webhook run to end")
    assert project.erp.records(["email"])[2] == {"email": "pushed@crm.se"}
    [letter] = (await client.get("/api/v1/dead-letters", params={"sync": "crm-erp"})).json()["items"]
    assert letter["source_key"].startswith("(no key) ") and letter["direction"] == "to_b"
    assert "a record of crm.contacts has no value for its key field id" in letter["error"]
    assert (run["status"], run["counts"]["failed"]) == ("partial", 1)


async def test_a_dead_letter_names_its_direction_and_is_retried_through_the_api(
    served: tuple[TwoWayProject, httpx.AsyncClient],
) -> None:
    project, client = served
    await run_now(client)
    project.erp.execute(
        "CREATE TRIGGER refuse BEFORE UPDATE ON customers WHEN NEW.email = 'bad' BEGIN SELECT RAISE(ABORT, 'no'); END"
    )
    project.crm.execute("UPDATE contacts SET email = 'bad' WHERE id = 1")
    partial = await run_now(client)
    letters = (await client.get("/api/v1/dead-letters", params={"sync": "crm-erp"})).json()["items"]
    project.erp.execute("DROP TRIGGER refuse")

    retried = await client.post(f"/api/v1/dead-letters/{letters[0]['id']}/retry")

    assert partial["status"] == "partial"
    assert [(letter["source_key"], letter["direction"]) for letter in letters] == [("1", "to_b")]
    assert retried.status_code == 202, retried.text

    async def carried() -> bool:
        return project.erp.records(["email"])[1] == {"email": "bad"}

    await eventually(carried, 10, "the retried dead letter to be written")
    await eventually(lambda: _none_left(client), 10, "the dead letter to be settled")


async def _none_left(client: httpx.AsyncClient) -> bool:
    items: list[Any] = (await client.get("/api/v1/dead-letters", params={"sync": "crm-erp"})).json()["items"]
    return not items


async def test_a_record_story_shows_the_side_its_pair_is_gone_from(
    served: tuple[TwoWayProject, httpx.AsyncClient],
) -> None:
    """A pair whose record was deleted on one side, a delete ``delete_in`` does not carry, is remembered as gone
    from that side, and the edits of the record left are skipped: its story did not say so, and an operator saw
    skipped edits of a record whose ID map entry looked like any other."""
    project, client = served
    await run_now(client)
    project.crm.execute("DELETE FROM contacts WHERE id = 2")
    project.erp.execute("UPDATE customers SET phone = 'edited' WHERE customer_no = 2")
    noticed = await run_now(client)

    gone = (await client.get("/api/v1/syncs/crm-erp/records/2")).json()
    linked = (await client.get("/api/v1/syncs/crm-erp/records/1")).json()

    assert noticed["counts_by_direction"]["to_b"]["skipped"] == 1, noticed
    assert (gone["id_map"]["target_key"], gone["id_map"]["gone_from"]) == ("2", "a")
    assert linked["id_map"]["gone_from"] is None
