"""A webhook run: the sync's pending webhook events, mapped and written like any batch (SPEC 5).

Events' records are planned, written and committed in batches, and each
event's progress with the batch that holds its last record, so an event is
processed exactly once: a crash before that commit leaves it pending, and the
next run processes it again (a record written twice is recognised by its hash). ``delete_when`` turns an event
into deletes; ``fetch: true`` reads each record from the source by key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.engine.by_key import ByKey, records_by_key
from app.engine.planning import Action, Planned, plan_batch
from app.engine.webhook_checks import NotARecord, WebhookRejected, parsed, records_in, records_of
from app.engine.writing import write_plan
from app.errors import DeleteWhenError
from app.mapping import Expression, compile_condition, condition_truth
from app.record_checks import UnfitKey
from app.records import Record
from app.store import BatchChanges, EventInfo

if TYPE_CHECKING:
    from app.engine.hosts import EventsRun

EVENTS_PER_ROUND = 100


async def process_events(run: EventsRun) -> None:
    """Work through every event of the sync's source stream that this sync has yet to process.

    Records go in batches of the source system's ``batch_size``: several small events in one, a large event
    over several; an event's progress is committed with the batch that holds its last record. Each body is
    parsed in a worker thread (a MiB of tiny records takes a fraction of a second: the service goes on
    answering meanwhile) and let go once its records are written: 60 events of 87,000 records each, all
    parsed and planned at once on the event loop, once took 1.4 GB and held ``/health`` for 30 s.
    """
    webhook = run.parts.source.system.webhook
    assert webhook is not None, "a webhook run needs the source system's webhook block"
    deletes = compile_condition(webhook.delete_when, variable="event") if webhook.delete_when else None
    size = run.parts.source.system.options.batch_size
    while True:
        await run._stop_if_asked()
        events = await run.store.inbox.pending(run.sync.name, EVENTS_PER_ROUND)
        if not events:
            return
        errors: dict[int, str | None] = {}
        """Each event's first failed record, until the batch that finishes the event is committed."""
        batch = _Batch()
        events.reverse()
        while events:
            event = events.pop()  # the round keeps no body it is done with
            body = await parsed(event.body)
            try:
                records = records_in(webhook, records_of(webhook, body), run.parts.mapping.key.fields)
            except WebhookRejected as exc:  # the config changed since it was accepted
                await _commit_failed(run, event, str(exc))
                continue
            try:
                is_delete = deletes is not None and _is_delete(deletes, body)
            except DeleteWhenError as exc:  # this event fails alone; the others go on
                await _commit_failed(run, event, str(exc))
                continue
            if is_delete:
                await _upsert(run, batch, errors)
                batch = _Batch()
                await _delete(run, event, records)
                continue
            start = 0
            while True:
                end = start + size - len(batch.records)
                batch.add(event.id, records[start:end], finished=end >= len(records))
                start = end
                if len(batch.records) < size:
                    break  # room left for the next event's records
                await _upsert(run, batch, errors)
                batch = _Batch()
                if start >= len(records):
                    break
        await _upsert(run, batch, errors)


def _is_delete(condition: Expression, event: Any) -> bool:
    """:raises DeleteWhenError: when the expression raises for this event"""
    try:
        return condition_truth(condition(event))
    except Exception as exc:
        raise DeleteWhenError(f"delete_when: {type(exc).__name__}: {exc}") from exc


@dataclass
class _Batch:
    """Records of one or more events, planned, written and committed together."""

    records: list[Record | NotARecord] = field(default_factory=list)
    owners: list[int] = field(default_factory=list)
    """Each record's event."""
    finished: list[int] = field(default_factory=list)
    """The events whose last record is in this batch (or that have none): their progress is committed with it."""

    def add(self, event_id: int, records: list[Record | NotARecord], *, finished: bool) -> None:
        self.records += records
        self.owners += [event_id] * len(records)
        if finished:
            self.finished.append(event_id)


