"""The state database's tables (SQLAlchemy Core).

Schema changes go through Alembic migrations in ``app/store/migrations``;
``tests/store/test_store_contract.py`` checks that the migrations and these tables agree.

Plain ``Table`` objects, not ORM classes: Brygga reads and writes the state with Core statements
only, and building ORM-mapped classes (SQLModel's ``table=True``) cost every ``brygga run`` about
30 ms of start-up for mappers nothing used.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect


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


def _time(name: str, nullable: bool = False) -> Column[Any]:
    return Column(name, UtcDateTime(), nullable=nullable)


def _count(name: str, default: int = 0) -> Column[Any]:
    return Column(name, Integer, nullable=False, default=default)


METADATA = MetaData()

RUNS = Table(
    "runs",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("sync", Text, nullable=False),
    Column("trigger", Text, nullable=False),
    Column("status", Text, nullable=False),
    _time("started_at"),
    _time("finished_at", nullable=True),
    _time("progress_at", nullable=True),
    _count("read"),
    _count("created"),
    _count("updated"),
    _count("deleted"),
    _count("unchanged"),
    _count("skipped"),
    _count("failed"),
    Column("error", Text),
    Column("conflicts", Integer, nullable=False, default=0, server_default="0"),  # settled by a two-way run
    Column("by_direction", Text),  # a two-way run's counts per direction, as JSON: {"to_a": {...}, "to_b": {...}}
    Index("ix_runs_sync_id", "sync", "id"),
    Index("ix_runs_started_at", "started_at"),
    sqlite_autoincrement=True,  # ids are never reused: an old id never names a new run
)
"""One execution of a sync, with its counts."""

LOG = Table(
    "record_log",
    METADATA,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("run_id", Integer, nullable=False),
    Column("sync", KeyText, nullable=False),
    Column("source_key", KeyText, nullable=False),
    Column("target_key", Text),
    Column("action", Text, nullable=False),
    Column("error", Text),
    _time("at"),
    Column("direction", Text),  # to_a or to_b in a two-way sync; null in a one-way sync
    Column("detail", Text),  # a conflict's field, both values and winner, as JSON
    Index("ix_record_log_sync_key", "sync", "source_key"),
    # Also what purging by age goes by: runs' ids grow with time. On PostgreSQL migration 0005 makes it
    # a block-range index (BRIN), at next to no cost per logged row; it is not said here with
    # postgresql_using, which would load the PostgreSQL dialect into every SQLite run (~15 ms), and
    # Alembic compares no index methods (tests/store/test_store_contract.py checks the BRIN itself).
    Index("ix_record_log_run_id", "run_id"),
    sqlite_autoincrement=True,
)
"""What one run did to one record (unchanged records are counted, not logged)."""

ID_MAP = Table(
    "id_map",
    METADATA,
    Column("sync", KeyText, primary_key=True),
    Column("source_key", KeyText, primary_key=True),
    Column("target_key", Text),
    Column("hash", Text),
    Column("seen_run", Integer),
    _time("updated_at"),
    # a two-way pair's values last synchronised on each side, as typed JSON: {"a": {...}, "b": {...}}
    Column("base", Text),
    # a two-way pair whose record is gone from this side ('a' or 'b'), the delete not carried (delete_in)
    Column("gone_from", Text),
    # one-way: the hashes (space-separated) of later records of a key the source gave twice in one read, each
    # written as such once: the very same repeat read again at a later run is skipped (app/engine/read_twice.py)
    Column("repeat_hashes", Text),
    Index("ix_id_map_sync_target", "sync", "target_key"),
    sqlite_with_rowid=False,  # on SQLite its rows in the key's order: one B-tree fewer per record (migration 0008)
)
"""Which target record a source record became, and the hash of what was last written."""

CURSORS = Table(
    "cursors",
    METADATA,
    Column("sync", Text, primary_key=True),
    Column("checkpoint", Text, nullable=False),
    _time("updated_at"),
)
"""Where a sync's source read got to: the connector's checkpoint, as typed JSON."""

ONE_WAY = ""
"""A one-way sync's dead letters' ``direction``: they have none (read back as ``None``)."""

DEAD_LETTERS = Table(
    "dead_letters",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("sync", KeyText, nullable=False),
    Column("source_key", KeyText, nullable=False),
    Column("record", Text, nullable=False),
    Column("error", Text, nullable=False),
    Column("reason", Text, nullable=False),
    _count("attempts", default=1),
    Column("run_id", Integer),
    _time("first_failed_at"),
    _time("last_failed_at"),
    # discarded by an operator: not retried or listed; the same record read again unchanged is left alone
    _time("discarded_at", nullable=True),
    # to_a or to_b in a two-way sync (the direction whose write failed); ONE_WAY in a one-way sync. Not null,
    # being part of the unique key: a two-way pair failing both ways whose a key reads as its b key is two letters
    Column("direction", Text, nullable=False, server_default=ONE_WAY),
    # the hash of ``record`` (the engine's record hash); none in letters kept before migration 0009
    Column("hash", Text),
    UniqueConstraint("sync", "direction", "source_key", name="uq_dead_letters_sync_direction_key"),
    sqlite_autoincrement=True,  # a discarded letter's id never names another record
)
"""A record that failed, kept with its source data so it can be retried."""

DIRECTIONS = (ONE_WAY, "to_a", "to_b")
"""Every ``direction`` a dead letter has: said in a look-up by sync and key, the whole unique index finds it."""

RETRIED = Table(
    "retried_letters",
    METADATA,
    Column("sync", KeyText, primary_key=True),
    Column("run_id", Integer, primary_key=True),
    Column("source_key", KeyText, primary_key=True),
    Column("hash", Text, nullable=False),
)
"""The records a run's retry of dead letters dealt with (source key, record hash), kept while that run goes
on: the same record read again later in the run is left alone, and counted once. Cleared as the run ends,
and (for a run that was killed) as the sync's next run starts."""

