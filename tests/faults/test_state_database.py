"""The state database's connections killed in the middle of a run (PostgreSQL ``pg_terminate_backend``),
while a create the API already made waits for its answer (SPEC 8: nothing lost, nothing created twice).

Brygga may carry on over new connections, or the run may fail; then a run again finishes the sync. In
the end every contact is in the API once, no create reached it twice, no run is left ``running``, and a
run that failed says why.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg

from tests.connectors.rest.server import ApiState
from tests.faults.conftest import COUNT_NAMES, PEOPLE, FaultProject, Run, each_once, run_of
from tests.faults.proxy import FaultProxy, Moment
from tests.services import POSTGRES_URL, FreshPostgresDatabase, require_service

MakeProject = Callable[..., FaultProject]
RECORDS = 600


async def terminate_connections(url: str) -> int:
    """End every connection to the database at ``url`` but this one; how many there were."""
    name = url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(POSTGRES_URL)
    try:
        ended = await admin.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
    finally:
        await admin.close()
    return sum(1 for row in ended if row[0])


async def runs(url: str) -> list[Run]:
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            f"SELECT id, status, trigger, error, {', '.join(COUNT_NAMES)} FROM runs ORDER BY id"
        )
        letters = await connection.fetchval("SELECT count(*) FROM dead_letters WHERE discarded_at IS NULL")
    finally:
        await connection.close()
    assert letters == 0, f"{letters} dead letters"
    return [run_of(row) for row in rows]


async def test_killing_the_state_databases_connections_mid_run_loses_and_duplicates_nothing(
    api: ApiState, proxy: FaultProxy, make_project: MakeProject
) -> None:
    require_service("postgresql")
    async with FreshPostgresDatabase() as url:
        project = make_project(RECORDS)
        project.write(state=url, batch_size=50)
        moment = proxy.add(Moment("done"), method="POST", path=PEOPLE, skip=220)  # the fifth batch's creates
        started = project.start("run", "out")
        try:
            await asyncio.to_thread(started.wait_for, moment, 60)
            ended = await terminate_connections(url)
            assert isinstance(moment.fault, Moment)
            moment.fault.release()
            first = await asyncio.to_thread(started.finish, 60)
        finally:
            started.close()
        assert ended >= 1, "Brygga had connections to its state database"

        outcomes = [first]
        while outcomes[-1].code != 0 and len(outcomes) < 3:  # the run failed: run again, as a person would
            outcomes.append(await asyncio.to_thread(project.brygga, "run", "out"))
        shown = "\n".join(map(str, outcomes))

        problem = each_once(api, RECORDS)
        assert problem is None, f"{problem}\n{shown}"
        assert len(api.requests(PEOPLE, "POST")) == RECORDS, f"a create reached the API twice\n{shown}"
        history = await runs(url)
    assert outcomes[-1].code == 0, shown
    assert [run.status for run in history if run.status == "running"] == [], history
    assert history[-1].status == "succeeded", history
    for run in history[:-1]:
        assert run.status == "failed" and run.error, f"run {run.id} is {run.status} and says {run.error!r}"
    assert sum(run.counts["created"] + run.counts["updated"] for run in history) >= RECORDS
