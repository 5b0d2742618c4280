"""The connector contract: what every connector kind does, and how it fails.

A connector kind is a :class:`Connector` subclass registered under the
``brygga.connectors`` entry-point group (built-ins included), with an
``options_model`` that validates a system's YAML. The engine drives it:

1. :meth:`~Connector.open` once, :meth:`~Connector.close` at the end;
2. :meth:`~Connector.prepare` each stream it will use, before the first
   record moves, so a missing table or column stops a run with a clear error;
3. :meth:`~Connector.read` a source stream in batches, storing each batch's
   :attr:`Batch.checkpoint` only after every record of that batch is written,
   skipped or dead-lettered: a crash then re-reads, never skips;
4. :meth:`~Connector.write` a target stream in batches, one result per write.

Keys cross this boundary as text (:func:`format_key`): that is how
the ID map keeps them. Failures are :class:`TransientError`
(retried with backoff: timeouts, dropped connections, 429, 5xx, deadlocks) or
:class:`PermanentError` (dead-letter now: bad data, 4xx, a
missing column). A connector translates its library's exceptions into these
at one boundary, ``raise … from exc``; retry decisions follow the type only.

What a kind can do beyond reading, it declares here too: :meth:`~Connector.get`
and :meth:`~Connector.write` raise :class:`NotImplementedError` where the
system cannot look records up by key or be written (the defaults); the
engine, and the contract suite, take that as "cannot". :meth:`~Connector.can_match`,
:meth:`~Connector.reports_created` and :meth:`~Connector.overlapping_writes`
say ``False`` unless a kind does more.

This module is the whole connector SDK: a connector (built in or third-party)
imports from here and from its own package, never from ``app``. It gets:

- the contract: :class:`Connector`, :class:`Batch`, :class:`Checkpoint`,
  :class:`Write`, :class:`WriteAction`, :class:`WriteResult`,
  :class:`StreamInfo`, :data:`retry_policy` and :func:`retrying_as`;
- options: :class:`SystemOptions` and :class:`StreamOptions` (the bases of a
  kind's ``options_model`` and of its streams'), :class:`ConfigModel` for
  nested option groups, the field types :data:`Duration`, :data:`HttpUrl`,
  :data:`StringList`, :data:`WholeNumber`, :class:`Problem` and :class:`TargetProblem` for a
  kind's own checks, :func:`check_url_port`, :class:`Mode`, :data:`FieldType`,
  :class:`SystemConfig` (what a connector is made with), :class:`RetryPolicy`
  and :class:`SecretValues` (the secrets to keep out of messages);
  :class:`Deprecated` for a value written a way that still works but is
  deprecated (``brygga validate`` shows it as a warning);
- paths into a record or a body, in the one syntax of every config file
  (``items[0].sku``): :func:`parse_path` into :data:`Step` s,
  :class:`PathSyntaxError`, :func:`format_path`, and :func:`old_dotted_form`
  for the REST connector's old ``results.0.id``;
- records and keys: :data:`Record`, :func:`format_key`, :func:`parse_key`,
  :func:`key_text`, :func:`key_texts`, :func:`key_bytes` (the bytes of a binary key's text: hex),
  :func:`duration_text` (a duration as
  ISO 8601 text, for a target that takes text), :class:`UnreadableValue` for a
  value the system holds but cannot hand over (the record fails alone), and
  :class:`NotARecord` for an item of a list of records that is no record (it fails alone),
  and :func:`valid_unicode` (whether text can be written as UTF-8: it holds no lone surrogate);
- errors: :class:`ConnectorError`, :class:`TransientError`,
  :class:`PermanentError`, and :class:`EarlierWriteFailed` with the ordering
  of overlapping writes, :class:`CallOrder` and :class:`Turn`;
- JSON with exact numbers: :func:`parse_json` (a record nested deeper than
  the parser recurses is read with its too-deep parts unreadable, so it fails
  alone) and :class:`NotJson`;
- database pools (loaded on first use, as they need SQLAlchemy):
  :func:`check_when_idle` and :func:`driver_connection`;
- the registry: :func:`connector_class`, :func:`create_connector`,
  :func:`installed_kinds`, :class:`UnknownKindError`.

:mod:`connectors.testing` is the contract suite to run over a connector.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import import_module
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, Self

# The SDK's surface: definitions live where the rest of Brygga uses them too, connectors reach them here.
from app.config import (
    BrokenKindError,
    ConfigModel,
    Deprecated,
    Duration,
    FieldType,
    HttpUrl,
    Mode,
    PathSyntaxError,
    Problem,
    RetryPolicy,
    SecretValues,
    Step,
    StreamOptions,
    StringList,
    SystemConfig,
    SystemOptions,
    TargetProblem,
    UnknownKindError,
    WholeNumber,
    check_url_port,
    format_path,
    installed_kinds,
    load_kind,
    old_dotted_form,
    parse_path,
)
from app.errors import ConnectorError, EarlierWriteFailed, PermanentError, TransientError
from app.json_values import NotJson, parse_json
from app.record_checks import NotARecord, UnreadableValue, valid_unicode
from app.records import Record, duration_text, format_key, key_bytes, key_text, key_texts, parse_key
from connectors.ordering import CallOrder, Turn

if TYPE_CHECKING:
    from app.pooling import check_when_idle, driver_connection

_ON_FIRST_USE = {"check_when_idle": "app.pooling", "driver_connection": "app.pooling"}
"""Names that pull in a heavy library (SQLAlchemy), imported when a connector first asks for them."""


def __getattr__(name: str) -> Any:
    if name not in _ON_FIRST_USE:
        raise AttributeError(f"module 'connectors.base' has no attribute '{name}'")
    value = getattr(import_module(_ON_FIRST_USE[name]), name)
    globals()[name] = value
    return value


retry_policy: ContextVar[RetryPolicy | None] = ContextVar("brygga_retry_policy", default=None)
"""The ``retry`` policy of the sync whose run is calling, while the engine drives a connector in a run
(``None`` outside runs: ``brygga preview``, checks). One policy governs every passing failure within a
run, and retry layers never multiply (SPEC 8):

