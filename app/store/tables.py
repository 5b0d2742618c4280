"""The state database's tables (SQLModel on SQLAlchemy).

Schema changes go through Alembic migrations in ``app/store/migrations``;
``tests/store/test_store_contract.py`` checks that the migrations and these models agree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, Index, Integer, Table, Text, TypeDecorator, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel


class UtcDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC (SQLite keeps no zone), read back as aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if isinstance(value, str):  # SQLite without type detection
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC) if value is not None else None


KeyText = Text().with_variant(Text(collation="C"), "postgresql")
"""Text compared byte by byte: sync names and source keys are identifiers, not words to sort by
language. On PostgreSQL a language collation makes each comparison in their indexes several
times dearer (the ID map and the record log take thousands of keys per batch); SQLite's
default is byte order already."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def _time(nullable: bool = False) -> Any:
    return Field(sa_column=Column(UtcDateTime(), nullable=nullable))


class Run(SQLModel, table=True):
    """One execution of a sync, with its counts."""

    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_sync_id", "sync", "id"),
        Index("ix_runs_started_at", "started_at"),
        {"sqlite_autoincrement": True},  # ids are never reused: an old id never names a new run
    )

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    sync: str = Field(sa_column=Column(Text, nullable=False))
    trigger: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(sa_column=Column(Text, nullable=False))
    started_at: datetime = _time()
    finished_at: datetime | None = _time(nullable=True)
    progress_at: datetime | None = _time(nullable=True)
    read: int = 0
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    error: str | None = Field(default=None, sa_column=Column(Text))
    conflicts: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    """Conflicts a two-way run settled."""
    by_direction: str | None = Field(default=None, sa_column=Column(Text))
    """A two-way run's counts per direction, as JSON: ``{"to_a": {...}, "to_b": {...}}``."""