async def _upsert(run: EventsRun, batch: _Batch, errors: dict[int, str | None]) -> None:
    """Plan, write and commit ``batch``'s records, with the outcome of each event it finishes (``errors``:
    each event's first failed record so far, kept until its outcome is committed)."""
    if not batch.finished and not batch.records:
        return
    plan = await _plan_items(run, batch.records, batch.owners)
    changes = await write_plan(run.parts, plan, run.engine.sleep, run.run_id)
    for owner, item in zip(batch.owners, plan, strict=True):
        if item.action is Action.FAIL and errors.get(owner) is None:
            errors[owner] = f"record {item.source_key}: {item.error}"
    changes.events = [(event_id, errors.pop(event_id, None)) for event_id in batch.finished]
    await run._commit(changes)
    await run.commits.wait()
    run.events_done += len(changes.events)


async def _plan_items(run: EventsRun, items: list[Record | NotARecord], owners: list[int]) -> list[Planned]:
    """The plan of ``items``, in their order: each item that is no record failed (it names its event)."""
    records = [item for item in items if not isinstance(item, NotARecord)]
    if len(records) == len(items):
        return await _plan(run, records)
    planned = iter(await _plan(run, records))
    return [
        _not_a_record(item, owner) if isinstance(item, NotARecord) else next(planned)
        for item, owner in zip(items, owners, strict=True)
    ]


def _not_a_record(item: NotARecord, event_id: int) -> Planned:
    key = f"(not a record) event {event_id} {item.where}"
    return Planned(key, {"item": item.item}, Action.FAIL, error=item.error, reason="mapping")


async def _plan(run: EventsRun, records: list[Record]) -> list[Planned]:
    """The records' plan; with ``fetch: true``, each record read from the source by its key first."""
    webhook = run.parts.source.system.webhook
    if webhook is None or not webhook.fetch:
        return await plan_batch(run.parts, records, events=True)
    keys = [run.parts.mapping.source_key(record) for record in records]
    askable = list(dict.fromkeys(key for key in keys if key is not None and type(key) is not UnfitKey))
    looked_up = await records_by_key(
        run.parts.source, run.sync.source_stream, askable, run.sync.retry, run.engine.sleep
    )
    fresh = looked_up.found
    fetched = [fresh[key] for key in keys if key is not None and key in fresh]
    planned = iter(await plan_batch(run.parts, fetched, events=True))
    plan: list[Planned] = []
    for key, record in zip(keys, records, strict=True):  # in the records' order: each outcome is its event's
        if key is not None and key in fresh:
            plan.append(next(planned))
        else:
            plan.append(
                Planned(key or "(no key)", record, Action.FAIL, error=_not_fetched(run, key, looked_up), reason="fetch")
            )
    return plan


def _not_fetched(run: EventsRun, key: str | None, looked_up: ByKey) -> str:
    """Why the record of ``key`` was not fetched."""
    if key is None:
        return "the event names no key"
    if isinstance(key, UnfitKey):
        return f"the key {key.why}: {run.sync.source} cannot be asked for it"
    if key in looked_up.refused:
        return str(looked_up.refused[key])
    return f"{run.sync.source} has no record {key} (fetch)"


async def _delete(run: EventsRun, event: EventInfo, records: list[Record | NotARecord]) -> None:
    """Delete the target records of the event's source records (those Brygga wrote); an item that is no
    record names none (counted as skipped)."""
    keys = [
        key
        for key in (run.parts.mapping.source_key(record) for record in records if not isinstance(record, NotARecord))
        if key is not None
    ]
    known = await run.store.id_map(run.sync.name, keys)
    gone = [(key, entry.target_key) for key, entry in known.items() if entry.target_key is not None]
    changes = BatchChanges()
    changes.counts.read = len(records)
    changes.counts.skipped = len(records) - len(gone)
    changes.events = [(event.id, None)]
    await run._delete(gone, changes)
    await run.commits.wait()
    run.events_done += 1


async def _commit_failed(run: EventsRun, event: EventInfo, error: str) -> None:
    changes = BatchChanges(events=[(event.id, error)])
    await run._commit(changes)
    await run.commits.wait()
    run.events_done += 1
