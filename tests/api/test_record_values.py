"""The values written kept in the record log (``record_log.values``), and a record's story showing which
fields each write changed, from what to what (issue 20), in-process through the HTTP API."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.api.conftest import ApiProject, make_project
from tests.api.in_process import served
from tests.engine.conftest import Database, contact
from tests.service.conftest import eventually

T0, T1, T2 = "2024-03-01 12:00:00", "2024-03-01 12:05:00", "2024-03-01 12:10:00"


async def run_now(client: httpx.AsyncClient, sync: str = "contacts") -> dict[str, Any]:
    started = await client.post(f"/api/v1/syncs/{sync}/runs")
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    found: dict[str, Any] = {}

    async def finished() -> bool:
        found.update((await client.get(f"/api/v1/runs/{run_id}")).json())
        return bool(found["status"] != "running")

    await eventually(finished, 10, f"run {run_id} to finish")
    assert found["status"] == "succeeded", found["error"]
    return found


async def story_of(client: httpx.AsyncClient, key: str) -> list[dict[str, Any]]:
    answer = await client.get(f"/api/v1/syncs/contacts/records/{key}")
    assert answer.status_code == 200, answer.text
    return list(answer.json()["log"])


def changes(entry: dict[str, Any]) -> dict[str, tuple[Any, Any]] | None:
    if entry["changes"] is None:
        return None
    return {change["field"]: (change["before"], change["after"]) for change in entry["changes"]}


async def three_writes(project: ApiProject, edit: Callable[[str], str] = lambda text: text) -> list[dict[str, Any]]:
    """Contact 1 created, renamed, then given a new email: its story, newest first."""
    project.file.write_text(edit(project.file.read_text()))
    project.crm.insert("contacts", [contact(1, name="Ann", email=f"ann.{project.secrets.tenant}@example.com", at=T0)])
    async with served(project) as client:
        await run_now(client)
        project.crm.execute("UPDATE contacts SET first_name = ' Anna ', updated_at = ? WHERE id = 1", T1)
        await run_now(client)
        project.crm.execute("UPDATE contacts SET email = 'anna@example.com', updated_at = ? WHERE id = 1", T2)
        await run_now(client)
        return await story_of(client, "1")


async def test_a_story_shows_which_fields_each_write_changed(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")

    story = await three_writes(project)

    assert [entry["action"] for entry in story] == ["updated", "updated", "created"]
    scrubbed = "ann.***@example.com"
    assert changes(story[2]) == {"customer_no": (None, 1), "name": (None, "Ann"), "email": (None, scrubbed)}
    assert changes(story[1]) == {"name": ("Ann", "Anna")}
    assert changes(story[0]) == {"email": (scrubbed, "anna@example.com")}
    assert project.secrets.tenant not in str(story)  # values are scrubbed of secrets as errors are


async def test_a_project_may_keep_no_values(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")

    story = await three_writes(project, lambda text: text + "record_log: {values: false}\n")

    assert [entry["action"] for entry in story] == ["updated", "updated", "created"]
    assert [entry["changes"] for entry in story] == [None, None, None]
    state = project.file.parent / "state.db"
    assert Database(state).rows("SELECT count(*) FROM record_log WHERE detail IS NOT NULL") == [(0,)]


async def test_a_run_log_answers_as_before(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    project.crm.insert("contacts", [contact(1, at=T0)])
    async with served(project) as client:
        run = await run_now(client)
        [entry] = (await client.get(f"/api/v1/runs/{run['id']}/records")).json()["items"]

    assert set(entry) == {"id", "run_id", "source_key", "target_key", "action", "error", "at"}
