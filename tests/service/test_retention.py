"""Retention: runs, record-log entries and webhook events older than ``retention`` are forgotten; the ID map
stays (SPEC 2, 8)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy import update

from app.engine.service import Service
from app.engine.settings import ServiceSettings
from app.store.tables import LOG, RUNS, WEBHOOK_EVENTS, utc_now
from tests.service.conftest import Project, eventually

StartService = Callable[[ServiceSettings], Awaitable[Service]]


async def _run(service: Service) -> int:
    run_id = await service.trigger("customers")
    await service.wait_for("customers")
    assert (await service.run(run_id)).status == "succeeded"
    return run_id


async def test_purging_forgets_what_is_older_than_retention_and_keeps_the_rest(
    project: Project, start_service: StartService
) -> None:
    project.write(retention="1d")
    project.customers_sync()
    project.add_contacts(3)
    service = await start_service(project.settings())
    old = await _run(service)
    two_days_ago = utc_now() - timedelta(days=2)
    async with service.store.engine.begin() as connection:
        await connection.execute(update(RUNS).where(RUNS.c.id == old).values(started_at=two_days_ago))
        await connection.execute(update(LOG).where(LOG.c.run_id == old).values(at=two_days_ago))
    project.add_contacts(2, start=4)
    recent = await _run(service)

    assert await service.purge() == (1, 3, 0)

    assert [run.id for run in await service.runs("customers", None, None, 10)] == [recent]
    assert [entry.source_key for entry in await service.run_log(recent, None, 10)] == ["4", "5"]
    story = await service.story("customers", "1")
    assert story.entries == [] and story.id_map is not None, "the ID map is no history: nothing is created twice"
    assert await service.purge() == (0, 0, 0)


async def test_the_service_purges_by_itself(project: Project, start_service: StartService) -> None:
    project.write(retention="1h")
    project.customers_sync()
    project.add_contacts(3)
    service = await start_service(project.settings(retention_every=timedelta(seconds=0.3)))
    run_id = await _run(service)
    two_hours_ago = utc_now() - timedelta(hours=2)
    async with service.store.engine.begin() as connection:
        await connection.execute(update(RUNS).where(RUNS.c.id == run_id).values(started_at=two_hours_ago))
        await connection.execute(update(LOG).where(LOG.c.run_id == run_id).values(at=two_hours_ago))

    def forgotten() -> bool:
        return project.state.rows("SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM record_log)") == [(0, 0)]

    await eventually(forgotten, 10, "the retention job")
    assert project.state.rows("SELECT count(*) FROM id_map") == [(3,)]
    await _run(service)
    assert project.erp.count("customers") == 3


async def test_the_purge_job_forgets_old_webhook_events_that_every_sync_is_done_with(
    project: Project, start_service: StartService, state: str
) -> None:
    project.write(retention="1h", state=state)
    project.customers_sync()
    service = await start_service(project.settings(retention_every=timedelta(seconds=0.3)))
    inbox = service.store.inbox
    done, _ = await inbox.accept("shop", "delivered-1", '{"card": "4111 1111 1111 1111"}', 1, [])
    # pending for a sync that is not in the project (any more): nothing processes it, and it stays
    waiting, _ = await inbox.accept("shop", "delivered-2", "{}", 1, ["removed-sync"])
    async with service.store.engine.begin() as connection:  # both long past retention: one purge sees both
        await connection.execute(update(WEBHOOK_EVENTS).values(received_at=utc_now() - timedelta(hours=2)))

    async def forgotten() -> bool:
        return await inbox.event(done) is None

    await eventually(forgotten, 10, "the retention job to forget the processed webhook event")
    kept = await inbox.event(waiting)
    assert kept is not None and kept.status == "pending"
    assert [event.id for event in await inbox.pending("removed-sync", 10)] == [waiting]


async def test_the_longest_retention_forgets_nothing_and_its_cut_off_fits_every_state_database(
    project: Project, start_service: StartService, state: str
) -> None:
    """A hundred years (the most a duration may be): the cut-off lies in 1926, a date both databases hold."""
    project.write(retention="36500d", state=state)
    project.customers_sync()
    project.add_contacts(2)
    service = await start_service(project.settings())
    run_id = await _run(service)
    await service.store.inbox.accept("shop", "delivered-1", "{}", 1, [])

    assert await service.purge() == (0, 0, 0)

    assert [run.id for run in await service.runs("customers", None, None, 10)] == [run_id]
    assert len(await service.run_log(run_id, None, 10)) == 2
