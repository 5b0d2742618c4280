"""Every failed run counts toward ``failing``, not only those that could not reach a system (issue 17 item 1:
a sync whose runs all crashed stayed ``idle``, and its failed runs were not counted in /metrics)."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable

import pytest

from app.engine import one_way_run as run_module
from app.engine.service import Service
from app.engine.settings import ServiceSettings
from tests.service.conftest import Project

StartService = Callable[[ServiceSettings], Awaitable[Service]]


async def _run(service: Service) -> str:
    run_id = await service.trigger("customers")
    await service.wait_for("customers")
    run = await service.store.run(run_id)
    assert run is not None
    return run.status


async def _failed_runs_counted(service: Service) -> float:
    samples = [
        sample.value
        for family in service.metrics.registry.collect()
        for sample in family.samples
        if sample.name == "brygga_runs_total" and sample.labels == {"sync": "customers", "status": "failed"}
    ]
    return sum(samples)


async def test_a_sync_whose_target_table_is_gone_turns_failing_and_recovers(
    project: Project, start_service: StartService
) -> None:
    project.customers_sync()
    project.add_contacts(2)
    connection = sqlite3.connect(project.erp.path)
    connection.execute("ALTER TABLE customers RENAME TO customers_away")
    connection.close()
    service = await start_service(project.settings(failing_after=2))

    assert [await _run(service), await _run(service)] == ["failed", "failed"]
    assert (await service.view("customers")).status == "failing"
    assert await _failed_runs_counted(service) == 2

    connection = sqlite3.connect(project.erp.path)
    connection.execute("ALTER TABLE customers_away RENAME TO customers")
    connection.close()
    assert await _run(service) == "succeeded"
    assert (await service.view("customers")).status == "idle"


async def test_runs_that_fail_for_a_defect_turn_the_sync_failing(
    project: Project, start_service: StartService, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.customers_sync()
    project.add_contacts(1)

    async def broken(self: object, batches: object) -> None:
        raise TypeError("a defect")

    monkeypatch.setattr(run_module.OneWayRun, "_read_source", broken)
    service = await start_service(project.settings(failing_after=2))

    assert [await _run(service), await _run(service)] == ["failed", "failed"]
    assert (await service.view("customers")).status == "failing"
    assert await _failed_runs_counted(service) == 2
