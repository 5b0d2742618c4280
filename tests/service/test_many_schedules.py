"""Many syncs due at once: the schedules fired in one moment are claimed and begun together (issue 22,
goal 4), and still each slot runs once, across processes, and a paused sync is not started (SPEC 7, 8)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event

from app.engine.service import Service
from app.engine.settings import ServiceSettings
from tests.service.conftest import Project, eventually
from tests.services import FreshPostgresDatabase, require_service

StartService = Callable[[ServiceSettings], Awaitable[Service]]
NEVER = '{cron: "0 0 1 1 *"}'
"""A schedule that does not fire during a test: the test fires it."""
SLOT = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture
async def postgres_state() -> AsyncIterator[str]:
    require_service("postgresql")
    async with FreshPostgresDatabase() as url:
        yield url


async def _scheduled_runs(service: Service, sync: str) -> list[str]:
    return [run.status for run in await service.runs(sync, None, None, 500) if run.trigger == "schedule"]


async def _fire(services: list[Service], due: dict[str, datetime]) -> None:
    """Every service fires ``due`` at once, and its runs end."""
    await asyncio.gather(*(service._scheduled_many(due) for service in services))
    for service in services:
        for name in due:
            await service.wait_for(name)


async def test_schedules_fired_in_the_same_moment_reach_the_service_together(
    project: Project, start_service: StartService
) -> None:
    project.customers_sync("{every: 1s}")
    project.people_sync("{every: 1s}")
    service = await start_service(project.settings())
    calls: list[dict[str, datetime]] = []
    job = service.schedules.job

    async def recorded(due: dict[str, datetime]) -> None:
        calls.append(dict(due))
        await job(due)

    service.schedules.job = recorded
    await eventually(lambda: bool(calls), 10, "the schedules to fire")

    assert set(calls[0]) == {"customers", "people"}, calls
    assert len(set(calls[0].values())) == 1, "one moment, one slot"


async def test_two_services_on_one_postgres_state_firing_the_same_syncs_run_each_slot_once(
    project: Project, postgres_state: str, start_service: StartService
) -> None:
    project.write(state=postgres_state)
    project.customers_sync(NEVER)
    project.people_sync(NEVER)
    project.add_contacts(3)
    services = [await start_service(project.settings()), await start_service(project.settings())]

    for minute in range(3):
        await _fire(services, dict.fromkeys(["customers", "people"], SLOT + timedelta(minutes=minute)))

    for sync in ("customers", "people"):
        assert await _scheduled_runs(services[0], sync) == ["succeeded"] * 3, sync
    assert project.erp.count("customers") == project.erp.count("people") == 3


async def test_a_paused_sync_fired_with_others_is_not_started(project: Project, start_service: StartService) -> None:
    project.customers_sync(NEVER)
    project.people_sync(NEVER)
    project.add_contacts(2)
    service = await start_service(project.settings())
    await service.pause("people")

    await _fire([service], dict.fromkeys(["customers", "people"], SLOT))

    assert await _scheduled_runs(service, "customers") == ["succeeded"]
    assert await _scheduled_runs(service, "people") == []
    await service.resume("people")
    await _fire([service], {"people": SLOT})
    assert await _scheduled_runs(service, "people") == ["succeeded"], "a paused sync's slot is not used up"


async def test_syncs_fired_together_take_no_more_statements_to_start_than_one(
    project: Project, start_service: StartService
) -> None:
    project.customers_sync(NEVER)
    project.people_sync(NEVER)
    service = await start_service(project.settings(watch_every=timedelta(hours=1)))
    both = ["customers", "people"]
    await _fire([service], dict.fromkeys(both, SLOT))  # each sync's state row exists from here on
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(service.store.engine.sync_engine, "before_cursor_execute", count)
    try:
        await service._scheduled_many({"customers": SLOT + timedelta(minutes=1)})
        alone = len(statements)
        await service.wait_for("customers")
        statements.clear()
        await service._scheduled_many(dict.fromkeys(both, SLOT + timedelta(minutes=2)))
        together = len(statements)
    finally:
        event.remove(service.store.engine.sync_engine, "before_cursor_execute", count)
    for name in both:
        await service.wait_for(name)

    assert together == alone, f"one sync: {alone} statements; two together: {together}: {statements}"
    assert await _scheduled_runs(service, "people") == ["succeeded"] * 2
