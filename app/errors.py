"""Brygga's exception tree.

Every error Brygga raises on purpose derives from :class:`BryggaError`, so
callers can tell our errors from bugs. Errors carry their facts as
attributes and format a message that says what happened, where, and how to
fix it::

    BryggaError
    ├── ConfigError          a project or sync file is wrong (carries every issue)
    ├── MappingError         a record cannot be mapped (sync, source_key, field, cause)
    │   └── LookupPendingError   a lookup's parent record is not synced yet
    ├── ConnectorError       a business system failed us
    │   ├── TransientError   worth retrying: timeouts, 429, 5xx, dropped connections
    │   └── PermanentError   retrying will not help: 4xx, missing table, bad data
    ├── StoreError           the state database failed
    ├── NotFoundError        no such sync, run or dead letter (HTTP 404)
    └── ConflictError        clashes with what is going on, such as a run already going (HTTP 409)

Retry decisions follow the type, never the message text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.config import ConfigIssue


class BryggaError(Exception):
    """The root of every error Brygga raises on purpose."""


class ConfigError(BryggaError):
    """One or more problems in the project's config files.

    All problems found are carried together, so a user fixes them in one go.
    """

    def __init__(self, issues: Sequence[ConfigIssue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))


class MappingError(BryggaError):
    """A source record could not be mapped to a target record.

    :param sync: the sync's name
    :param source_key: the source record's key, as text
    :param field: the target field being mapped, or ``None`` for the whole record
    :param cause: what went wrong, in words
    """

    reason = "mapping"

    def __init__(self, sync: str, source_key: str | None, field: str | None, cause: str) -> None:
        self.sync = sync
        self.source_key = source_key
        self.field = field
        self.cause = cause
        super().__init__(self._format())

    def _format(self) -> str:
        where = f"sync {self.sync}, record {self.source_key if self.source_key is not None else '(no key)'}"
        if self.field is not None:
            where += f", field {self.field}"
        return f"{where}: {self.cause}"


class LookupPendingError(MappingError):
    """A ``lookup`` found no target key yet: the parent record is not synced.

    The record is retried at later runs, so children follow their parents.
    """

    reason = "lookup"


class ConnectorError(BryggaError):
    """A business system could not be read or written."""


class TransientError(ConnectorError):
    """A failure that may pass: retry with backoff.

    :param retried: the connector already retried it as the sync's ``retry`` policy says (see
        :data:`connectors.base.retry_policy`): the engine does not retry it once more, so retry layers
        never multiply
    :param retry_after: the seconds the system asked to wait before the next try, if it did
    :param maybe_done: whether the system may have acted on it before it failed; a create into a system
        that assigns keys is only sent again when it certainly was not, or after ``match`` found nothing
    """

    def __init__(
        self, message: str, *, retried: bool = False, retry_after: float | None = None, maybe_done: bool = True
    ) -> None:
        super().__init__(message)
        self.retried = retried
        self.retry_after = retry_after
        self.maybe_done = maybe_done


class EarlierWriteFailed(TransientError):
    """A write that overlapped an earlier one of the same table, which failed: it changed nothing.

    Not retried on its own (its retry could overtake the earlier write's): whoever made both writes
    makes it again once the earlier one is through (see :mod:`connectors.ordering`).
    """


class PermanentError(ConnectorError):
    """A failure that retrying will not fix: dead-letter the record at once."""


class StoreError(BryggaError):
    """The state database failed."""


class NotFoundError(BryggaError):
    """A sync, run or dead letter that does not exist (HTTP 404)."""


class ConflictError(BryggaError):
    """What was asked clashes with what is going on (HTTP 409): a run of the sync is going on already."""
