"""What the HTTP API answers: one model per resource, and a page model per list (SPEC 7)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

SyncStatus = Literal["idle", "running", "failing", "stalled", "paused"]
RunStatus = Literal["running", "succeeded", "partial", "failed"]
Trigger = Literal["schedule", "webhook", "manual", "retry"]
Action = Literal["created", "updated", "deleted", "skipped", "failed"]


class Problem(BaseModel):
    """An error: what went wrong, and what to do."""

    detail: str


class ConfigProblems(BaseModel):
    """A config that was refused, with every problem as FILE:LINE:COL: message."""

    detail: str
    errors: list[str]


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ready", "not ready"]


class Counts(BaseModel):
    """What a run did: every record read is exactly one of the others."""

    read: int
    created: int
    updated: int
    deleted: int
    unchanged: int
    skipped: int
    failed: int


class RunPublic(BaseModel):
    """One execution of a sync."""

    id: int
    sync: str
    trigger: str = Field(description="schedule, webhook, manual or retry")
    status: RunStatus
    started_at: datetime
    finished_at: datetime | None
    counts: Counts
    error: str | None


class RunsPage(BaseModel):
    items: list[RunPublic]
    next: str | None = Field(description="Pass as ?cursor= for the next page; null on the last.")


class SyncPublic(BaseModel):
    """A sync: its config in short, its status, its last run."""

    name: str
    description: str
    source: str
    target: str
    mode: Literal["upsert", "insert", "update", "mirror"]
    schedule: str | None
    webhook: bool
    after: str | None
    paused: bool
    status: SyncStatus
    last_run: RunPublic | None
    next_run_at: datetime | None
    dead_letters: int


class SyncsPage(BaseModel):
    items: list[SyncPublic]
    next: str | None


class RunStarted(BaseModel):
    run_id: int


class LogEntryPublic(BaseModel):
    """What one run did to one record."""

    id: int
    run_id: int
    source_key: str
    target_key: str | None
    action: str = Field(description="created, updated, deleted, skipped or failed")
    error: str | None
    at: datetime


class LogPage(BaseModel):
    items: list[LogEntryPublic]
    next: str | None


class IdMapPublic(BaseModel):
    """Which target record a source record became, and the hash of what was last written."""

    target_key: str | None
    hash: str | None
    updated_at: datetime | None


class RecordStory(BaseModel):
    """One source record's story: its ID map entry and every log entry, newest first."""

    sync: str
    source_key: str
    id_map: IdMapPublic | None
    log: list[LogEntryPublic]


class DeadLetterPublic(BaseModel):
    """A record that failed, kept so it can be retried."""

    id: int
    sync: str
    source_key: str
    error: str
    reason: str = Field(description="mapping, lookup or write")
    attempts: int
    first_failed_at: datetime
    last_failed_at: datetime


class DeadLettersPage(BaseModel):
    items: list[DeadLetterPublic]
    next: str | None


class Reloaded(BaseModel):
    """The syncs of the config now running."""

    syncs: list[str]


class WebhookEventPublic(BaseModel):
    """A received webhook delivery and how far its processing got."""

    id: int
    system: str
    received_at: datetime
    records: int
    status: Literal["pending", "processed", "failed", "discarded"] = Field(
        description="pending, processed, failed (a record failed; see error), or discarded by an operator"
    )
    error: str | None


class WebhookEventsPage(BaseModel):
    items: list[WebhookEventPublic]
    next: str | None
