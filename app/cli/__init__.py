"""The ``brygga`` command line (SPEC 6).

Exit codes: 0 all well, 1 a test, record or run failed, 2 a config or usage error. Commands raise
Brygga errors; :func:`main` maps each to its message and exit code, by type, with the table in
:mod:`app.cli.exit_codes`.
Everything printed passes through the project's secret scrubber.

Each command imports only what it needs, when it is run (issue 18): ``brygga --help`` and
``brygga validate`` import neither FastAPI, uvicorn nor the state database. To add a command:

1. write it in a module of its own (or beside its kin) as ``@cli.command()`` on
   :data:`app.cli.app.cli`; the module may import what the command needs at its top;
2. list it below with :func:`~app.cli.lazy.lazy_command`: its name, its module, and the first line of
   its docstring (what ``brygga --help`` shows without importing the module);
3. keep :mod:`app.cli.app` and :mod:`app.cli.output`, which every command imports, free of heavy
   imports. ``tests/cli/test_startup.py`` checks what ``--help`` and the offline commands import.

Everything shared (the ``-c`` option, exit codes, :func:`~app.cli.app.open_workspace`) is in
:mod:`app.cli.app`; the lazy loading itself is in :mod:`app.cli.lazy`.
"""

import gc
import sys

from app.cli.app import cli, running_command
from app.cli.exit_codes import exit_code
from app.cli.lazy import lazy_command
from app.cli.lean_imports import leave_unimported
from app.cli.output import output
from app.cli.start_up import start_up_begins
from app.errors import BryggaError, ConfigError, SettingsError

__all__ = ["cli", "main"]

lazy_command(
    "validate",
    "app.cli.checks",
    "Check the project file and every sync, connectors' options included, without connecting.",
)
lazy_command("test", "app.cli.checks", "Run the syncs' mapping tests; print each failure with expected and actual.")
lazy_command(
    "schema", "app.cli.schema", "Print the JSON Schema of brygga.yaml or of a sync file, for editor completion."
)
lazy_command("connectors", "app.cli.schema", "List the installed connector kinds.")
lazy_command(
    "demo",
    "app.cli.demo",
    "Create the quickstart's sample systems (demo/crm.db and demo/erp-import/) if they are missing.",
)
lazy_command("run", "app.cli.runs", "Run syncs now, with a progress bar on a terminal, and print their counts.")
lazy_command(
    "preview", "app.cli.runs", "Read from the source and show the action each record would get; writes nothing."
)
lazy_command(
    "check",
    "app.cli.system_checks",
    "Connect to each system the syncs use and look at their streams; reads and writes no record.",
)
lazy_command("status", "app.cli.status", "Every sync's last run and dead-letter count, from the state database.")
lazy_command(
    "serve",
    "app.cli.serve",
    "Run the service: HTTP API, webhooks and schedules. SIGHUP reloads the config; SIGTERM stops cleanly.",
)
lazy_command(
    "init",
    "app.cli.init",
    "Write a commented starting brygga.yaml and one sync in mappings/, ready for `brygga validate`.",
)
lazy_command(
    "ddl",
    "app.cli.ddl",
    "Print a CREATE TABLE for a sync's SQL target, for you to review and run: Brygga never runs it.",
)


def main() -> None:
    """The console-script entry point: the one place a Brygga error becomes a message and an exit code."""
    collecting = start_up_begins()  # until the command's project is open (app.cli.start_up)
    leave_unimported()
    output.guard_streams()
    try:
        _command()
    except SystemExit as exc:
        ending = sys.modules.get("app.cli.event_loop")  # imported by the commands that call connectors
        if ending is not None:
            ending.end_now_if_left_running(exc.code)
        raise
    finally:
        # Everything is about to go with the process: frozen, it is skipped by the collections the
        # interpreter makes as it exits, which went over every object imported (~40 ms of `validate`).
        gc.freeze()
        if collecting:
            gc.enable()


def _command() -> None:
    try:
        cli()
    except BryggaError as exc:
        _report(exc)
        sys.exit(exit_code(exc, running_command()))


def _report(error: BryggaError) -> None:
    """What went wrong, on stderr: every issue of a config error and their count, else the error's message.

    A message is one line (names, keys and systems' answers quoted in it included), but a settings error's:
    it has a line per setting, the values in them spelt out already (app.engine.settings)."""
    if isinstance(error, ConfigError):
        for issue in error.issues:
            output.warn(str(issue))
        count = len(error.issues)
        output.warn(f"{count} config error{'s' if count != 1 else ''}", style="bold red")
    else:
        output.warn(f"error: {error}", style="red", one_line=not isinstance(error, SettingsError))