class RecordLogEntry(SQLModel, table=True):
    """What one run did to one record (unchanged records are counted, not logged)."""

    __tablename__ = "record_log"
    __table_args__ = (
        Index("ix_record_log_sync_key", "sync", "source_key"),
        # also what purging by age goes by: runs' ids grow with time, so on PostgreSQL a block-range index
        # serves, at next to no cost per logged row
        Index("ix_record_log_run_id", "run_id", postgresql_using="brin"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    )
    run_id: int = Field(sa_column=Column(Integer, nullable=False))
    sync: str = Field(sa_column=Column(KeyText, nullable=False))
    source_key: str = Field(sa_column=Column(KeyText, nullable=False))
    target_key: str | None = Field(default=None, sa_column=Column(Text))
    action: str = Field(sa_column=Column(Text, nullable=False))
    error: str | None = Field(default=None, sa_column=Column(Text))
    at: datetime = _time()
    direction: str | None = Field(default=None, sa_column=Column(Text))
    """``to_a`` or ``to_b`` in a two-way sync; ``None`` in a one-way sync."""
    detail: str | None = Field(default=None, sa_column=Column(Text))
    """A conflict's field, both values and winner, as JSON."""


class IdMapEntry(SQLModel, table=True):
    """Which target record a source record became, and the hash of what was last written."""

    __tablename__ = "id_map"
    __table_args__ = (Index("ix_id_map_sync_target", "sync", "target_key"),)

    sync: str = Field(sa_column=Column(KeyText, primary_key=True))
    source_key: str = Field(sa_column=Column(KeyText, primary_key=True))
    target_key: str | None = Field(default=None, sa_column=Column(Text))
    hash: str | None = Field(default=None, sa_column=Column(Text))
    seen_run: int | None = Field(default=None, sa_column=Column(Integer))
    updated_at: datetime = _time()
    base: str | None = Field(default=None, sa_column=Column(Text))
    """A two-way pair's values last synchronised on each side, as typed JSON: ``{"a": {...}, "b": {...}}``."""


class Cursor(SQLModel, table=True):
    """Where a sync's source read got to: the connector's checkpoint, as typed JSON."""

    __tablename__ = "cursors"

    sync: str = Field(sa_column=Column(Text, primary_key=True))
    checkpoint: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: datetime = _time()


class DeadLetter(SQLModel, table=True):
    """A record that failed, kept with its source data so it can be retried."""

    __tablename__ = "dead_letters"
    __table_args__ = (
        UniqueConstraint("sync", "source_key", name="uq_dead_letters_sync_key"),
        {"sqlite_autoincrement": True},  # a discarded letter's id never names another record
    )

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    sync: str = Field(sa_column=Column(KeyText, nullable=False))
    source_key: str = Field(sa_column=Column(KeyText, nullable=False))
    record: str = Field(sa_column=Column(Text, nullable=False))
    error: str = Field(sa_column=Column(Text, nullable=False))
    reason: str = Field(sa_column=Column(Text, nullable=False))
    attempts: int = 1
    run_id: int | None = Field(default=None, sa_column=Column(Integer))
    first_failed_at: datetime = _time()
    last_failed_at: datetime = _time()
    discarded_at: datetime | None = _time(nullable=True)
    """Discarded by an operator: not retried or listed; the same record read again unchanged is left alone."""
    direction: str | None = Field(default=None, sa_column=Column(Text))
    """``to_a`` or ``to_b`` in a two-way sync (the direction whose write failed); ``None`` in a one-way sync."""


class Lease(SQLModel, table=True):
    """Who may run a sync now: one holder at a time, across every process sharing the database."""

    __tablename__ = "leases"

    name: str = Field(sa_column=Column(Text, primary_key=True))
    holder: str = Field(sa_column=Column(Text, nullable=False))
    expires_at: datetime = _time()


class SyncState(SQLModel, table=True):
    """What the service keeps about a sync between runs: paused, failing, its last schedule slot."""

    __tablename__ = "sync_states"

    sync: str = Field(sa_column=Column(Text, primary_key=True))
    paused: bool = False
    failures: int = 0
    """Runs in a row that failed because a system could not be reached."""
    backoff_until: datetime | None = _time(nullable=True)
    announced: str | None = Field(default=None, sa_column=Column(Text))
    """The status last announced by an alert, so every change is announced once."""
    last_slot: datetime | None = _time(nullable=True)
    """The last schedule slot a process claimed: each scheduled run happens once."""
    updated_at: datetime = _time()


class WebhookEvent(SQLModel, table=True):
    """A webhook delivery, stored before it is answered 202: the webhook inbox."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        UniqueConstraint("system", "delivery_id", name="uq_webhook_events_delivery"),
        Index("ix_webhook_events_system_id", "system", "id"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    system: str = Field(sa_column=Column(Text, nullable=False))
    delivery_id: str | None = Field(default=None, sa_column=Column(Text))
    """The sender's id of the delivery (webhook-id, X-GitHub-Delivery, Idempotency-Key): seen twice, kept once."""
    received_at: datetime = _time()
    body: str = Field(sa_column=Column(Text, nullable=False))
    records: int = 0
    status: str = Field(sa_column=Column(Text, nullable=False))
    """pending, processed or failed: taken from the event's progress in every sync that listens."""
    error: str | None = Field(default=None, sa_column=Column(Text))


class WebhookProgress(SQLModel, table=True):
    """Where one sync is with one webhook event."""

    __tablename__ = "webhook_progress"
    __table_args__ = (Index("ix_webhook_progress_sync_status", "sync", "status", "event_id"),)

    event_id: int = Field(sa_column=Column(Integer, primary_key=True))
    sync: str = Field(sa_column=Column(Text, primary_key=True))
    status: str = Field(sa_column=Column(Text, nullable=False))
    error: str | None = Field(default=None, sa_column=Column(Text))
    run_id: int | None = Field(default=None, sa_column=Column(Integer))
    updated_at: datetime = _time()


METADATA = SQLModel.metadata


def _table(model: type[SQLModel]) -> Table:
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


RUNS = _table(Run)
LOG = _table(RecordLogEntry)
ID_MAP = _table(IdMapEntry)
CURSORS = _table(Cursor)
DEAD_LETTERS = _table(DeadLetter)
LEASES = _table(Lease)
STATES = _table(SyncState)
WEBHOOK_EVENTS = _table(WebhookEvent)
WEBHOOK_PROGRESS = _table(WebhookProgress)