- a connector that retries requests itself (the REST connector retries the one request that failed, not
  the batch) follows this policy while it is set, and raises what it gave up on as a
  :class:`~app.errors.TransientError` with ``retried=True``: the engine retries it no more;
- a connector that does not retry raises its :class:`~app.errors.TransientError` as it is, and the engine
  retries the call (or, for a failed write in a result, that record's write) under the same policy.

A connector is shared by the syncs that use its system, so the policy is per call, in the calling task's
context (which every task a run starts inherits), not on the connector.
"""


@contextmanager
def retrying_as(policy: RetryPolicy) -> Iterator[None]:
    """Within this block, connectors retry as ``policy`` says (see :data:`retry_policy`)."""
    token = retry_policy.set(policy)
    try:
        yield
    finally:
        retry_policy.reset(token)


Checkpoint = dict[str, Any]
"""Where a read got to, in a form of the connector's choosing; JSON with dates and decimals allowed."""


Originals = Callable[[int], Record]
"""The record at an index of a batch's ``records``, read anew (see :attr:`Batch.originals`)."""


@dataclass(frozen=True)
class Batch:
    """Records read in one go, and where the read will be once they are processed.

    :param records: the records, each a plain dict of field → value, its field names plain ``str``
        (a subclass of it, such as SQLAlchemy's column names, sends hashing every record a slower way)
    :param checkpoint: stored by the engine once every record of this batch is
        written, skipped or dead-lettered; handed back to :meth:`Connector.read`
        on the next run. ``{}`` means "read everything next time".
    :param originals: optional, for a connector that holds what it read in a smaller form than the records
        (the JSON of an API's pages: a fifth of their parsed size): the record at an index of ``records``,
        as read, anew. The engine then lets go of each record once it is mapped, and asks for it again only
        for one that fails on its way to the target (its dead letter keeps it). It must give an equal record
        every time, for as long as the batch is in the engine's hands. ``None``: records are held until written.
    """

    records: list[Record]
    checkpoint: Checkpoint
    originals: Originals | None = None


class WriteAction(StrEnum):
    """What a :class:`Write` does to a target record."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


class Write(NamedTuple):
    """One change to a target record (a tuple: a batch makes thousands).

    :param action: create, update or delete
    :param record: the mapped record (create and update); ``None`` for delete. Read it, never change
        it: a sync that copies every field under its own name passes the source record itself
    :param target_key: the target record's key as text (update and delete; for
        a create only where the key is part of ``record``, else ``None``)
    """

    action: WriteAction
    record: Record | None
    target_key: str | None


class WriteResult(NamedTuple):
    """What became of one :class:`Write`.

    :param target_key: the record's key in the target (for a create into a
        system that assigns keys, the key it assigned)
    :param error: why this record failed, or ``None``; a
        :class:`~app.errors.PermanentError` dead-letters the record, a
        :class:`~app.errors.TransientError` is tried again within the run as the sync's ``retry`` policy
        says (unless the connector ``retried`` it already; a create into a system that assigns keys only
        where it was certainly not done, or after ``match`` found nothing), then dead-letters it
    :param created: for a create or update written as an upsert, whether the
        record was new in the target; ``None`` where the connector cannot tell
        (see :meth:`Connector.reports_created`)
    """

    target_key: str | None
    error: ConnectorError | None = None
    created: bool | None = None

    @property
    def ok(self) -> bool:
        """Whether the write succeeded."""
        return self.error is None


@dataclass
class StreamInfo:
    """What :meth:`Connector.prepare` learnt about a stream."""

    fields: list[str] = field(default_factory=list)
    """The stream's fields (columns), where the system knows them."""


