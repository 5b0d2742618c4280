"""Addresses a client makes up: record keys with line ends in them, and ids with a line end after them.

Keys come from business systems and may hold any character; a record's story must be the story of exactly
the key asked for. Through the app in this process: the routing is the app's own.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import httpx

from tests.api.in_process import served
from tests.service.conftest import eventually
from tests.webhooks.conftest import make_project


async def dead_letter_keys(client: httpx.AsyncClient, count: int) -> list[str]:
    """The source keys of the sync ``local``'s dead letters, once there are ``count`` of them."""
    keys: list[str] = []

    async def all_there() -> bool:
        answer = await client.get("/api/v1/dead-letters", params={"sync": "local"})
        keys[:] = [letter["source_key"] for letter in answer.json()["items"]]
        return len(keys) == count

    await eventually(all_there, 10, f"{count} dead letters")
    return keys


async def each_has_its_own_story(client: httpx.AsyncClient, keys: list[str]) -> None:
    """Send a record of each key (each fails to write: its dead letter keeps it), then ask for each one's story."""
    sent = await client.post("/webhooks/local", json={"items": [{"id": key, "email": "e@x.se"} for key in keys]})
    assert sent.status_code == 202, sent.text
    assert sorted(await dead_letter_keys(client, len(keys))) == sorted(keys)
    for key in keys:
        story = await client.get(f"/api/v1/syncs/local/records/{quote(key, safe='')}")
        assert story.status_code == 200, (key, story.text)
        assert story.json()["source_key"] == key
        assert {entry["source_key"] for entry in story.json()["log"]} == {key}


async def test_a_key_with_a_line_end_has_its_own_story(tmp_path: Path) -> None:
    # customer_no is an INTEGER PRIMARY KEY: a text key fails to write, and its dead letter keeps it
    keys = ["x", "x\n", "a\nb", "\n"]
    project = make_project(tmp_path / "project")
    async with served(project) as client:
        await each_has_its_own_story(client, keys)
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


NAMED_ROUTES = [
    ("POST", "/api/v1/syncs/local/pause"),
    ("POST", "/api/v1/syncs/local/resume"),
    ("POST", "/api/v1/syncs/local/reset"),
    ("POST", "/api/v1/syncs/local/runs"),
    ("POST", "/api/v1/syncs/local/dead-letters/retry"),
    ("POST", "/syncs/local/pause"),  # the dashboard's
    ("POST", "/syncs/local/run"),
    ("GET", "/api/v1/syncs"),
    ("GET", "/api/v1/runs"),
    ("GET", "/health"),
    ("GET", "/ready"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
]


async def test_a_path_with_a_line_end_after_it_names_no_route(tmp_path: Path) -> None:
    """Route patterns end in ``$``, which matched before a last line end: ``…/pause%0A`` paused the sync."""
    project = make_project(tmp_path / "project")
    async with served(project) as client:
        for method, path in NAMED_ROUTES:
            answer = await client.request(method, f"{path}%0A")
            assert answer.status_code == 404, (path, answer.text)
            assert (await client.request(method, f"{path}%0a")).status_code == 404, path

        assert (await client.get("/api/v1/syncs/local")).json()["paused"] is False
        assert (await client.get("/api/v1/runs")).json()["items"] == []  # no run started


async def test_a_name_in_a_path_is_the_whole_segment_as_escaped(tmp_path: Path) -> None:
    """``%2F`` is no path separator inside a name, and ``.``, ``..``, a NUL or a line end are no names."""
    project = make_project(tmp_path / "project")
    async with served(project) as client:
        named = {
            "local%2Fpause": "no sync named 'local%2Fpause'",
            "local%0A": "no sync named 'local%0A'",
            "%2e%2e": "no sync named '..'",
            "%2e": "no sync named '.'",
        }
        for name, detail in named.items():
            answer = await client.get(f"/api/v1/syncs/{name}")
            assert (answer.status_code, answer.json()["detail"]) == (404, detail), answer.text
        for odd in ("local%2Fpause", "local%2F", "%2e%2e", "local%0A"):
            assert (await client.post(f"/api/v1/syncs/{odd}/pause")).status_code == 404, odd
        assert (await client.post("/api/v1/syncs/local%2Fpause")).status_code == 405  # GET only: nothing paused
        assert (await client.post("/api/v1/syncs/local/pause%00")).status_code == 404
        assert (await client.post("/api/v1/syncs/local%00/pause")).status_code == 422
        for system in ("local%0A", "local%2F", "local%2Fx", "%2e%2e"):
            sent = await client.post(f"/webhooks/{system}", json={"items": [{"id": 1, "email": "e@x.se"}]})
            assert sent.status_code == 404, (system, sent.text)

        assert (await client.get("/api/v1/syncs/local")).json()["paused"] is False
        assert (await client.get("/api/v1/webhook-events")).json()["items"] == []  # nothing stored


async def test_a_key_with_slashes_and_percent_signs_has_its_own_story(tmp_path: Path) -> None:
    """A key is the one part of a path that may hold ``/``, ``%`` and ``%2F`` as text: each is its own."""
    keys = ["a/b", "a%2Fb", "a%252Fb", "100%", "/", "%", "%0A", "a/\n"]
    project = make_project(tmp_path / "project")
    async with served(project) as client:
        await each_has_its_own_story(client, keys)
        slashes = await client.get("/api/v1/syncs/local/records/a/b")  # a key's slash may be written as is
        assert slashes.status_code == 200 and slashes.json()["source_key"] == "a/b", slashes.text
