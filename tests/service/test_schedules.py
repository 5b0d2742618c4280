"""Syncs run by themselves: ``every``, ``cron`` and ``after:``; one run of a sync at a time (SPEC 3, 7, 8)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

from app.engine.runner import SyncBusyError
from app.engine.scheduling import slot_of
from app.engine.service import Service
from app.engine.settings import ServiceSettings
from app.store import RunInfo
from tests.service.conftest import Project, eventually

StartService = Callable[[ServiceSettings], Awaitable[Service]]


async def _runs(service: Service, sync: str) -> list[RunInfo]:
    """The sync's runs, oldest first."""
    return (await service.runs(sync, None, None, 500))[::-1]


async def _finished(service: Service, sync: str, count: int) -> bool:
    runs = await _runs(service, sync)
    return len(runs) >= count and all(run.status != "running" for run in runs[:count])


async def test_an_every_schedule_runs_the_sync_at_each_aligned_slot(
    project: Project, start_service: StartService
) -> None:
    project.customers_sync("{every: 1s}")
    project.add_contacts(3)
    service = await start_service(project.settings())

    next_run = (await service.view("customers")).next_run_at
    assert next_run is not None and next_run.microsecond == 0, "slots are whole seconds, the same in every process"
    assert timedelta(0) < next_run - datetime.now(UTC) <= timedelta(seconds=1)
    await eventually(lambda: _finished(service, "customers", 2), 10, "two scheduled runs")

    runs = (await _runs(service, "customers"))[:2]
    assert [(run.trigger, run.status) for run in runs] == [("schedule", "succeeded")] * 2
    assert [run.counts.created for run in runs] == [3, 0]
    assert runs[1].started_at - runs[0].started_at >= timedelta(seconds=0.5), "one run per slot"
    assert project.erp.count("customers") == 3


async def test_a_cron_job_is_due_at_the_next_matching_minute_and_each_slot_runs_once(
    project: Project, start_service: StartService
) -> None:
    project.customers_sync('{cron: "*/5 * * * *"}')
    project.add_contacts(2)
    before = datetime.now(UTC)
    service = await start_service(project.settings())
    other_process = await start_service(project.settings())
    after = datetime.now(UTC)

    job = service.schedules.scheduler.get_job("sync:customers")
    assert job.next_run_time in {_next_five_minutes(before), _next_five_minutes(after)}
    assert (await service.view("customers")).next_run_at == job.next_run_time

    sync = service.sync("customers")
    slot = slot_of(sync, datetime.now(UTC))
    await job.func(*job.args)  # the scheduler fires: the job function claims the slot and starts a run
    await eventually(lambda: _finished(service, "customers", 1), 10, "the cron run")
    await service._scheduled("customers", slot)  # the same slot fired late, here
    await other_process._scheduled("customers", slot)  # and in another process
    await other_process._scheduled("customers", slot + timedelta(minutes=5))  # the next slot runs
    await other_process.wait_for("customers")

    runs = await _runs(service, "customers")
    assert [(run.trigger, run.status) for run in runs] == [("schedule", "succeeded")] * 2
    assert [run.counts.created for run in runs] == [2, 0]


def _next_five_minutes(moment: datetime) -> datetime:
    """The first whole minute divisible by 5 after ``moment``: when ``*/5 * * * *`` fires next."""
    start = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return start + timedelta(minutes=-start.minute % 5)


async def test_a_paused_or_backing_off_sync_takes_no_scheduled_run(
    project: Project, start_service: StartService
) -> None:
    project.customers_sync('{cron: "0 0 1 1 *"}')
    project.add_contacts(1)
    service = await start_service(project.settings())
    slot = datetime(2030, 1, 1, tzinfo=UTC)

    await service.pause("customers")
    await service._scheduled("customers", slot)
    await service.resume("customers")
    s = service.settings
    for _ in range(s.failing_after):
        await service.store.states.after_run("customers", True, s.failing_after, s.backoff, s.max_backoff)
    await service._scheduled("customers", slot + timedelta(minutes=1))
    assert await _runs(service, "customers") == []

    await service.store.states.after_run("customers", False, s.failing_after, s.backoff, s.max_backoff)
    await service._scheduled("customers", slot + timedelta(minutes=2))
    await service.wait_for("customers")
    assert [run.trigger for run in await _runs(service, "customers")] == ["schedule"]


