"""Two ``brygga serve`` replicas on one PostgreSQL state database: each scheduled run happens once,
and runs of a sync never overlap (SPEC 8).

Each run re-reads the whole source (a stream without a cursor) and takes longer than the one-second
schedule, so the replicas keep finding the sync busy: only the leases keep runs apart.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator, Callable
from datetime import datetime

import asyncpg
import pytest

from tests.service.conftest import Project, Served, eventually
from tests.services import FreshPostgresDatabase, require_service

ROWS = 20_000
SETTINGS = {"BRYGGA_LEASE_TTL": "3s", "BRYGGA_SHUTDOWN_GRACE": "3s"}


@pytest.fixture
async def postgres_state() -> AsyncIterator[str]:
    require_service("postgresql")
    async with FreshPostgresDatabase() as url:
        yield url


def _runs_in(served: Served) -> int:
    """Runs this process finished, by its own metrics."""
    text = served.client.get("/metrics").text
    return sum(int(float(count)) for count in re.findall(r"^brygga_runs_total\{[^}]*\} (\S+)$", text, re.MULTILINE))


async def test_two_replicas_run_each_slot_once_and_never_at_the_same_time(
    project: Project, postgres_state: str, serve: Callable[..., Served]
) -> None:
    project.write(state=postgres_state, batch_size=100)
    project.customers_sync("{every: 1s}", source="everyone")
    project.add_contacts(ROWS)
    replicas = [serve(project.file, SETTINGS), serve(project.file, SETTINGS)]

    state = await asyncpg.connect(postgres_state)
    try:

        async def four_runs() -> bool:
            return bool(await state.fetchval("SELECT count(*) FROM runs WHERE status = 'succeeded'") >= 4)

        await eventually(four_runs, 40, "four scheduled runs")
        counted = [_runs_in(replica) for replica in replicas]
        for replica in replicas:
            replica.stop()
        runs = await state.fetch(
            "SELECT id, trigger, status, error, started_at, finished_at FROM runs ORDER BY started_at"
        )
    finally:
        await state.close()

    assert {run["trigger"] for run in runs} == {"schedule"}
    assert all(run["finished_at"] is not None for run in runs), "every run ended, stopped ones too"
    slowest = max(run["finished_at"] - run["started_at"] for run in runs)
    assert slowest.total_seconds() > 1, f"runs must outlast a slot for this test to mean anything: {slowest}"
    for earlier, later in itertools.pairwise(runs):
        assert earlier["finished_at"] <= later["started_at"], f"runs overlap: {dict(earlier)} and {dict(later)}"
    slots = [_second(run["started_at"]) for run in runs]
    assert len(set(slots)) == len(slots), f"a slot ran twice: {slots}"
    elapsed = (runs[-1]["started_at"] - runs[0]["started_at"]).total_seconds()
    assert len(runs) <= elapsed + 1
    assert [run["status"] for run in runs[:-1]] == ["succeeded"] * (len(runs) - 1), [dict(run) for run in runs]
    assert 3 <= sum(counted) <= len(runs), f"runs by each replica's metrics: {counted}"
    assert project.erp.rows("SELECT count(*), count(DISTINCT customer_no) FROM customers") == [(ROWS, ROWS)]


def _second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)
