"""Reads and writes through a connector, checked: a connector is third-party code, and the engine trusts
none of its answers blindly.

A connector's mistake fails what met it, with a message naming the connector: a record it answered
wrongly fails alone (a result for another record, a target key that is no text, or text no ID map can
keep: empty, a NUL byte, a lone surrogate, past :data:`~app.record_checks.MOST_KEY_BYTES`); a key ``match``
found that no ID map can keep is not adopted; an answer that cannot be matched to the writes or records
sent (too few or too many results) fails the run, with nothing of that batch recorded as written; an
exception that would end the process (``KeyboardInterrupt``, ``SystemExit``) fails the run that called,
not the service and its other syncs;
a call that does not return within its system's ``call_timeout`` is cancelled and fails the run, which
then releases its sync for the next run.

A connector that swallows its cancellation (``except BaseException: continue``) cannot hold its caller
either: a call that has not ended :data:`~app.engine.stuck_calls.CANCEL_GRACE` seconds after it was
cancelled is given up on, logged, left running, and failed as a timeout all the same.

Each call under way is noted by task (:data:`calls_in_progress`), so that a connector that holds the
event loop (``time.sleep`` in an async method) can be named by the service's loop watch.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from contextvars import ContextVar
from itertools import chain
from typing import Any, NamedTuple, TypeVar

from app.config import format_duration
from app.engine.stuck_calls import CANCEL_GRACE, LeftRunning, unless_stuck
from app.errors import ConnectorError, ConnectorTimeout, PermanentError
from app.record_checks import FLAT_TYPES, NotARecord, key_problem, oversized_reason, shown_value
from connectors.base import Batch, Connector, StreamInfo, Write, WriteAction, WriteResult

_T = TypeVar("_T")
log = logging.getLogger("brygga.engine")

log = logging.getLogger("brygga.engine")

_ENDING = (KeyboardInterrupt, SystemExit)
"""What a connector may raise that, escaping a task, ends the event loop and the process with it. Catching
them around a connector's call stops no real shutdown: under ``asyncio.run`` a Ctrl-C arrives as a
cancellation of the main task, and SIGTERM is the service's own handler's (``brygga run`` just ends)."""


calling_sync: ContextVar[str | None] = ContextVar("brygga_calling_sync", default=None)
"""The sync whose run is calling connectors (every task the run starts inherits it); ``None`` elsewhere."""


class ConnectorCall(NamedTuple):
    """A call into a connector under way: what the loop watch names when the event loop is held (a tuple:
    one is made per call)."""

    connector: Connector
    doing: str
    sync: str | None


calls_in_progress: dict[asyncio.Task[Any] | None, ConnectorCall] = {}
"""The connector call each task is in, while it is in one."""


def _timed_out(connector: Connector, doing: str, *, left_running: bool = False) -> ConnectorTimeout:
    """The error a run fails with where a call outlasted its system's ``call_timeout``."""
    system = connector.system
    limit = format_duration(system.options.call_timeout)
    cancelled = (
        "the call was cancelled (it did not stop, and is left running)" if left_running else "the call was cancelled"
    )
    return ConnectorTimeout(
        f"{connector_name(connector)} did not finish {doing} within {limit} (the system's call_timeout), so "
        f"{cancelled} and the run stops; the next run starts afresh. If system '{system.name}' is just "
        "that slow, give it a longer call_timeout; else the connector is stuck and needs fixing"
    )


async def _within_deadline(connector: Connector, doing: str, call: Awaitable[_T]) -> _T:
    """``await call`` within the system's ``call_timeout``; what would end the process fails the caller.

    :raises ConnectorTimeout: past the deadline: the call is cancelled, or left running where it does not
        stop (:mod:`app.engine.stuck_calls`)
    """
    deadline = asyncio.timeout(connector.system.options.call_timeout.total_seconds())
    task = asyncio.current_task()
    before = calls_in_progress.get(task)  # the loop watch names the call a task that holds the loop is in
    note = calls_in_progress[task] = ConnectorCall(connector, doing, calling_sync.get())
    stops_asked = task.cancelling() if task is not None else 0
    try:
        async with deadline:
            return await unless_stuck(call, doing, left=lambda: _log_left_running(note))
    except _ENDING as exc:
        raise _ended(connector, doing, exc) from exc
    except LeftRunning as exc:
        if task is not None and task.cancelling() > stops_asked:  # stopped from outside (a Ctrl-C, shutdown)
            raise asyncio.CancelledError from None
        raise _timed_out(connector, doing, left_running=True) from exc  # the cause: see _guarded
    except TimeoutError:
        if deadline.expired():  # else the connector's own TimeoutError, raised as it is
            raise _timed_out(connector, doing) from None
        raise
    finally:
        if before is None:
            calls_in_progress.pop(task, None)
        else:
            calls_in_progress[task] = before


