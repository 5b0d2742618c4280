"""The state database: runs, record log, ID map, cursors, dead letters."""

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
from app.store.store import Store

__all__ = [
    "BatchChanges",
    "Checkpoint",
    "Counts",
    "DeadLetterInfo",
    "DirectedEntry",
    "Failure",
    "IdMapping",
    "LogEntry",
    "Pair",
    "RunInfo",
    "Store",
]
