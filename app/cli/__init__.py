"""The ``brygga`` command line (SPEC 6).

Exit codes: 0 all well, 1 a test, record or run failed, 2 a config or usage error.
Everything printed passes through the project's secret scrubber.
"""

from app.cli import checks, ddl, demo, init, runs, serve
from app.cli.app import cli
from app.cli.output import output

__all__ = ["checks", "cli", "ddl", "demo", "init", "main", "runs", "serve"]


def main() -> None:
    """The console-script entry point."""
    output.guard_streams()
    cli()
