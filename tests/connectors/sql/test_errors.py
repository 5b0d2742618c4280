"""The exception boundary: every SQLAlchemy exception, and the databases' own error codes, map to a retry decision."""

from __future__ import annotations

import inspect
import sqlite3
import subprocess
import sys

import asyncmy.errors
import asyncpg
import pytest
import sqlalchemy.exc as sa
from sqlalchemy import ClauseElement, select

from app.errors import ConnectorError, PermanentError, TransientError
from connectors.sql.errors import database_errors, describe, is_transient, translate

# Every exception class SQLAlchemy defines, and what it means to a retry.
EXPECTED: dict[type[Exception], type[ConnectorError]] = {
    sa.OperationalError: TransientError,
    sa.InterfaceError: TransientError,
    sa.InternalError: TransientError,
    sa.TimeoutError: TransientError,
    sa.DisconnectionError: TransientError,
    sa.InvalidatePoolError: TransientError,
    sa.IntegrityError: PermanentError,
    sa.DataError: PermanentError,
    sa.ProgrammingError: PermanentError,
    sa.NotSupportedError: PermanentError,
    sa.DatabaseError: PermanentError,
    sa.DBAPIError: PermanentError,
    sa.StatementError: PermanentError,
    sa.NoSuchTableError: PermanentError,
    sa.NoSuchColumnError: PermanentError,
    sa.NoReferencedTableError: PermanentError,
    sa.NoReferencedColumnError: PermanentError,
    sa.NoReferenceError: PermanentError,
    sa.UnreflectableTableError: PermanentError,
    sa.CompileError: PermanentError,
    sa.UnsupportedCompilationError: PermanentError,
    sa.IdentifierError: PermanentError,
    sa.ArgumentError: PermanentError,
    sa.ObjectNotExecutableError: PermanentError,
    sa.NoSuchModuleError: PermanentError,
    sa.NoForeignKeysError: PermanentError,
    sa.AmbiguousForeignKeysError: PermanentError,
    sa.ConstraintColumnNotFoundError: PermanentError,
    sa.DuplicateColumnError: PermanentError,
    sa.CircularDependencyError: PermanentError,
    sa.InvalidRequestError: PermanentError,
    sa.ResourceClosedError: PermanentError,
    sa.PendingRollbackError: PermanentError,
    sa.NoResultFound: PermanentError,
    sa.MultipleResultsFound: PermanentError,
    sa.AmbiguousColumnError: PermanentError,
    sa.NoInspectionAvailable: PermanentError,
    sa.UnboundExecutionError: PermanentError,
    sa.MissingGreenlet: PermanentError,
    sa.AwaitRequired: PermanentError,
    sa.IllegalStateChangeError: PermanentError,
    sa.NoDBAPILoaded: PermanentError,
    sa.SQLAlchemyError: PermanentError,
}


def _sqlalchemy_exceptions() -> list[type[Exception]]:
    return [
        cls
        for _, cls in inspect.getmembers(sa, inspect.isclass)
        if issubclass(cls, sa.SQLAlchemyError) and cls.__module__ == sa.__name__
    ]


def _instance(cls: type[Exception], orig: BaseException | None = None) -> Exception:
    """An instance of ``cls`` as SQLAlchemy would raise it."""
    if issubclass(cls, sa.DBAPIError):
        return cls("SELECT 1", {}, orig or Exception("the driver's words"))
    if cls is sa.StatementError:
        return cls("a bind failed", "SELECT 1", {}, TypeError("not a date"))
    if cls is sa.CircularDependencyError:
        return cls("cycle", set(), set())
    if issubclass(cls, sa.NoReferencedColumnError):
        return cls("no column", "t", "c")
    if issubclass(cls, sa.NoReferencedTableError):
        return cls("no table", "t")
    if cls is sa.UnsupportedCompilationError:
        return cls(select(1).compile(), ClauseElement)
    return cls("what went wrong")


def test_every_sqlalchemy_exception_has_a_decided_mapping() -> None:
    """A SQLAlchemy release that adds an exception fails here until someone decides what it means."""
    assert sorted(cls.__name__ for cls in _sqlalchemy_exceptions()) == sorted(cls.__name__ for cls in EXPECTED)


@pytest.mark.parametrize("cls", list(EXPECTED), ids=lambda cls: cls.__name__)
def test_each_sqlalchemy_exception_becomes_its_brygga_error(cls: type[Exception]) -> None:
    original = _instance(cls)

    with pytest.raises(ConnectorError) as caught, database_errors("erp.customers: reading"):
        raise original

    assert type(caught.value) is EXPECTED[cls]
    assert caught.value.__cause__ is original
    assert str(caught.value).startswith("erp.customers: reading: ")


def test_an_invalidated_connection_is_transient_whatever_its_class() -> None:
    error = sa.DBAPIError("SELECT 1", {}, Exception("gone"), connection_invalidated=True)

    assert is_transient(error)


def _sqlstate_error(sqlstate: str) -> sa.DBAPIError:
    driver = asyncpg.PostgresError("the server's words")
    driver.sqlstate = sqlstate
    return sa.DBAPIError("SELECT 1", {}, driver)


@pytest.mark.parametrize(
    ("sqlstate", "transient"),
    [
        ("40P01", True),  # deadlock detected
        ("40001", True),  # serialization failure
        ("08006", True),  # connection failure
        ("57014", True),  # query canceled (statement timeout)
        ("57P01", True),  # admin shutdown
        ("53300", True),  # too many connections
        ("55P03", True),  # lock not available
        ("23505", False),  # unique violation
        ("22001", False),  # string data right truncation
        ("42P01", False),  # undefined table
        ("42501", False),  # insufficient privilege
        ("28P01", False),  # invalid password
        ("3D000", True),  # database does not exist (now): unreachable, the sync turns failing and backs off
        ("55000", True),  # database not accepting connections
    ],
)
def test_postgresql_errors_are_decided_by_their_sqlstate(sqlstate: str, transient: bool) -> None:
    assert is_transient(_sqlstate_error(sqlstate)) is transient


