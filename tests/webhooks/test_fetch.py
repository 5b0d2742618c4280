"""Thin events (``fetch: true``) and deletes (``delete_when``), end to end against the local REST system.

The sender is a REST system that pushes events carrying keys only; each record is fetched from its
API with the stream's ``get`` before it is mapped and written into SQLite.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.connectors.rest.server import ApiServer, ApiState, running_api
from tests.webhooks.conftest import InProcess, InProcessFactory, WebhookProject, make_project

PROJECT = """\
version: 1
state: sqlite:///state.db
api:
  tokens:
    - {{name: ops, token: "${{OPS_TOKEN}}", role: operator}}
systems:
  shop:
    connector: rest
    base_url: {api_url}
    streams:
      contacts: {{key: id, path: /w/contacts, records: data, get: {{path: "/w/contacts/{{key}}"}}}}
    webhook:
      verify: token
      secret: "${{SENDER_TOKEN}}"
      stream: contacts
      records: items
      fetch: true
      delete_when: "{{{{ event.action == 'deleted' }}}}"
  erp:
    connector: sql
    url: sqlite:///erp.db
    streams: {{customers: {{table: customers, key: customer_no, delete: hard}}}}
"""

SYNC = """\
source: shop.contacts
target: erp.customers
webhook: true
retry: {attempts: 1, backoff: 0s, max_backoff: 0s}
fields:
  customer_no: id
  name: name
  email: email
"""


@pytest.fixture(scope="module")
def shop_server() -> Iterator[ApiServer]:
    with running_api() as server:
        yield server


@pytest.fixture
def shop(shop_server: ApiServer) -> ApiState:
    """The shop's API, fresh for this test."""
    return shop_server.fresh()


def shop_project(root: Path, api_url: str) -> WebhookProject:
    project = make_project(root)
    for old in (project.root / "mappings").iterdir():
        old.unlink()
    project.file.write_text(PROJECT.format(api_url=api_url), encoding="utf-8")
    (project.root / "mappings" / "shop.yaml").write_text(textwrap.dedent(SYNC), encoding="utf-8")
    return project


async def deliver(service: InProcess, action: str, *keys: int) -> dict[str, Any]:
    """A thin event (keys only) from the shop; the event once processed."""
    token = {"authorization": f"Bearer {service.project.secrets.sender_token}"}
    answer = await service.send("shop", {"action": action, "items": [{"id": key} for key in keys]}, token)
    assert answer.status_code == 202, answer.text
    [event] = await service.settled(answer.json()["event_id"])
    return event


async def test_thin_events_fetch_each_record_from_the_api_and_delete_when_deletes(
    shop: ApiState, shop_server: ApiServer, in_process: InProcessFactory, tmp_path: Path
) -> None:
    project = shop_project(tmp_path / "shop", shop_server.url)
    shop.store = {
        1001: {"id": 1001, "name": "Ann Lind", "email": "ann@shop.se"},
        1002: {"id": 1002, "name": "Bo Ek", "email": "bo@shop.se"},
    }
    service = await in_process(project)

    created = await deliver(service, "updated", 1001, 1002)
    shop.store[1001]["name"] = "Ann Lind-Ek"
    updated = await deliver(service, "updated", 1001)
    fetched_before_delete = len(shop.seen)
    deleted = await deliver(service, "deleted", 1002)

    assert [created["status"], updated["status"], deleted["status"]] == ["processed"] * 3
    assert project.customers() == [(1001, "Ann Lind-Ek", "ann@shop.se")]
    fetched = [seen.path for seen in shop.seen[:fetched_before_delete]]
    assert sorted(fetched) == ["/api/w/contacts/1001", "/api/w/contacts/1001", "/api/w/contacts/1002"]
    assert len(shop.seen) == fetched_before_delete, "a delete fetches nothing"
    runs = await service.runs("shop")
    assert {run["trigger"] for run in runs} == {"webhook"}
    assert sum(run["counts"]["deleted"] for run in runs) == 1


async def test_a_thin_event_for_a_record_the_api_does_not_have_fails_visibly(
    shop: ApiState, shop_server: ApiServer, in_process: InProcessFactory, tmp_path: Path
) -> None:
    project = shop_project(tmp_path / "shop", shop_server.url)
    shop.store = {1001: {"id": 1001, "name": "Ann Lind", "email": "ann@shop.se"}}
    service = await in_process(project)

    event = await deliver(service, "updated", 1001, 4040)

    assert event["status"] == "failed"
    assert "4040" in event["error"] and "fetch" in event["error"]
    assert project.customers() == [(1001, "Ann Lind", "ann@shop.se")], "the record that was there is written"


async def test_a_thin_event_naming_a_key_no_url_can_hold_fails_that_record_alone(
    shop: ApiState, shop_server: ApiServer, in_process: InProcessFactory, tmp_path: Path
) -> None:
    """A key such as ``..`` is refused by the REST system's ``get`` before any request: that record fails
    alone and the event's other record lands (issue 17: one refused key failed the whole look-up, so the
    run failed and the event stayed pending for good)."""
    project = shop_project(tmp_path / "shop", shop_server.url)
    shop.store = {1001: {"id": 1001, "name": "Ann Lind", "email": "ann@shop.se"}}
    service = await in_process(project)
    token = {"authorization": f"Bearer {project.secrets.sender_token}"}

    answer = await service.send("shop", {"action": "updated", "items": [{"id": 1001}, {"id": ".."}]}, token)
    [event] = await service.settled(answer.json()["event_id"])

    assert event["status"] == "failed" and "record .." in event["error"], event
    assert project.customers() == [(1001, "Ann Lind", "ann@shop.se")]
    assert all(seen.path != "/api/w/contacts" for seen in shop.seen), "no request climbs out of its path"
