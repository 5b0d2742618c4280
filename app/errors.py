"""Brygga's exception tree.

Every error Brygga raises on purpose derives from :class:`BryggaError`, so
callers can tell our errors from bugs. Errors carry their facts as
attributes and format a message that says what happened, where, and how to
fix it::

    BryggaError
    ├── ConfigError          a project or sync file is wrong (carries every issue)
    ├── SettingsError        a BRYGGA_* environment variable of the service is wrong
    │   └── InvalidSettings      every bad setting, one line each (app.engine.settings; also a ValueError)
    ├── KindError            a connector kind is not installed, or does not load
    │   ├── UnknownKindError     no installed package provides the kind (app.config.kinds)
    │   └── BrokenKindError      it does not load, or is no Connector (app.config.kinds; also a TypeError)
    ├── MappingError         a record cannot be mapped (sync, source_key, field, cause)
    │   ├── LookupPendingError   a lookup's parent record is not synced yet
    │   └── UnfitRecordError     a value no record may hold, such as NaN (app.mapping.hashing)
    ├── DeleteWhenError      a webhook's delete_when raised for an event
    ├── ConnectorError       a business system failed us
    │   ├── TransientError   worth retrying: timeouts, 429, 5xx, dropped connections
    │   │   ├── EarlierWriteFailed   overlapped an earlier write that failed: it changed nothing
    │   │   ├── ConnectorTimeout     a call into a connector outlasted its system's call_timeout
    │   │   ├── TransientHttpError   a REST answer worth retrying (connectors.rest.errors)
    │   │   ├── FileChangedError     a table file changed while it was rewritten (connectors.table_file.replace)
    │   │   └── WorkbookOpenError    a workbook that is open elsewhere (connectors.xlsx.workbook)
    │   └── PermanentError   retrying will not help: 4xx, missing table, bad data
    │       ├── PermanentHttpError   a REST answer no retry fixes (connectors.rest.errors)
    │       │   ├── NotFoundHttpError    404 for a record (connectors.rest.errors)
    │       │   └── CredentialsRefused   an OAuth2 token endpoint refused the client: the run stops
    │       │       └── TokenAnswerUnusable  its answer holds no usable token (connectors.rest.errors)
    │       ├── CsvFileError         a CSV file that cannot be read or written (connectors.csv.files)
    │       └── XlsxFileError        a workbook that cannot be read or written (connectors.xlsx.workbook)
    │           └── EmptySheetError  a sheet without a header row (connectors.xlsx.workbook)
    ├── StoreError           the state database failed
    ├── RunStopped           a run asked to stop as the service shuts down
    ├── NotFoundError        no such sync, run or dead letter (HTTP 404)
    ├── ConflictError        clashes with what is going on, such as a run already going (HTTP 409)
    │   └── SyncBusyError    a run of the sync is going on already (app.engine.runner)
    └── RequestError         what was asked is wrong: a command's arguments, an API request
        ├── UsageError           a command line that cannot be done (CLI exit 2)
        │   └── NoTableToDescribe    `brygga ddl` of a target that is no SQL table (app.engine.ddl)
        ├── BadCursorError       a page cursor no page gave out (app.api.pagination)
        ├── Refused              a caller refused; also an HTTPException (app.api.auth)
        │   ├── Unauthorized     no valid API token
        │   └── Forbidden        the token's role is too low
        └── WebhookRejected      a webhook delivery refused, nothing stored (app.engine.webhook_checks)
            ├── WebhookNotProven     no valid signature, token or timestamp
            ├── WebhookFromWebPage   an unsigned delivery a web page sent
            ├── UnknownWebhookSystem no system of that name takes webhooks
            ├── WebhookTooLarge      the body is over max_body
            ├── WebhookBusy          the service holds as many deliveries as it may (app.engine.webhook_admission)
            ├── WebhookBadBody       not JSON, too deep, no records, a bad delivery id or header
            └── WebhookIdReused      a delivery id received before with another body

How each reaches users is decided once per face, by type (a subclass takes its
nearest listed ancestor's entry): the exit code in :mod:`app.cli.exit_codes`,
the HTTP status in :mod:`app.api.errors`. ``tests/test_error_tree.py`` checks
that every subclass is drawn here and has both.

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


class ConnectorTimeout(TransientError):
    """A call into a connector (a page read, a batch written, a look-up, ``open``, ``prepare``) that did not
    return within its system's ``call_timeout``: the call is cancelled and the run stops, releasing its
    sync for the next run. Not retried within the run (``retried``): a call stuck once is likely stuck
    again, and the run has waited long enough; the next run tries afresh.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, retried=True)


class PermanentError(ConnectorError):
    """A failure that retrying will not fix: dead-letter the record at once."""


class StoreError(BryggaError):
    """The state database failed."""


class NotFoundError(BryggaError):
    """A sync, run or dead letter that does not exist (HTTP 404)."""


class ConflictError(BryggaError):
    """What was asked clashes with what is going on (HTTP 409): a run of the sync is going on already."""


class SettingsError(BryggaError):
    """A ``BRYGGA_*`` environment variable of the service that does not parse: its name and what it takes."""


class KindError(BryggaError):
    """A connector kind that no installed package provides, or that does not load (see :mod:`app.config.kinds`)."""


class RequestError(BryggaError):
    """What was asked is wrong as asked: a command's arguments, an API request's query, headers or body."""


class UsageError(RequestError):
    """A command line that cannot be done as given: a sync that does not exist, options that clash."""


class DeleteWhenError(BryggaError):
    """A webhook's ``delete_when`` raised for an event (a division by zero, say): that event fails alone."""


class RunStopped(BryggaError):
    """The run was asked to stop (the service is shutting down): what it committed stays."""
