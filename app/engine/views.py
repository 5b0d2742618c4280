"""A sync as ops staff see it: its config in short, and its honest status (SPEC 7).

The status is worked out from the state database alone (leases, sync
states, runs), so every process sharing it tells the same story.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from app.config import AnySync
from app.engine.scheduling import schedule_text
from app.engine.settings import ServiceSettings
from app.store import RunInfo, Store, SyncStateInfo


@dataclass(frozen=True)
class SyncView:
    """A sync as ops staff see it: its config in short, its status and its last run."""

    name: str
    description: str
    source: str
    target: str
    mode: str
    schedule: str | None
    webhook: bool
    after: str | None
    paused: bool
    status: str
    last_run: RunInfo | None
    next_run_at: datetime | None
    dead_letters: int


@dataclass(frozen=True)
class Facts:
    """What the state database says about every sync at one moment."""

    states: dict[str, SyncStateInfo]
    held: dict[str, str]
    last: dict[str, RunInfo]
    dead: dict[str, int]

    @classmethod
    async def gather(cls, store: Store) -> Facts:
        return cls(
            await store.states.all(),
            await store.leases.held(),
            await store.last_runs(),
            await store.dead_letter_counts(),
        )

    @classmethod
    async def of_one(cls, store: Store, name: str) -> Facts:
        """What the state database says about sync ``name`` alone: its own rows, a query each.

        The service shows or announces one sync's status after each of its runs; reading every sync's
        rows for that costs the square of the syncs (300 syncs every minute: 90,000 rows a minute)."""
        state = await store.states.get(name)
        holder = await store.leases.holder(name)
        last = await store.last_run(name)
        dead = await store.dead_letter_count(name)
        return cls(
            {name: state},
            {name: holder} if holder is not None else {},
            {name: last} if last is not None else {},
            {name: dead} if dead else {},
        )


def view_of(sync: AnySync, facts: Facts, settings: ServiceSettings, next_run_at: datetime | None) -> SyncView:
    """``sync`` as ops staff see it, from ``facts``."""
    name = sync.name
    state = facts.states.get(name)
    last = facts.last.get(name)
    paused = bool(state and state.paused)
    failures = state.failures if state else 0
    return SyncView(
        name=name,
        description=sync.description,
        source=sync.source,
        target=sync.target,
        mode=sync.mode,
        schedule=schedule_text(sync),
        webhook=sync.webhook,
        after=sync.after,
        paused=paused,
        status=status_of(paused, failures, name in facts.held, last, settings),
        last_run=last,
        next_run_at=None if paused else next_run_at,
        dead_letters=facts.dead.get(name, 0),
    )


def status_of(paused: bool, failures: int, running: bool, last: RunInfo | None, settings: ServiceSettings) -> str:
    """``paused``, ``stalled``, ``failing``, ``running`` or ``idle``, in that order of precedence."""
    if paused:
        return "paused"
    if running and last is not None and last.status == "running":
        moved = last.progress_at or last.started_at
        if datetime.now(UTC) - moved > settings.stalled_after:
            return "stalled"
    if failures >= settings.failing_after:
        return "failing"  # a retry going on is no recovery: only a run that gets through is
    return "running" if running else "idle"
