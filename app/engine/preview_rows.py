"""What ``brygga preview`` shows of one record, one-way or two-way: its own module, so that both previews share
it without importing each other."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class PreviewRow:
    """One source record: the action a run would take, and what would change."""

    source_key: str
    action: str
    target_key: str | None = None
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    """field → (value in the target now, value it would get), for updates."""
    mapped: dict[str, Any] | None = None
    error: str | None = None
    note: str | None = None
    direction: str | None = None
    """In a two-way sync, the direction: ``to_b`` writes into b (``source_key`` is then a's key)."""
