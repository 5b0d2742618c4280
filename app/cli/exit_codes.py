"""The one table from error type to exit code (SPEC 6), applied once, in :func:`app.cli.main`.

Commands raise; ``main()`` maps. A type takes the entry of its nearest listed ancestor (its MRO), so a
new subclass needs no row of its own unless it means something else. Where SPEC 6 is silent, 1 is a
failure of a sync or a system and 2 a usage or config error. ``preview`` is a trial that changes
nothing: SPEC 6 gives it the codes 0 and 2 only, so whatever would exit 1 exits 2 there.

This module is imported by every command, ``--help`` too: it imports nothing but :mod:`app.errors`.
"""

from __future__ import annotations

from app.errors import (
    BryggaError,
    ConfigError,
    ConflictError,
    ConnectorError,
    DeleteWhenError,
    KindError,
    MappingError,
    NotFoundError,
    RequestError,
    RunStopped,
    SettingsError,
    StoreError,
)

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2

EXIT_CODES: dict[type[BryggaError], int] = {
    ConfigError: EXIT_CONFIG,
    SettingsError: EXIT_CONFIG,
    KindError: EXIT_CONFIG,  # install the package that provides the kind, or fix the config that names it
    RequestError: EXIT_CONFIG,  # usage errors; the API's request errors never reach a command
    NotFoundError: EXIT_CONFIG,  # a name the command was given that does not exist
    MappingError: EXIT_FAILED,
    DeleteWhenError: EXIT_FAILED,
    ConnectorError: EXIT_FAILED,
    StoreError: EXIT_FAILED,
    RunStopped: EXIT_FAILED,
    ConflictError: EXIT_FAILED,  # a run of the sync going on already, in the service say
}
"""Every direct subclass of :class:`BryggaError` has a row (``tests/test_error_tree.py`` checks it)."""

TRIALS = frozenset({"preview"})
"""Commands that only try the setup out: a failure is the setup's, exit 2 (SPEC 6)."""


def listed_type(kind: type[BaseException]) -> type[BryggaError] | None:
    """The nearest ancestor of ``kind`` (itself first) that the table lists; ``None`` for none."""
    return next((base for base in kind.__mro__ if base in EXIT_CODES), None)


def exit_code(error: BryggaError, command: str | None = None) -> int:
    """The exit code for ``error`` raised by ``command``; 1 for a type no row covers (a bug in the table)."""
    listed = listed_type(type(error))
    code = EXIT_CODES[listed] if listed is not None else EXIT_FAILED
    return EXIT_CONFIG if command in TRIALS and code == EXIT_FAILED else code
