"""The one boundary where database and driver exceptions become Brygga's errors.

Whether a failure is worth retrying follows the error's type and the
database's own error code, never its message text: the SQLSTATE of
PostgreSQL (and MariaDB/MySQL), MariaDB/MySQL's error number, SQLite's
result code, then SQLAlchemy's exception class. Messages carry the
database's own words, never the SQL, the parameters or a password.

The drivers' own exception classes are looked up only in drivers this process has imported (a
system of that kind is in use): a driver never imported raised nothing, and importing asyncpg and
asyncmy only for their classes cost every run ~30 ms, SQLite's included.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy.exc as sa
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from connectors.base import ConnectorError, PermanentError, TransientError

_TRANSIENT_TYPES: tuple[type[Exception], ...] = (
    sa.OperationalError,  # lost connections, locks, timeouts (refined by the error codes below)
    sa.InterfaceError,  # the driver lost its connection
    sa.InternalError,  # the server or driver got out of step; a new connection usually helps
    sa.TimeoutError,  # no connection free in the pool in time
    sa.DisconnectionError,  # a pooled connection turned out dead
    OSError,  # refused, reset or timed-out sockets, unresolvable hosts
)


def transient_types() -> tuple[type[Exception], ...]:
    """Exception types that mean "try again later" unless an error code says otherwise."""
    asyncpg = _imported("asyncpg", "InterfaceError")
    if asyncpg is None:
        return _TRANSIENT_TYPES
    return (*_TRANSIENT_TYPES, asyncpg.InterfaceError)  # asyncpg used directly (the COPY path) lost its connection


def translated_types() -> tuple[type[Exception], ...]:
    """What :func:`database_errors` translates; anything else is a bug and passes through untouched."""
    asyncpg = _imported("asyncpg", "PostgresError", "InterfaceError")
    if asyncpg is None:
        return (SQLAlchemyError, OSError)
    return (SQLAlchemyError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError)


def _imported(driver: str, *names: str) -> Any:
    """The driver's module if this process has imported it, with ``names``, else ``None``: its exceptions
    cannot be at hand. A module that another thread is still importing (a connector opened while a run goes
    on) counts as not imported: it may not have those names yet."""
    module = sys.modules.get(driver)
    return module if module is not None and all(hasattr(module, name) for name in names) else None


_TRANSIENT_SQLSTATE_CLASSES = {"08", "40", "53", "57", "58"}
"""Connection exception, transaction rollback (deadlock, serialization), insufficient resources,
operator intervention (statement timeout, shutdown), system error."""
_TRANSIENT_SQLSTATES = {"55P03", "55006", "25P03", "3D000", "55000"}
"""Lock not available, object in use, idle-in-transaction timeout; and a database that is not there
or not taking connections (dropped for a restore, being renamed): the system is unreachable for
now, so the sync turns failing, backs off and alerts, rather than failing every run for good."""
_GENERIC_SQLSTATES = {"HY000", "00000"}
"""MariaDB/MySQL's catch-all states: the error number decides instead."""

_TRANSIENT_MYSQL_ERRORS = {1040, 1053, 1205, 1213, 1317, 1927, 1969, 3024, 4031}
"""Too many connections, shutdown, lock wait timeout, deadlock, query interrupted, connection killed,
statement timeouts, idle disconnect. Numbers 2000–2999 are the client's connection errors."""

_TRANSIENT_SQLITE_CODES = {5, 6, 9, 10, 13, 15}
"""SQLITE_BUSY ("database is locked"), LOCKED, INTERRUPT, IOERR, FULL, PROTOCOL."""


_WHOLE_TABLE_SQLSTATES = {"42P01", "42703", "3F000"}
"""Undefined table, undefined column, no such schema: the table written was dropped or renamed (or lost a
column) since the run looked at it; no row of a batch can be written."""
_WHOLE_TABLE_MYSQL_ERRORS = {1036, 1044, 1054, 1142, 1143, 1146, 1290}
"""Table read only, access to the database denied, unknown column, command or column denied to the user,
no such table, the server read-only (``--read-only``)."""
_WHOLE_TABLE_SQLITE_CODES = {3, 8, 23}
"""SQLITE_PERM, READONLY (a file or database opened read-only), AUTH (an authorizer refused)."""
_UNSURE_SQLSTATES = {"42501"}
"""Insufficient privilege: the user may not write the table, or a row-level security policy refused one row."""
_UNSURE_SQLITE_CODES = {1}
"""SQLITE_ERROR: no such table or column, or a function refusing one row's value (malformed JSON in a
generated column)."""


def whole_table(exc: BaseException) -> bool | None:
    """Whether a write's failure concerns the table rather than its rows: ``True`` when its error code says
    the table (or a column, or the user's right to write it) is not there, ``False`` when it concerns the
    rows written, ``None`` when the code means either and the table needs a look (see
    :mod:`connectors.sql.whole_table`)."""
    for link in reversed(_chain(exc)):
        if _is_mysql_error(link) and link.args and isinstance(link.args[0], int):
            return link.args[0] in _WHOLE_TABLE_MYSQL_ERRORS
        sqlite_code = getattr(link, "sqlite_errorcode", None)
        if isinstance(sqlite_code, int):
            code = sqlite_code & 0xFF
            return None if code in _UNSURE_SQLITE_CODES else code in _WHOLE_TABLE_SQLITE_CODES
        sqlstate = getattr(link, "sqlstate", None)
        if isinstance(sqlstate, str) and len(sqlstate) == 5 and sqlstate not in _GENERIC_SQLSTATES:
            return None if sqlstate in _UNSURE_SQLSTATES else sqlstate in _WHOLE_TABLE_SQLSTATES
    return False


