"""Reloading the config of a running ``brygga serve``, on SIGHUP and through the API (SPEC 6, 7).

A valid config changes what the next run writes; a broken one is refused with every error as
FILE:LINE:COL, and the service goes on with the config it had.
"""

from __future__ import annotations

import re
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from app.engine.service import Service
from app.errors import ConfigError
from tests.api.conftest import SERVICE_ENV
from tests.api.conftest import make_project as make_api_project
from tests.api.serve_process import ServeProcess
from tests.service.conftest import Project, Served

UPPER = "{from: name, transform: upper}"
BROKEN = """\
source: crm.contacts
target: erp.customers
fields:
  customer_no: id
  name: {from: name, transfrom: lower}
  email: email
"""
ERROR = re.compile(
    r"mappings/customers\.yaml:5:22: fields\.name\.transfrom: unknown key \(did you mean 'transform'\?\)"
)


def _wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def _run_names(project: Project, served: Served) -> list[str]:
    """Run the sync reading everything, wait for it; the names in the target."""
    started = served.client.post("/api/v1/syncs/customers/runs", params={"full": "true"})
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]

    def finished() -> bool:
        return bool(served.client.get(f"/api/v1/runs/{run_id}").json()["status"] != "running")

    _wait_until(finished, 20, f"run {run_id}")
    assert served.client.get(f"/api/v1/runs/{run_id}").json()["status"] == "succeeded", served.log()
    return [str(row[0]) for row in project.erp.rows("SELECT name FROM customers ORDER BY customer_no")]


def test_sighup_reloads_a_changed_mapping_and_keeps_the_running_config_when_the_new_one_is_broken(
    project: Project, serve: Callable[..., Served]
) -> None:
    project.customers_sync()
    project.add_contacts(2)
    served = serve(project.file)
    assert _run_names(project, served) == ["Name 1", "Name 2"]

    project.customers_sync(name=UPPER)
    served.signal(signal.SIGHUP)
    _wait_until(lambda: "config reloaded: 1 syncs" in served.log(), 10, "the reload")
    assert _run_names(project, served) == ["NAME 1", "NAME 2"]

    project.write_sync("customers", BROKEN)
    served.signal(signal.SIGHUP)
    _wait_until(lambda: "SIGHUP: the config has errors" in served.log(), 10, "the refused reload")
    assert ERROR.search(served.log()), served.log()
    project.crm.execute("UPDATE contacts SET name = 'Changed' WHERE id = 1")
    assert _run_names(project, served) == ["CHANGED", "NAME 2"], "the old config goes on"
    assert served.process.poll() is None


def test_the_reload_route_applies_a_valid_config_and_refuses_a_broken_one_with_its_errors(
    project: Project, serve: Callable[..., Served]
) -> None:
    project.customers_sync()
    project.add_contacts(2)
    served = serve(project.file)
    assert _run_names(project, served) == ["Name 1", "Name 2"]

    project.customers_sync(name=UPPER)
    project.people_sync()
    reloaded = served.client.post("/api/v1/config/reload")
    assert (reloaded.status_code, reloaded.json()) == (200, {"syncs": ["customers", "people"]})
    assert _run_names(project, served) == ["NAME 1", "NAME 2"]

    project.write_sync("customers", BROKEN)
    refused = served.client.post("/api/v1/config/reload")
    assert refused.status_code == 422, refused.text
    errors = refused.json()["errors"]
    assert len(errors) == 1 and ERROR.search(errors[0]), errors
    assert [sync["name"] for sync in served.client.get("/api/v1/syncs").json()["items"]] == ["customers", "people"]
    project.crm.execute("UPDATE contacts SET name = 'Changed' WHERE id = 1")
    assert _run_names(project, served) == ["CHANGED", "NAME 2"], "the old config goes on"


def _without_tokens(project_file: Path) -> None:
    text = project_file.read_text(encoding="utf-8")
    project_file.write_text(re.sub(r"api:\n(  .*\n)+", "", text), encoding="utf-8")
    assert "tokens" not in project_file.read_text(encoding="utf-8")


def test_a_reload_that_would_leave_a_reachable_service_without_tokens_is_refused(tmp_path: Path) -> None:
    api_project = make_api_project(tmp_path / "project")
    process = ServeProcess(
        api_project.file, {**SERVICE_ENV, **api_project.secrets.env()}, tmp_path / "logs", host="0.0.0.0"
    ).start()
    operator = {"Authorization": f"Bearer {api_project.secrets.operator}"}
    try:
        with httpx.Client(base_url=process.url, timeout=10) as client:
            _without_tokens(api_project.file)

            refused = client.post("/api/v1/config/reload", headers=operator)
            assert refused.status_code == 422, refused.text
            [error] = refused.json()["errors"]
            assert re.search(r"brygga\.yaml:\d+:\d+: api\.tokens: the service listens on 0\.0\.0\.0", error), error
            assert "Add api.tokens" in error
            assert client.get("/api/v1/syncs").status_code == 401, "the running config (and its tokens) stays"

            assert process.process is not None
            process.process.send_signal(signal.SIGHUP)
            _wait_until(lambda: "SIGHUP: the config has errors" in process.log(), 10, "the refused SIGHUP reload")
            assert "api.tokens: the service listens on 0.0.0.0" in process.log()
            assert client.get("/api/v1/syncs").status_code == 401
            assert client.get("/api/v1/syncs", headers=operator).status_code == 200
    finally:
        process.stop()


async def test_a_service_on_a_reachable_address_does_not_start_without_tokens(project: Project) -> None:
    service = Service(project.settings(host="0.0.0.0"), environ={})

    with pytest.raises(ConfigError, match=r"api\.tokens: the service listens on 0\.0\.0\.0"):
        await service.start()


def test_the_service_answers_while_a_reload_reads_a_large_config_and_refuses_it_at_its_place(
    project: Project, serve: Callable[..., Served]
) -> None:
    """A sync file near the size limit (10 MiB) takes seconds to read: the reload reads it off the event
    loop, so /health, the API and webhooks answer meanwhile (it held them all until it was done)."""
    project.customers_sync()
    served = serve(project.file)
    padding = "x" * 9_000_000
    project.write_sync("big", f'source: crm.contacts\ntarget: erp.people\ndescription: "{padding}"\nfeilds: {{}}\n')
    answers: list[httpx.Response] = []

    def reload() -> None:
        with httpx.Client(base_url=served.url, timeout=120) as client:
            answers.append(client.post("/api/v1/config/reload"))

    reloading = threading.Thread(target=reload)

    reloading.start()
    healthy_meanwhile = 0
    with httpx.Client(base_url=served.url, timeout=60) as client:
        while reloading.is_alive():
            healthy_meanwhile += client.get("/health").status_code == 200 and reloading.is_alive()
    reloading.join()

    [refused] = answers
    assert refused.status_code == 422, refused.text
    assert any(re.search(r"mappings/big\.yaml:4:1: .*feilds", error) for error in refused.json()["errors"])
    assert healthy_meanwhile >= 5, "the service held every request until the reload was done"
    assert [sync["name"] for sync in served.client.get("/api/v1/syncs").json()["items"]] == ["customers"]