async def test_after_runs_a_sync_right_after_its_parent_succeeds_and_not_after_it_fails(
    project: Project, start_service: StartService
) -> None:
    project.customers_sync()
    project.people_sync(after="customers")
    project.add_contacts(3)
    service = await start_service(project.settings())

    parent_id = await service.trigger("customers")
    await eventually(lambda: _finished(service, "people", 1), 10, "the run that follows")

    parent, child = await service.run(parent_id), (await _runs(service, "people"))[0]
    assert (parent.status, child.status, child.trigger) == ("succeeded", "succeeded", "schedule")
    assert parent.finished_at is not None and child.started_at >= parent.finished_at
    assert project.erp.count("people") == 3

    await service.pause("people")
    await service.trigger("customers")
    await service.wait_for("customers")
    assert len(await _runs(service, "people")) == 1, "a paused sync is not started"

    await service.resume("people")
    project.crm.execute("ALTER TABLE contacts RENAME TO contacts_gone")
    failed_id = await service.trigger("customers")
    await service.wait_for("customers")
    assert (await service.run(failed_id)).status == "failed"
    assert len(await _runs(service, "people")) == 1, "a failed run starts nothing after it"


async def test_a_run_asked_for_while_one_is_running_is_refused_here_and_in_another_process(
    project: Project, start_service: StartService
) -> None:
    project.customers_sync()
    project.add_contacts(5)
    service = await start_service(project.settings())
    other_process = await start_service(project.settings())
    source_lock = sqlite3.connect(project.crm.path, isolation_level=None)
    try:
        source_lock.execute("BEGIN EXCLUSIVE")  # the run waits for the source
        first = await service.trigger("customers")
        with pytest.raises(SyncBusyError, match="sync customers is running already"):
            await service.trigger("customers")
        with pytest.raises(SyncBusyError):
            await other_process.trigger("customers", full=True)
        with pytest.raises(SyncBusyError):
            await service.retry_dead_letters("customers")
        assert (await service.view("customers")).status == "running"
    finally:
        source_lock.close()
    await service.wait_for("customers")

    again = await other_process.trigger("customers")  # the lease is free once the run ended
    await other_process.wait_for("customers")
    runs = await _runs(service, "customers")
    assert [(run.id, run.status) for run in runs] == [(first, "succeeded"), (again, "succeeded")]
    assert runs[0].finished_at is not None and runs[0].finished_at <= runs[1].started_at
    assert project.erp.count("customers") == 5


async def test_stopping_waits_for_the_schedule_jobs_under_way_so_nothing_outlives_the_service(
    project: Project,
) -> None:
    project.customers_sync("{every: 1s}")
    settings = project.settings(watch_every=timedelta(seconds=0.002), retention_every=timedelta(seconds=0.003))
    for _ in range(10):
        await _stop_during_a_job(Service(settings, environ={}))

        left = asyncio.all_tasks() - {asyncio.current_task()}
        assert left == set(), "a job went on after the service had stopped and closed its state database"


async def _stop_during_a_job(service: Service) -> None:
    await service.start()
    await eventually(lambda: bool(service.schedules._working), 5, "a job under way")
    await service.stop()


async def _in_aftermath(project: Project, monkeypatch: pytest.MonkeyPatch) -> tuple[Service, asyncio.Event]:
    """A service whose run of customers has ended and is marked so, its aftermath held until the event is set."""
    project.customers_sync()
    project.add_contacts(2)
    service = Service(project.settings(), environ={})
    await service.start()
    in_aftermath, finish = asyncio.Event(), asyncio.Event()
    after_run = service._after_run

    async def slow_after_run(*args: object) -> None:
        in_aftermath.set()
        await finish.wait()  # what follows a run (alerts, `after:` syncs) still needs the state database
        await after_run(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(service, "_after_run", slow_after_run)
    await service.trigger("customers")
    await asyncio.wait_for(in_aftermath.wait(), 10)
    return service, finish


async def test_stopping_waits_for_a_runs_aftermath_so_it_never_uses_a_closed_state_database(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, finish = await _in_aftermath(project, monkeypatch)
    assert [run.status for run in await _runs(service, "customers")] == ["succeeded"]

    stopping = asyncio.ensure_future(service.stop())
    await asyncio.sleep(0.05)
    assert not stopping.done(), "stop waits for the aftermath under way"
    finish.set()
    await asyncio.wait_for(stopping, 10)

    assert asyncio.all_tasks() - {asyncio.current_task()} == set()


async def test_waiting_for_a_sync_waits_for_its_runs_aftermath_too(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, finish = await _in_aftermath(project, monkeypatch)
    try:
        assert not service.runs_here("customers")

        waiting = asyncio.ensure_future(service.wait_for("customers"))
        for _ in range(20):
            await asyncio.sleep(0)
        assert not waiting.done(), "wait_for waits for the aftermath under way"
        finish.set()
        await asyncio.wait_for(waiting, 10)
    finally:
        finish.set()
        await service.stop()
