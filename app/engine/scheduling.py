"""When syncs run by themselves: ``every`` and ``cron`` schedules, as APScheduler jobs.

Interval schedules are aligned to a fixed epoch and cron fires on whole
minutes, so every process sharing a state database sees the same slots;
each slot is claimed in the database, so each scheduled run happens once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from app.config import AnySync, cron_trigger, format_duration

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)

Job = Callable[[dict[str, datetime]], Awaitable[None]]
"""What runs when schedules fire: given every sync fired in the same moment, with its slot."""


def trigger_of(sync: AnySync) -> BaseTrigger | None:
    """The APScheduler trigger of a sync's schedule, or ``None`` for a sync without one."""
    if sync.schedule is None:
        return None
    if sync.schedule.every is not None:
        return IntervalTrigger(seconds=sync.schedule.every.total_seconds(), start_date=EPOCH, timezone=UTC)
    assert sync.schedule.cron is not None
    return cron_trigger(sync.schedule.cron, UTC)


def slot_of(sync: AnySync, now: datetime) -> datetime:
    """The schedule slot that fires at (or just before) ``now``: the same in every process."""
    assert sync.schedule is not None
    if sync.schedule.every is not None:
        step = sync.schedule.every.total_seconds()
        return EPOCH + timedelta(seconds=((now - EPOCH).total_seconds() // step) * step)
    return now.replace(second=0, microsecond=0)


def schedule_text(sync: AnySync) -> str | None:
    if sync.schedule is None:
        return None
    if sync.schedule.every is not None:
        return f"every {format_duration(sync.schedule.every)}"
    return f"cron {sync.schedule.cron}"


class Schedules:
    """The scheduler and one job per scheduled sync; replaced whole on a config reload."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self._working: set[asyncio.Task[Any]] = set()
        """The jobs going on now (APScheduler cancels them at shutdown, but does not wait for them)."""
        self._gathering: dict[str, datetime] | None = None
        """The syncs fired in this moment, gathered into one call of ``job``, until it is made."""

    def start(self) -> None:
        self.scheduler.start()

    async def stop(self, grace: timedelta) -> None:
        """Fire no more, and wait for the jobs going on to end; those still going after ``grace`` are
        cancelled, and waited for too. No job then uses what the service closes after this."""
        if not self.scheduler.running:
            return
        self.scheduler.pause()
        await asyncio.sleep(0)  # jobs handed to the event loop just before the pause start, and are counted
        working = {task for task in self._working if not task.done()}
        if working:
            _, late = await asyncio.wait(working, timeout=grace.total_seconds())
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        self.scheduler.shutdown(wait=False)

    def plan(self, syncs: dict[str, AnySync]) -> None:
        """One job per scheduled sync, replacing those there were."""
        for job in self.scheduler.get_jobs():
            if job.id.startswith("sync:"):
                job.remove()
        for name, sync in syncs.items():
            trigger = trigger_of(sync)
            if trigger is not None:
                self.scheduler.add_job(
                    self._fire, trigger, args=[name, sync], id=f"sync:{name}", max_instances=1, coalesce=True,
                    misfire_grace_time=30,
                )  # fmt: skip

    def every(self, name: str, interval: timedelta, job: Callable[[], Awaitable[None]]) -> None:
        """A housekeeping job (stall watch, retention) every ``interval``."""
        trigger = IntervalTrigger(seconds=interval.total_seconds())
        self.scheduler.add_job(self._housekeeping, trigger, args=[job], id=name, max_instances=1)

    def next_run_at(self, name: str) -> datetime | None:
        job = self.scheduler.get_job(f"sync:{name}")
        return job.next_run_time if job is not None else None

    async def _fire(self, name: str, sync: AnySync) -> None:
        """One sync's schedule fired; joined with the others fired in the same moment into one call of job.

        APScheduler hands every job due at a moment to the event loop at once (a task each). The first
        to start gathers; one turn of the loop later every other one has joined, and the gathered syncs
        go to ``job`` together: their slots are then claimed in a few statements, not a few each."""
        slot = slot_of(sync, datetime.now(UTC))
        if self._gathering is not None:
            self._gathering[name] = slot
            return
        await self._tracked(self._gather(name, slot))

    async def _gather(self, name: str, slot: datetime) -> None:
        due = self._gathering = {name: slot}
        try:
            await asyncio.sleep(0)  # the jobs handed over with this one start before this goes on
        finally:
            self._gathering = None
        await self.job(due)

    async def _housekeeping(self, job: Callable[[], Awaitable[None]]) -> None:
        await self._tracked(job())

    async def _tracked(self, work: Awaitable[None]) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._working.add(task)
        try:
            await work
        finally:
            self._working.discard(task)
