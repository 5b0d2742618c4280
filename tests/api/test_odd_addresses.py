"""Addresses a client makes up: record keys with line ends in them, and ids with a line end after them.

Keys come from business systems and may hold any character; a record's story must be the story of exactly
the key asked for. Through the app in this process: the routing is the app's own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import httpx

from app.api.app import create_app
from app.engine.settings import ServiceSettings
from tests.service.conftest import eventually
from tests.webhooks.conftest import WebhookProject, aftermath, make_project


@asynccontextmanager
async def served(project: WebhookProject) -> AsyncIterator[httpx.AsyncClient]:
    """The project's service in-process, and a client holding the operator's token."""
    settings = ServiceSettings(config=project.file, lease_ttl=timedelta(seconds=5), shutdown_grace=timedelta(seconds=3))
    app = create_app(settings, environ=project.secrets.env())
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    headers = {"Authorization": f"Bearer {project.secrets.operator}"}
    client = httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000", headers=headers, timeout=10)
    try:
        yield client
    finally:
        await aftermath()
        await client.aclose()
        await lifespan.__aexit__(None, None, None)


async def dead_letter_keys(client: httpx.AsyncClient, count: int) -> list[str]:
    """The source keys of the sync ``local``'s dead letters, once there are ``count`` of them."""
    keys: list[str] = []

    async def all_there() -> bool:
        answer = await client.get("/api/v1/dead-letters", params={"sync": "local"})
        keys[:] = [letter["source_key"] for letter in answer.json()["items"]]
        return len(keys) == count

    await eventually(all_there, 10, f"{count} dead letters")
    return keys


async def test_a_key_with_a_line_end_has_its_own_story(tmp_path: Path) -> None:
    # customer_no is an INTEGER PRIMARY KEY: a text key fails to write, and its dead letter keeps it
    keys = ["x", "x\n", "a\nb", "\n"]
    project = make_project(tmp_path / "project")
    async with served(project) as client:
        sent = await client.post("/webhooks/local", json={"items": [{"id": key, "email": "e@x.se"} for key in keys]})
        assert sent.status_code == 202, sent.text
        assert sorted(await dead_letter_keys(client, len(keys))) == sorted(keys)

        for key in keys:
            story = await client.get(f"/api/v1/syncs/local/records/{quote(key, safe='')}")
            assert story.status_code == 200, (key, story.text)
            assert story.json()["source_key"] == key
            assert {entry["source_key"] for entry in story.json()["log"]} == {key}
        unseen = await client.get("/api/v1/syncs/local/records/y%0A")
        assert unseen.status_code == 404 and "'y\\n'" in unseen.json()["detail"], unseen.text


async def test_an_id_is_digits_and_nothing_else(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    async with served(project) as client:
        sent = await client.post("/webhooks/local", json={"items": [{"id": 1, "email": "e@x.se"}]})
        assert sent.status_code == 202, sent.text
        run_ids: list[int] = []

        async def ran() -> bool:
            run_ids[:] = [run["id"] for run in (await client.get("/api/v1/runs")).json()["items"]]
            return bool(run_ids)

        await eventually(ran, 10, "a webhook run")
        run = run_ids[0]
        assert (await client.get(f"/api/v1/runs/{run}")).status_code == 200
        assert (await client.get(f"/api/v1/runs/0{run}")).status_code == 200  # digits all the same
        for odd in (f"{run}%0A", f"%20{run}", f"+{run}", f"{run}.0", f"{run}_0", f"{run}%09"):
            answer = await client.get(f"/api/v1/runs/{odd}")
            assert answer.status_code == 404, (odd, answer.text)
            assert answer.json()["detail"].startswith("not found"), answer.text
            assert (await client.get(f"/api/v1/runs/{odd}/records")).status_code == 404, odd
            assert (await client.post(f"/api/v1/webhook-events/{odd}/replay")).status_code == 404, odd