class Connector(ABC):
    """One configured system, ready to be read from and written to.

    :param system: the system's validated config; ``system.options`` is an
        instance of this class's ``options_model``; relative paths in it start
        at ``system.root``
    """

    options_model: ClassVar[type[SystemOptions]]
    """The pydantic model of a system's options (and its streams')."""

    assigns_keys: ClassVar[bool] = False
    """True when the system assigns a record's key on create (most REST APIs);
    False when the key is part of the record written (SQL, CSV)."""

    def __init__(self, system: SystemConfig) -> None:
        self.system = system

    async def open(self) -> None:  # noqa: B027 - optional hook
        """Connect (pools, sessions). Called once before any other method.

        :raises ConnectorError: when the system cannot be reached or refuses the credentials
        """

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections. Safe to call after a failed :meth:`open`."""

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.close()

    @abstractmethod
    async def check(self) -> None:
        """Check that the system answers, without reading or writing records.

        :raises TransientError: when it does not answer now
        :raises PermanentError: when it refuses (credentials, a missing database)
        """

    @abstractmethod
    async def prepare(self, stream: str, *, write_fields: Sequence[str] | None = None) -> StreamInfo:
        """Check that ``stream`` exists and, when ``write_fields`` is given, that it can take them.

        Brygga never creates or alters tables or columns: a missing one is a
        :class:`~app.errors.PermanentError` that names it and the ones there are.

        :param write_fields: the mapped fields a sync will write, or ``None`` for a source
        :raises PermanentError: when the stream or a field is missing
        :raises TransientError: when the system does not answer
        """

    @abstractmethod
    def read(self, stream: str, checkpoint: Checkpoint | None, batch_size: int) -> AsyncIterator[Batch]:
        """Read ``stream`` from ``checkpoint`` (``None``: everything), in batches.

        Rows that share a cursor value are never skipped at a batch boundary;
        rows re-read (a look-back, a resumed run) are fine: the engine
        recognises them by hash. The last batch's checkpoint is where the next
        run starts; a batch may be empty only to carry that checkpoint.

        :param batch_size: the most records per batch
        :raises TransientError: when the read fails for a passing reason (it is retried)
        :raises PermanentError: when it cannot succeed (a missing column, a repeated page)
        """

    def reports_created(self, stream: str) -> bool:
        """Whether every :class:`WriteResult` of a create or update on ``stream`` says if the record was new.

        When it does, an ``upsert`` or ``mirror`` sync writes records it has
        not seen before without first asking which of them exist (one round
        trip less per batch), and counts each as created or updated from the
        result. Valid after :meth:`prepare` with ``write_fields``.
        """
        return False

    def overlapping_writes(self, stream: str) -> bool:
        """Whether :meth:`write` may be called again for ``stream`` before an earlier call has returned.

        A connector that says yes changes the system in the order the calls
        were made (a later call may only prepare meanwhile: convert its rows,
        stage them) and fails a call whose earlier call failed, before it
        changes anything (see :mod:`connectors.ordering`). The engine then has
        the next batch's write under way while the one before finishes.
        """
        return False

    def can_match(self, stream: str) -> bool:
        """Whether :meth:`match` can find existing target records of ``stream`` (its ``match`` option)."""
        return False

    async def match(self, stream: str, records: Sequence[Record]) -> list[str | None]:
        """For each mapped record about to be created, the key of the record already in the target that
        is the same one, found by the stream's ``match`` option (``GET path?email=…``); ``None`` where
        there is none.

        The engine asks before it creates records in a system that assigns keys, so records already
        there are adopted instead of duplicated (the first sync into a system that holds data), and a
        create cut off by a crash is found instead of sent again.

        :raises TransientError: when the system does not answer (the batch is retried)
        :raises PermanentError: when a look-up is refused
        """
        return [None] * len(records)

    async def get(self, stream: str, keys: Sequence[str]) -> dict[str, Record]:
        """The records with these keys (text), those that exist, by key.

        Used to re-read dead letters fresh before a retry, to show field-level
        differences in ``brygga preview``, and to find which target keys exist. A target without it takes
        ``upsert`` and ``mirror`` syncs only (each record new to the ID map is written as a create, applied
        as an upsert by key); an ``insert`` or ``update`` sync into it fails its run, saying why.

        :raises NotImplementedError: when the system cannot look records up by key
        """
        raise NotImplementedError(f"{self.system.connector} systems cannot look records up by key")

    async def existing_keys(self, stream: str, keys: Sequence[str]) -> set[str]:
        """Which of these keys (text) exist in ``stream``. The default asks :meth:`get`."""
        return set(await self.get(stream, keys))

    def key_fold(self, stream: str) -> Callable[[str], str] | None:
        """How ``stream`` tells keys apart where not by their exact text: a function giving every key
        text the system takes for the same record the same result (``"Anna "`` and ``"anna"`` alike, for
        a key column that ignores case and trailing spaces). ``None``, the default: keys are the same
        only when their texts are. Valid after :meth:`prepare`.

        The engine then keeps two source records from being written to one target record: the second
        fails alone. Where the system's rule cannot be matched exactly, fold more than it does, never
        less: a record that fails alone is seen, one written over is lost.
        """
        return None

    async def held_keys(self, stream: str, keys: Sequence[str]) -> dict[str, str]:
        """For each of these keys (text) that ``stream`` holds a record for, the key as the record has it:
        not the text asked where :meth:`key_fold` folds them alike (``"Anna"`` asked, ``"anna"`` held).
        The default: :meth:`existing_keys`, each held as asked."""
        return {key: key for key in await self.existing_keys(stream, keys)}

    def scan_keys(self, stream: str, batch_size: int) -> AsyncIterator[list[str]]:
        """Every key in ``stream``, in batches: how ``mirror`` finds source records that are gone.

        The default reads the whole stream; override it where keys alone are cheaper.
        """
        return self._keys_from_read(stream, batch_size)

    async def _keys_from_read(self, stream: str, batch_size: int) -> AsyncIterator[list[str]]:
        key_fields = self.system.stream(stream).key
        async for batch in self.read(stream, None, batch_size):
            keys = [_record_key(record, key_fields) for record in batch.records]
            yield [key for key in keys if key is not None]

    async def write(self, stream: str, writes: Sequence[Write]) -> list[WriteResult]:
        """Apply a batch of writes to ``stream``; one result per write, in order.

        A record the system refuses is a :class:`~app.errors.PermanentError` in
        its own result and the others still go through; a record whose write
        failed for a passing reason is a :class:`~app.errors.TransientError` in
        its own result, and only those records are written again. When the whole
        batch failed for a passing reason, raise :class:`~app.errors.TransientError`:
        the batch is retried whole, so writes must be idempotent (an upsert by
        key, or a create the connector can recognise as already done). Either
        way, retries follow :data:`retry_policy`.

        :raises TransientError: when nothing was written for a passing reason
        :raises PermanentError: when the stream refuses every record, not a record's data (its table dropped
            or renamed, the right to write it revoked, mid-run): the run stops with it, once, and the batch is
            written again by the next run, rather than each record failing alone into the dead letters
        :raises NotImplementedError: for systems that cannot be written
        """
        raise NotImplementedError(f"{self.system.connector} systems cannot be written to")


def _record_key(record: Record, key_fields: Sequence[str]) -> str | None:
    values = [record.get(name) for name in key_fields]
    return None if any(value is None for value in values) else format_key(values)


def connector_class(kind: str) -> type[Connector]:
    """The connector class registered for ``kind``.

    :raises UnknownKindError: when no installed package provides ``kind``
    :raises BrokenKindError: (a ``TypeError``) when the registered class is not a :class:`Connector`
    """
    loaded = load_kind(kind)
    if not issubclass(loaded, Connector):
        raise BrokenKindError(f"connector kind '{kind}' ({loaded.__module__}.{loaded.__qualname__}) is not a Connector")
    return loaded


def create_connector(system: SystemConfig) -> Connector:
    """A connector for ``system``, not yet opened."""
    return connector_class(system.connector)(system)


__all__ = [
    "Batch",
    "CallOrder",
    "Checkpoint",
    "ConfigModel",
    "Connector",
    "ConnectorError",
    "Deprecated",
    "Duration",
    "EarlierWriteFailed",
    "FieldType",
    "HttpUrl",
    "Mode",
    "NotARecord",
    "NotJson",
    "Originals",
    "PathSyntaxError",
    "PermanentError",
    "Problem",
    "Record",
    "RetryPolicy",
    "SecretValues",
    "Step",
    "StreamInfo",
    "StreamOptions",
    "StringList",
    "SystemConfig",
    "SystemOptions",
    "TargetProblem",
    "TransientError",
    "Turn",
    "UnknownKindError",
    "UnreadableValue",
    "WholeNumber",
    "Write",
    "WriteAction",
    "WriteResult",
    "check_url_port",
    "check_when_idle",
    "connector_class",
    "create_connector",
    "driver_connection",
    "duration_text",
    "format_key",
    "format_path",
    "installed_kinds",
    "key_bytes",
    "key_text",
    "key_texts",
    "old_dotted_form",
    "parse_json",
    "parse_key",
    "parse_path",
    "retry_policy",
    "retrying_as",
    "valid_unicode",
]