def _log_left_running(note: ConnectorCall) -> None:
    by = f"sync {note.sync}: " if note.sync is not None else ""
    log.warning(
        "%s%s did not stop within %gs of being cancelled while %s: the call is given up on and left running "
        "(a connector must let asyncio.CancelledError through, and not wait without end on a thread)",
        by,
        connector_name(note.connector),
        CANCEL_GRACE,
        note.doing,
    )


def connector_name(connector: Connector) -> str:
    """How messages name a connector: its kind and its system."""
    return f"the {connector.system.connector} connector of system '{connector.system.name}'"


def _ended(connector: Connector, doing: str, exc: BaseException) -> PermanentError:
    """The error a run fails with where a connector raised what would end the process."""
    return PermanentError(
        f"{connector_name(connector)} raised {type(exc).__name__}({shown_value(str(exc))}) while {doing}: a connector "
        "must raise TransientError or PermanentError; the run fails, the service and its other syncs go on"
    )


async def _guarded(connector: Connector, doing: str, iterator: AsyncIterator[Any]) -> AsyncGenerator[Any]:
    """``iterator``'s items, each within the system's ``call_timeout``; what would end the process raised by
    it fails the caller instead."""
    try:
        while True:
            try:
                item = await _within_deadline(connector, doing, anext(iterator))
            except StopAsyncIteration:
                return
            except ConnectorTimeout as exc:
                if isinstance(exc.__cause__, LeftRunning):  # still inside that call: closing it would fail too
                    iterator = _ended_iterator()
                raise
            yield item
    finally:
        close = getattr(iterator, "aclose", None)
        if close is not None:
            await _within_deadline(connector, doing, close())


async def _ended_iterator() -> AsyncGenerator[Any]:
    """An iterator with nothing left, in place of one given up on."""
    return
    yield


async def guarded(connector: Connector, doing: str, call: Awaitable[_T]) -> _T:
    """``await call``, a call into ``connector``, within its system's ``call_timeout``; what would end the
    process fails the caller instead.

    :raises ConnectorTimeout: when the call did not return in time (it is cancelled)
    """
    return await _within_deadline(connector, doing, call)


async def read_batches(
    connector: Connector, stream: str, checkpoint: dict[str, Any] | None, batch_size: int
) -> AsyncGenerator[Batch]:
    """:meth:`Connector.read`, checked: each item a :class:`Batch` of mappings.

    A record that is not a mapping becomes a :class:`NotARecord` (it fails alone); an item that is not a
    ``Batch`` fails the read, naming the connector (its checkpoint is unknown: nothing can be stored).
    """
    doing = f"reading stream '{stream}'"
    batches = _guarded(connector, doing, connector.read(stream, checkpoint, batch_size))
    try:
        async for batch in batches:
            yield _checked_batch(connector, stream, batch)
    finally:
        await batches.aclose()


def _checked_batch(connector: Connector, stream: str, batch: object) -> Batch:
    if not isinstance(batch, Batch) or not isinstance(batch.records, list):
        what = type(batch).__name__ if not isinstance(batch, Batch) else f"a Batch of {type(batch.records).__name__}"
        raise PermanentError(
            f"{connector_name(connector)} read stream '{stream}' as {what}, not as Batch(records, checkpoint) "
            "with a list of records: the connector must yield connectors.base.Batch objects"
        )
    records = batch.records
    if all(type(record) is dict for record in records) and not _any_oversized(connector, records):
        return batch
    return Batch([_checked_record(connector, stream, record) for record in records], batch.checkpoint)


def _checked_record(connector: Connector, stream: str, record: object, gave: str = "read") -> dict[str, Any]:
    """``record``, or a :class:`NotARecord` standing in for it where it is no mapping, or too large to keep.

    :param gave: how the connector gave it, for the message (``read``)
    """
    if not isinstance(record, dict):
        why = (
            f"{connector_name(connector)} {gave} {shown_value(record)} from stream '{stream}', a "
            f"{type(record).__name__}, not a record (a mapping of field to value): the connector needs fixing"
        )
        return NotARecord(record, why)
    too_large = None if _builtin(connector) else oversized_reason(record)
    if too_large is None:
        return record
    why = f"{connector_name(connector)} {gave} a record from stream '{stream}' that {too_large}"
    return NotARecord("a record too large to keep", why)