@contextmanager
def database_errors(where: str, secret: str | None = None) -> Iterator[None]:
    """Raise what the database calls inside raise as :class:`TransientError` or :class:`PermanentError`.

    :param where: what was being done, for the message (``"erp.customers: reading"``)
    :param secret: a password that must never appear in the message
    """
    try:
        yield
    except ConnectorError:
        raise
    except translated_types() as exc:
        raise translate(exc, where, secret) from exc


def translate(exc: BaseException, where: str, secret: str | None = None) -> ConnectorError:
    """``exc`` as the Brygga error to raise ``from`` it."""
    message = f"{where}: {describe(exc)}"
    if secret:
        message = message.replace(secret, "***")
    return TransientError(message) if is_transient(exc) else PermanentError(message)


def is_transient(exc: BaseException) -> bool:
    """Whether retrying may help: by the database's error code where it gave one, else by type."""
    chain = _chain(exc)
    for link in reversed(chain):  # the driver's own exception, innermost, knows best
        verdict = _code_verdict(link)
        if verdict is not None:
            return verdict
    driver = chain[-1]
    if not isinstance(driver, SQLAlchemyError | OSError) and isinstance(driver, ValueError | TypeError | OverflowError):
        return False  # the driver refused a value before sending it
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, transient_types())


def describe(exc: BaseException) -> str:
    """The database's own words for ``exc``: no SQL, no parameters."""
    if not isinstance(exc, DBAPIError) and isinstance(exc, SQLAlchemyError):
        return _first_line(str(exc)) or type(exc).__name__
    driver = _chain(exc)[-1]
    if isinstance(driver, TimeoutError):
        return "the database did not answer in time"
    if _is_mysql_error(driver) and len(driver.args) == 2:
        return f"{_without_values(str(driver.args[1]))} (error {driver.args[0]})"
    text = _first_line(str(driver)) or type(driver).__name__
    detail = getattr(driver, "detail", None)
    if isinstance(detail, str) and (detail := _without_values(detail)):
        text = f"{text}: {detail}"
    sqlstate = getattr(driver, "sqlstate", None)
    asyncpg = _imported("asyncpg", "PostgresError")
    if isinstance(sqlstate, str) and asyncpg is not None and isinstance(driver, asyncpg.PostgresError):
        text = f"{text} (SQLSTATE {sqlstate})"
    return text


_ROW_VALUES = [
    (re.compile(r"\s*Failing row contains \(.*\)\.?", re.DOTALL), ""),  # PostgreSQL: the whole row
    (re.compile(r"(Key \([^)]*\))=\(.*?\)( already exists| is not present| is still referenced)", re.DOTALL), r"\1\2"),
    (re.compile(r"Duplicate entry '.*' for key", re.DOTALL), "Duplicate entry for key"),  # MariaDB
    (re.compile(r"Incorrect (\w+) value: '.*' for column", re.DOTALL), r"Incorrect \1 value for column"),
]
"""Where a database quotes a row's values in its message: those are records' data (personal numbers,
e-mail addresses), which a message, a log line or an alert never carries; the column is kept."""


def _without_values(text: str) -> str:
    for pattern, replacement in _ROW_VALUES:
        text = pattern.sub(replacement, text)
    return text.strip()


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc``, the DBAPI exception it wraps, and the driver's exception under that."""
    chain = [exc]
    while len(chain) < 8:
        current = chain[-1]
        inner = getattr(current, "orig", None)
        if not isinstance(inner, BaseException):
            inner = current.__cause__
        if inner is None or inner in chain:
            break
        chain.append(inner)
    return chain


def _code_verdict(exc: BaseException) -> bool | None:
    """Transient (True), permanent (False) or unknown (None), by the error code ``exc`` carries."""
    if _is_mysql_error(exc) and exc.args and isinstance(exc.args[0], int):
        number: int = exc.args[0]
        return number in _TRANSIENT_MYSQL_ERRORS or number < 1000 or 2000 <= number < 3000
    sqlite_code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(sqlite_code, int):
        return sqlite_code & 0xFF in _TRANSIENT_SQLITE_CODES
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str) and len(sqlstate) == 5 and sqlstate not in _GENERIC_SQLSTATES:
        return sqlstate[:2] in _TRANSIENT_SQLSTATE_CLASSES or sqlstate in _TRANSIENT_SQLSTATES
    return None


def _is_mysql_error(exc: BaseException) -> bool:
    """Whether ``exc`` is asyncmy's: MariaDB/MySQL's error number is its first argument."""
    errors = _imported("asyncmy.errors", "MySQLError")
    return errors is not None and isinstance(exc, errors.MySQLError)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0].strip() if text.strip() else ""
