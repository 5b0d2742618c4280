"""The state database: runs, record log, ID map, cursors, dead letters."""

from app.store.models import BatchChanges, Checkpoint, Counts, DeadLetterInfo, Failure, IdMapping, LogEntry, RunInfo
from app.store.store import Store

__all__ = [
    "BatchChanges",
    "Checkpoint",
    "Counts",
    "DeadLetterInfo",
    "Failure",
    "IdMapping",
    "LogEntry",
    "RunInfo",
    "Store",
]