def checked_found(connector: Connector, stream: str, found: object) -> tuple[dict[str, Any], dict[str, str]]:
    """What :meth:`Connector.get` answered, checked as a read's records are: the records fit to map, and for
    each key whose record is no mapping, or too large to keep written out (a third-party kind's list held in
    it many times over), why. Looked-up records went unchecked: such a record was hashed and kept in full, in
    C, for hours, as a read one was before its check.

    :raises PermanentError: when the answer is not a mapping of key to record
    """
    if not isinstance(found, dict):
        raise PermanentError(
            f"{connector_name(connector)} answered a look-up by key in stream '{stream}' with "
            f"{type(found).__name__}, not a dict of key to record: the connector needs fixing"
        )
    records = list(found.values())
    if all(type(record) is dict for record in records) and not _any_oversized(connector, records):
        return found, {}
    fit: dict[str, Any] = {}
    unfit: dict[str, str] = {}
    for key, record in found.items():
        checked = _checked_record(connector, stream, record, "looked up")
        if isinstance(checked, NotARecord):
            unfit[key] = checked.why
        else:
            fit[key] = checked
    return fit, unfit


def _builtin(connector: Connector) -> bool:
    """Whether ``connector`` is of a kind of Brygga's own, whose records come from parsers (JSON, rows, cells)
    that never put one list or object in two places: none is larger written out than what was read."""
    return type(connector).__module__.startswith("connectors.")


def _any_oversized(connector: Connector, records: list[dict[str, Any]]) -> bool:
    """Whether a record of a third-party kind's ``records`` (all mappings) is too large to keep written out (a
    list held in it many times over): at C speed where every value is a text, number or date, as nearly always."""
    if _builtin(connector):
        return False
    values = chain.from_iterable(map(dict.values, records))
    return not FLAT_TYPES.issuperset(map(type, values)) and any(
        oversized_reason(record) is not None for record in records
    )


async def open_connector(connector: Connector) -> None:
    """:meth:`Connector.open`, guarded like every call."""
    await _within_deadline(connector, "connecting (open)", connector.open())


async def check_connector(connector: Connector) -> None:
    """:meth:`Connector.check`, guarded like every call."""
    await _within_deadline(connector, "checking that it answers (check)", connector.check())


async def close_connector(connector: Connector) -> None:
    """:meth:`Connector.close`, guarded like every call."""
    await _within_deadline(connector, "disconnecting (close)", connector.close())


async def prepare_stream(connector: Connector, stream: str, write_fields: Sequence[str] | None = None) -> StreamInfo:
    """:meth:`Connector.prepare`, guarded like every call."""
    call = connector.prepare(stream, write_fields=write_fields)
    return await _within_deadline(connector, f"preparing stream '{stream}'", call)


def scan_keys(connector: Connector, stream: str, batch_size: int) -> AsyncGenerator[list[str]]:
    """:meth:`Connector.scan_keys`, guarded like a read."""
    return _guarded(connector, f"scanning the keys of stream '{stream}'", connector.scan_keys(stream, batch_size))


async def write_batch(connector: Connector, stream: str, writes: Sequence[Write]) -> list[WriteResult]:
    """:meth:`Connector.write`, checked: one result per write, each for the record written.

    Where the engine knows a write's target key (an update, a delete, a create keyed by the record) and
    the result names another record, that write fails alone: its result says nothing sure about either
    record, and the ID map must never link a source record to another's target.

    :raises PermanentError: when the answer cannot be matched to the writes (not a list, too few or too
        many results): some writes may have happened, none can be recorded, so the run stops there
    """
    results = await _within_deadline(connector, f"writing to stream '{stream}'", connector.write(stream, writes))
    if not isinstance(results, list | tuple) or len(results) != len(writes):
        answer = f"{len(results)} results" if isinstance(results, list | tuple) else type(results).__name__
        raise PermanentError(
            f"{connector_name(connector)} answered {len(writes)} writes to stream '{stream}' with {answer}, "
            "not one WriteResult per Write in order: which records were written cannot be told, so none of "
            "this batch is recorded as written and the run stops (the next run writes them again); the "
            "connector needs fixing"
        )
    fold = connector.key_fold(stream)
    asked = {_folded(write.target_key, fold) for write in writes if write.target_key is not None}
    pairs = zip(writes, results, strict=True)
    checked = [_checked_result(connector, stream, write, result, fold=fold, asked=asked) for write, result in pairs]
    if connector.assigns_keys:
        _fail_keys_given_twice(connector, stream, writes, checked)
    return checked


async def match_records(connector: Connector, stream: str, records: Sequence[dict[str, Any]]) -> list[str | None]:
    """:meth:`Connector.match`, checked: one key or ``None`` per record.

    A found key that is no text, or text no ID map can keep, is not adopted (``None``), with a warning naming
    the connector: adopting it would store it, or update a record by it.

    :raises PermanentError: when the answer cannot be matched to the records (not a list, too few or too many)
    """
    call = connector.match(stream, records)
    found = await _within_deadline(connector, f"matching records of stream '{stream}'", call)
    if not isinstance(found, list | tuple) or len(found) != len(records):
        answer = f"{len(found)} keys" if isinstance(found, list | tuple) else type(found).__name__
        raise PermanentError(
            f"{connector_name(connector)} answered a look-up (match) of {len(records)} records of stream "
            f"'{stream}' with {answer}, not one key or None per record in order: the run stops (the connector "
            "needs fixing)"
        )
    return [_matched_key(connector, stream, key) for key in found]


