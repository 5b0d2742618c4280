"""A webhook run: the sync's pending webhook events, mapped and written like any batch (SPEC 5).

Each group of events is planned, written and committed together with the
events' progress, so an event is processed exactly once: a crash before the
commit leaves it pending, and the next run processes it again (a record
written twice is recognised by its hash). ``delete_when`` turns an event
into deletes; ``fetch: true`` reads each record from the source by key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.engine.by_key import ByKey, records_by_key
from app.engine.planning import Action, Planned, plan_batch
from app.engine.webhook_checks import WebhookRejected, parse_json, records_of
from app.engine.writing import write_plan
from app.errors import DeleteWhenError
from app.mapping import Expression, compile_condition
from app.record_checks import UnfitKey
from app.records import Record
from app.store import BatchChanges, EventInfo

if TYPE_CHECKING:
    from app.engine.hosts import EventsRun

EVENTS_PER_ROUND = 100


async def process_events(run: EventsRun) -> None:
    """Work through every event of the sync's source stream that this sync has yet to process."""
    webhook = run.parts.source.system.webhook
    assert webhook is not None, "a webhook run needs the source system's webhook block"
    deletes = compile_condition(webhook.delete_when, variable="event") if webhook.delete_when else None
    while True:
        await run._stop_if_asked()
        events = await run.store.inbox.pending(run.sync.name, EVENTS_PER_ROUND)
        if not events:
            return
        group: list[tuple[EventInfo, list[Record]]] = []
        for event in events:
            body = parse_json(event.body)
            try:
                records = records_of(webhook, body)
            except WebhookRejected as exc:  # the config changed since it was accepted
                await _commit_failed(run, event, str(exc))
                continue
            try:
                is_delete = deletes is not None and _is_delete(deletes, body)
            except DeleteWhenError as exc:  # this event fails alone; the others go on
                await _commit_failed(run, event, str(exc))
                continue
            if is_delete:
                await _upsert(run, group)
                group = []
                await _delete(run, event, records)
            else:
                group.append((event, records))
        await _upsert(run, group)


def _is_delete(condition: Expression, event: Any) -> bool:
    """:raises DeleteWhenError: when the expression raises for this event"""
    try:
        return bool(condition(event))
    except Exception as exc:
        raise DeleteWhenError(f"delete_when: {type(exc).__name__}: {exc}") from exc


async def _upsert(run: EventsRun, group: list[tuple[EventInfo, list[Record]]]) -> None:
    """Plan, write and commit the records of ``group``'s events, with each event's outcome."""
    if not group:
        return
    owners = [event.id for event, records in group for _ in records]
    records = [record for _, records in group for record in records]
    plan = await _plan(run, records)
    changes = await write_plan(run.parts, plan, run.engine.sleep, run.run_id)
    first_error: dict[int, str | None] = {event.id: None for event, _ in group}
    for owner, item in zip(owners, plan, strict=True):
        if item.action is Action.FAIL and first_error[owner] is None:
            first_error[owner] = f"record {item.source_key}: {item.error}"
    changes.events = list(first_error.items())
    await run._commit(changes)
    await run.commits.wait()
    run.events_done += len(changes.events)


async def _plan(run: EventsRun, records: list[Record]) -> list[Planned]:
    """The records' plan; with ``fetch: true``, each record read from the source by its key first."""
    webhook = run.parts.source.system.webhook
    if webhook is None or not webhook.fetch:
        return await plan_batch(run.parts, records)
    keys = [run.parts.mapping.source_key(record) for record in records]
    askable = list(dict.fromkeys(key for key in keys if key is not None and type(key) is not UnfitKey))
    looked_up = await records_by_key(
        run.parts.source, run.sync.source_stream, askable, run.sync.retry, run.engine.sleep
    )
    fresh = looked_up.found
    planned = iter(await plan_batch(run.parts, [fresh[key] for key in keys if key is not None and key in fresh]))
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
    if type(key) is UnfitKey:
        return f"the key holds a NUL byte or text that is not valid Unicode: {run.sync.source} cannot be asked for it"
    if key in looked_up.refused:
        return str(looked_up.refused[key])
    return f"{run.sync.source} has no record {key} (fetch)"


async def _delete(run: EventsRun, event: EventInfo, records: list[Record]) -> None:
    """Delete the target records of the event's source records (those Brygga wrote)."""
    keys = [key for key in map(run.parts.mapping.source_key, records) if key is not None]
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