LEASES = Table(
    "leases",
    METADATA,
    Column("name", Text, primary_key=True),
    Column("holder", Text, nullable=False),
    _time("expires_at"),
)
"""Who may run a sync now: one holder at a time, across every process sharing the database."""

STATES = Table(
    "sync_states",
    METADATA,
    Column("sync", Text, primary_key=True),
    Column("paused", Boolean, nullable=False, default=False),
    _count("failures"),  # runs in a row that failed because a system could not be reached
    _time("backoff_until", nullable=True),
    Column("announced", Text),  # the status last announced by an alert, so every change is announced once
    _time("last_slot", nullable=True),  # the last schedule slot a process claimed: each scheduled run happens once
    _time("updated_at"),
)
"""What the service keeps about a sync between runs: paused, failing, its last schedule slot."""

WEBHOOK_EVENTS = Table(
    "webhook_events",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("system", Text, nullable=False),
    # the sender's id of the delivery (webhook-id, X-GitHub-Delivery, Idempotency-Key): seen twice, kept once
    Column("delivery_id", Text),
    _time("received_at"),
    Column("body", Text, nullable=False),
    _count("records"),
    # pending, processed or failed: taken from the event's progress in every sync that listens
    Column("status", Text, nullable=False),
    Column("error", Text),
    UniqueConstraint("system", "delivery_id", name="uq_webhook_events_delivery"),
    Index("ix_webhook_events_system_id", "system", "id"),
    sqlite_autoincrement=True,
)
"""A webhook delivery, stored before it is answered 202: the webhook inbox."""

WEBHOOK_PROGRESS = Table(
    "webhook_progress",
    METADATA,
    Column("event_id", Integer, primary_key=True),
    Column("sync", Text, primary_key=True),
    Column("status", Text, nullable=False),
    Column("error", Text),
    Column("run_id", Integer),
    _time("updated_at"),
    Index("ix_webhook_progress_sync_status", "sync", "status", "event_id"),
)
"""Where one sync is with one webhook event."""
