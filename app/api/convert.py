"""Engine and store values as API models: read by attribute, so a field added to both needs no code here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.api.models import (
    DeadLetterPublic,
    IdMapPublic,
    LogEntryPublic,
    RecordStory,
    RunPublic,
    StoryEntryPublic,
    SyncPublic,
)
from app.engine import SyncView

if TYPE_CHECKING:  # what the engine hands over; the API reads it by attribute, never reaching the store
    from app.store import DeadLetterInfo, LogRecord, RunInfo, Story


def run_public(run: RunInfo) -> RunPublic:
    return RunPublic.model_validate(run, from_attributes=True)


def sync_public(view: SyncView) -> SyncPublic:
    return SyncPublic.model_validate(view, from_attributes=True)


def log_public(entry: LogRecord) -> LogEntryPublic:
    return LogEntryPublic.model_validate(entry, from_attributes=True)


def story_entry_public(entry: LogRecord) -> StoryEntryPublic:
    return StoryEntryPublic.model_validate(entry, from_attributes=True)


def dead_letter_public(letter: DeadLetterInfo) -> DeadLetterPublic:
    return DeadLetterPublic.model_validate(letter, from_attributes=True)


def story_public(sync: str, source_key: str, story: Story) -> RecordStory:
    id_map = None
    if story.id_map is not None:
        mapping = story.id_map
        id_map = IdMapPublic.of(
            story.two_way,
            target_key=mapping.target_key,
            hash=mapping.hash,
            updated_at=story.updated_at,
            gone_from=mapping.gone_from,
        )
    entries = [story_entry_public(entry) for entry in story.entries]
    return RecordStory(sync=sync, source_key=source_key, id_map=id_map, log=entries)
