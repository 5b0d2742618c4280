"""What the HTTP API answers: one model per resource, and a page model per list (SPEC 7)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, PrivateAttr, SerializerFunctionWrapHandler, model_serializer

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


class _TwoWayFields(BaseModel):
    """A model with fields only two-way syncs have: left out of one-way answers, which stay as they were."""

    _two_way_only: ClassVar[tuple[str, ...]] = ()
    _marker: ClassVar[str] = ""
    """The field that is null exactly for one-way syncs."""

    @model_serializer(mode="wrap")
    def _without_two_way_fields(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if self._one_way():
            for name in self._two_way_only:
                data.pop(name, None)
        return data

    def _one_way(self) -> bool:
        return getattr(self, self._marker) is None


class RunPublic(_TwoWayFields):
    """One execution of a sync."""

    _two_way_only = ("conflicts", "counts_by_direction")
    _marker = "counts_by_direction"

    id: int
    sync: str
    trigger: str = Field(description="schedule, webhook, manual or retry")
    status: RunStatus
    started_at: datetime
    finished_at: datetime | None
    counts: Counts
    error: str | None
    conflicts: int = Field(0, description="Conflicts a two-way run settled (two-way runs only).")
    counts_by_direction: dict[Literal["to_a", "to_b"], Counts] | None = Field(
        None, description="A two-way run's counts per direction; `counts` sums them (two-way runs only)."
    )


class RunsPage(BaseModel):
    items: list[RunPublic]
    next: str | None = Field(description="Pass as ?cursor= for the next page; null on the last.")


class SyncPublic(BaseModel):
    """A sync: its config in short, its status, its last run."""

    name: str
    description: str
    source: str
    target: str
    mode: Literal["upsert", "insert", "update", "mirror", "two_way"] = Field(
        description="upsert, insert, update or mirror; two_way for a two-way sync (source is its a, target its b)"
    )
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


class Conflict(BaseModel):
    """A field changed on both sides of a two-way pair to different values, and whose value stood."""

    field: str
    a: Any
    b: Any
    winner: Literal["a", "b"]


class LogEntryPublic(_TwoWayFields):
    """What one run did to one record."""

    _two_way_only = ("direction", "conflict")
    _marker = "direction"

    id: int
    run_id: int
    source_key: str
    target_key: str | None
    action: str = Field(description="created, updated, deleted, skipped, failed; conflict in a two-way sync")
    error: str | None
    at: datetime
    direction: Literal["to_a", "to_b"] | None = Field(
        None, description="In a two-way sync, the direction: to_b carries a's record into b (two-way only)."
    )
    conflict: Conflict | None = Field(None, description="A conflict's field, both values and whose value stood.")


class LogPage(BaseModel):
    items: list[LogEntryPublic]
    next: str | None


class IdMapPublic(_TwoWayFields):
    """Which target record a source record became, and the hash of what was last written."""

    _two_way_only = ("gone_from",)
    _two_way: bool = PrivateAttr(False)
    """Whether the entry is a two-way pair's: its ``gone_from`` is shown, null too (no field is null only for
    one-way syncs)."""

    target_key: str | None
    hash: str | None
    updated_at: datetime | None
    gone_from: Literal["a", "b"] | None = Field(
        None,
        description="The side whose record was deleted, a delete `delete_in` does not carry: the pair is unlinked"
        " and the edits of the record left are skipped, not carried (two-way syncs only; null: both records exist).",
    )

    def _one_way(self) -> bool:
        return not self._two_way

    @classmethod
    def of(cls, two_way: bool, **values: Any) -> IdMapPublic:
        """The entry; ``two_way`` for a two-way pair's."""
        entry = cls(**values)
        entry._two_way = two_way
        return entry


class FieldChange(BaseModel):
    """One field a write changed: its value before (null where it had none) and the value written."""

    field: str
    before: Any
    after: Any


class StoryEntryPublic(LogEntryPublic):
    """A log entry in a record's story: a write also says which fields it changed."""

    changes: list[FieldChange] | None = Field(
        None,
        description="A created or updated record's changed fields, from what to what; null where unknown"
        " (the project keeps no values, `record_log.values: false`, or the values before were purged).",
    )


class RecordStory(BaseModel):
    """One source record's story: its ID map entry and every log entry, newest first."""

    sync: str
    source_key: str
    id_map: IdMapPublic | None
    log: list[StoryEntryPublic]


class DeadLetterPublic(_TwoWayFields):
    """A record that failed, kept so it can be retried."""

    _two_way_only = ("direction",)
    _marker = "direction"

    id: int
    sync: str
    source_key: str
    error: str
    reason: str = Field(description="mapping, lookup or write")
    direction: Literal["to_a", "to_b"] | None = Field(
        None, description="In a two-way sync, the direction whose write failed (source_key is its source's)."
    )
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