def test_a_postgresql_deadlock_is_transient_though_sqlalchemy_calls_it_a_plain_database_error() -> None:
    error = sa.DatabaseError("UPDATE t", {}, asyncpg.exceptions.DeadlockDetectedError("deadlock detected"))

    assert isinstance(translate(error, "erp.customers: writing"), TransientError)
    assert describe(error) == "deadlock detected (SQLSTATE 40P01)"


@pytest.mark.parametrize(
    ("number", "cls", "transient"),
    [
        (1213, asyncmy.errors.OperationalError, True),  # deadlock
        (1205, asyncmy.errors.OperationalError, True),  # lock wait timeout
        (2013, asyncmy.errors.OperationalError, True),  # lost connection
        (2006, asyncmy.errors.OperationalError, True),  # server has gone away
        (1040, asyncmy.errors.OperationalError, True),  # too many connections
        (1045, asyncmy.errors.OperationalError, False),  # access denied
        (1049, asyncmy.errors.OperationalError, False),  # unknown database
        (1054, asyncmy.errors.OperationalError, False),  # unknown column
        (1366, asyncmy.errors.OperationalError, False),  # incorrect value
        (1062, asyncmy.errors.IntegrityError, False),  # duplicate entry
        (1406, asyncmy.errors.DataError, False),  # data too long
    ],
)
def test_mariadb_errors_are_decided_by_their_number(number: int, cls: type[Exception], transient: bool) -> None:
    driver = cls(number, "the server's words")
    sa_class = sa.OperationalError if cls is asyncmy.errors.OperationalError else sa.IntegrityError

    assert is_transient(sa_class("SELECT 1", {}, driver)) is transient
    assert describe(sa_class("SELECT 1", {}, driver)) == f"the server's words (error {number})"


@pytest.mark.parametrize(
    ("code", "transient"),
    [
        (sqlite3.SQLITE_BUSY, True),  # "database is locked"
        (sqlite3.SQLITE_LOCKED, True),
        (sqlite3.SQLITE_IOERR, True),
        (sqlite3.SQLITE_FULL, True),
        (sqlite3.SQLITE_ERROR, False),  # no such table, no such column
        (sqlite3.SQLITE_READONLY, False),
        (sqlite3.SQLITE_CANTOPEN, False),
        (sqlite3.SQLITE_CONSTRAINT_UNIQUE, False),
    ],
)
def test_sqlite_errors_are_decided_by_their_result_code(code: int, transient: bool) -> None:
    driver = sqlite3.OperationalError("the library's words")
    driver.sqlite_errorcode = code

    assert is_transient(sa.OperationalError("SELECT 1", {}, driver)) is transient


def test_a_value_the_driver_refuses_is_permanent_though_sqlalchemy_calls_it_an_interface_error() -> None:
    refused = asyncpg.exceptions._base.DataError("invalid input for query argument $1: 'x'")

    assert not is_transient(sa.InterfaceError("SELECT 1", {}, refused))


@pytest.mark.parametrize(
    "error",
    [ConnectionRefusedError(111, "Connect call failed"), TimeoutError(), OSError("Name or service not known")],
    ids=["refused", "timeout", "dns"],
)
def test_socket_errors_are_transient(error: OSError) -> None:
    with pytest.raises(TransientError), database_errors("erp: connecting"):
        raise error


def test_messages_carry_the_database_words_without_sql_parameters_or_password() -> None:
    error = sa.IntegrityError(
        "INSERT INTO customers (id, secret) VALUES ($1, $2)",
        {"secret": "row data"},
        asyncpg.exceptions.UniqueViolationError('duplicate key value violates unique constraint "customers_pkey"'),
    )

    message = str(translate(error, "erp.customers (postgresql://u:pw-123@h/db): writing", "pw-123"))

    assert message == (
        "erp.customers (postgresql://u:***@h/db): writing: "
        'duplicate key value violates unique constraint "customers_pkey" (SQLSTATE 23505)'
    )


def test_exceptions_that_are_not_the_databases_pass_through() -> None:
    with pytest.raises(KeyError), database_errors("erp.customers: reading"):
        raise KeyError("a bug")


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (asyncpg.exceptions.UniqueViolationError("duplicate key value"), PermanentError),
        (asyncpg.exceptions.DeadlockDetectedError("deadlock detected"), TransientError),
        (asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"), TransientError),
        (asyncpg.InterfaceError("cannot perform operation: another operation is in progress"), TransientError),
    ],
    ids=["unique", "deadlock", "closed", "interface"],
)
def test_asyncpgs_own_errors_are_translated_where_it_is_used_directly(
    error: Exception, expected: type[ConnectorError]
) -> None:
    """The COPY path talks to asyncpg itself: its errors come bare, not wrapped by SQLAlchemy."""
    with pytest.raises(ConnectorError) as caught, database_errors("erp.customers: writing"):
        raise error

    assert type(caught.value) is expected
    assert caught.value.__cause__ is error


def test_the_boundary_imports_no_driver_a_run_does_not_use() -> None:
    """A driver's error classes are looked up once it is imported, not imported for them (issue 18: asyncpg and
    asyncmy were loaded into every SQLite run only for this module)."""
    probe = "import sys, connectors.sql.errors; print(sorted({'asyncpg', 'asyncmy'} & set(sys.modules)))"

    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)

    assert result.stdout.strip() == "[]"