def _matched_key(connector: Connector, stream: str, key: object) -> str | None:
    if key is None:
        return None
    problem = f"is {shown_value(key)}, not text" if type(key) is not str else _target_key_problem(key)
    if problem is None:
        return key  # type: ignore[return-value]  # text: checked just above
    log.warning(
        "%s found a record of stream '%s' by match whose key %s: it is not adopted (the connector needs fixing)",
        connector_name(connector),
        stream,
        problem if type(key) is not str else f"{shown_value(key)} {problem}",
    )
    return None


def _fail_keys_given_twice(
    connector: Connector, stream: str, writes: Sequence[Write], results: list[WriteResult]
) -> None:
    """A new record answered with a key another write of the batch has too: which record that key is
    cannot be told, so the new ones answered with it fail (two source records would share one target)."""
    taken = Counter(result.target_key for result in results if result.ok and result.target_key is not None)
    if len(taken) == sum(taken.values()):
        return
    for index, (write, result) in enumerate(zip(writes, results, strict=True)):
        key = result.target_key
        if write.target_key is None and result.ok and key is not None and taken[key] > 1:
            given = f"answered with the key {key}, which another write of the batch has too,"
            results[index] = _wrong(connector, stream, write, given)


def _folded(key: str, fold: Callable[[str], str] | None) -> str:
    return fold(key) if fold is not None else key


def _checked_result(
    connector: Connector,
    stream: str,
    write: Write,
    result: object,
    *,
    fold: Callable[[str], str] | None,
    asked: set[str],
) -> WriteResult:
    """``result`` where it is a sound answer to ``write``; else a failed result that says why.

    An update or delete is answered with the key it was given. A create may be answered with the key as the
    system keeps it (an API that writes ``042`` as ``42``, an address in lower case): only a key that another
    write of the batch asked for is the sign of results out of order."""
    if not isinstance(result, WriteResult):
        return _wrong(connector, stream, write, f"answered with {shown_value(result)}, not a WriteResult")
    key, error = result.target_key, result.error
    if key is not None and type(key) is not str:
        return _wrong(connector, stream, write, f"answered with the key {shown_value(key)}, not text (format_key)")
    if key is not None and key != write.target_key and (problem := _target_key_problem(key)) is not None:
        return _unfit(connector, stream, write, result, problem)
    if error is not None:
        if isinstance(error, ConnectorError):
            return result
        return WriteResult(result.target_key, PermanentError(f"{connector_name(connector)}: {shown_value(error)}"))
    expected = write.target_key
    if key is None or expected is None or key == expected or _folded(key, fold) == _folded(expected, fold):
        return result
    if write.action is not WriteAction.CREATE or _folded(key, fold) in asked:
        return _wrong(connector, stream, write, f"answered with the result of record {key}")
    return result


def _target_key_problem(key: str) -> str | None:
    """Why no ID map can keep ``key``, a target key a connector answered with, or ``None``."""
    return "is empty" if not key else key_problem(key)


def _unfit(connector: Connector, stream: str, write: Write, result: WriteResult, problem: str) -> WriteResult:
    """A failed result for ``write``, answered with a target key no ID map can keep: the connector's own error
    stands where it gave one; else the record was likely written, which its dead letter says."""
    if result.error is not None:
        return WriteResult(write.target_key, result.error)
    record = f"record {write.target_key}" if write.target_key is not None else "a new record"
    return WriteResult(
        write.target_key,
        PermanentError(
            f"{connector_name(connector)} answered the {write.action} of {record} in stream '{stream}' with the "
            f"target key {shown_value(result.target_key)}, which {problem}: no ID map can keep it, "
            "so the record is not recorded as written, though it was likely written; look for it in the target "
            "before retrying the dead letter (the connector needs fixing)"
        ),
    )


def _wrong(connector: Connector, stream: str, write: Write, what: str) -> WriteResult:
    """A failed result for ``write``: its connector answered it wrongly."""
    record = f"record {write.target_key}" if write.target_key is not None else "a new record"
    return WriteResult(
        write.target_key,
        PermanentError(
            f"{connector_name(connector)} {what} for the {write.action} of {record} in stream '{stream}': "
            "whether it was written cannot be told, so it is not recorded (the connector needs fixing; results "
            "come one per write, in order)"
        ),
    )
