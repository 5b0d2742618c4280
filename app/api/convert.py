"""Engine and store values as API models."""

from __future__ import annotations

from app.api.models import Counts, DeadLetterPublic, IdMapPublic, LogEntryPublic, RecordStory, RunPublic, SyncPublic
from app.engine.service import SyncView
from app.store import DeadLetterInfo, RunInfo
from app.store.history import LogRecord, Story


def run_public(run: RunInfo) -> RunPublic:
    return RunPublic(
        id=run.id,
        sync=run.sync,
        trigger=run.trigger,
        status=run.status,
        started_at=run.started_at,
        finished_at=run.finished_at,
        counts=Counts(**run.counts.as_dict()),
        error=run.error,
    )


def sync_public(view: SyncView) -> SyncPublic:
    return SyncPublic(
        name=view.name,
        description=view.description,
        source=view.source,
        target=view.target,
        mode=view.mode,
        schedule=view.schedule,
        webhook=view.webhook,
        after=view.after,
        paused=view.paused,
        status=view.status,
        last_run=run_public(view.last_run) if view.last_run is not None else None,
        next_run_at=view.next_run_at,
        dead_letters=view.dead_letters,
    )


def log_public(entry: LogRecord) -> LogEntryPublic:
    return LogEntryPublic(
        id=entry.id,
        run_id=entry.run_id,
        source_key=entry.source_key,
        target_key=entry.target_key,
        action=entry.action,
        error=entry.error,
        at=entry.at,
    )


def story_public(sync: str, source_key: str, story: Story) -> RecordStory:
    id_map = None
    if story.id_map is not None:
        id_map = IdMapPublic(target_key=story.id_map.target_key, hash=story.id_map.hash, updated_at=story.updated_at)
    return RecordStory(sync=sync, source_key=source_key, id_map=id_map, log=[log_public(e) for e in story.entries])


def dead_letter_public(letter: DeadLetterInfo) -> DeadLetterPublic:
    return DeadLetterPublic(
        id=letter.id,
        sync=letter.sync,
        source_key=letter.source_key,
        error=letter.error,
        reason=letter.reason,
        attempts=letter.attempts,
        first_failed_at=letter.first_failed_at,
        last_failed_at=letter.last_failed_at,
    )
