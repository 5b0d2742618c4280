"""The state database: runs, record log, ID map, cursors, dead letters."""

from app.store.history import FieldChange, LogRecord, Story
from app.store.models import (
    BatchChanges,
    Checkpoint,
    Counts,
    DeadLetterInfo,
    DirectedEntry,
    Failure,
    IdMapping,
    LogEntry,
    Pair,
    RunInfo,
)
from app.store.states import SyncStateInfo
from app.store.store import Store
from app.store.webhook_inbox import EventInfo

__all__ = [
    "BatchChanges",
    "Checkpoint",
    "Counts",
    "DeadLetterInfo",
    "DirectedEntry",
    "EventInfo",
    "Failure",
    "FieldChange",
    "IdMapping",
    "LogEntry",
    "LogRecord",
    "Pair",
    "RunInfo",
    "Store",
    "Story",
    "SyncStateInfo",
]
