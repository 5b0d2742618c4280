"""Each command imports only what it needs (issue 18): the import discipline, not a timing.

The real console-script entry point runs in a fresh interpreter, in-process there, so the modules it
loaded can be listed after the command has finished. The figures of what this buys are in
``bench/cli.py``; no test here measures time.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from app.cli import cli
from app.cli.lazy import lazy_commands
from tests.cli.helpers import run_brygga

REPO = Path(__file__).resolve().parents[2]

SERVICE = ("fastapi", "starlette", "uvicorn", "app.api", "apscheduler.schedulers", "prometheus_client")
"""What only ``brygga serve`` needs."""
STATE = ("sqlalchemy", "asyncpg", "asyncmy", "aiosqlite", "alembic", "app.store", "httpx")
"""What only commands that reach the state database or a system need."""
SETTINGS = ("pydantic_settings", "app.engine.settings")
"""What only commands that read the service's settings need (``serve``, and ``status`` for its thresholds)."""
NOT_SQLITE = (
    "asyncpg",
    "asyncmy",
    "sqlalchemy.dialects.postgresql",
    "sqlalchemy.dialects.mysql",
    "sqlmodel",
    "sqlalchemy.orm",
)
"""What a run with SQLite systems and SQLite state never uses: other databases' drivers and dialects (once
imported for their error classes, ``insert`` and types), and the ORM (SQLModel's, or the one SQLAlchemy's asyncio
extension imports: app/cli/lean_imports.py)."""

NOT_NEEDED = ("httpx._main", "pygments", "rich.syntax", "alembic")
"""What no run needs: httpx's own command line (with pygments and rich's syntax highlighting, 3.4 MB), and
Alembic while the state database is at the schema's head."""
ONE_WAY_POLLED = (
    "app.engine.two_way",
    "app.engine.webhook_run",
    "standardwebhooks",
    "app.engine.preview",
    "app.engine.two_way_preview",
    "app.engine.settling",
)
"""What a one-way run of polled systems never uses: the two-way run, the webhook run (its signatures), and
``brygga preview``'s (the two-way one's conflict settling with it)."""

RICH_VARIABLES = ("FORCE_COLOR", "TTY_COMPATIBLE")
"""What makes rich style output that goes to no terminal."""

SCRIPT = """
import json, sys
sys.argv = ["brygga", *json.loads(sys.argv[1])]
from app.cli import main
try:
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
loaded = sorted(name for name, module in sys.modules.items() if module)  # None: marked as not there
sys.__stdout__.write("\\nMODULES " + json.dumps({"code": code, "modules": loaded}) + "\\n")
"""


def _loaded(*args: str, cwd: Path, env: dict[str, str] | None = None) -> tuple[int, set[str]]:
    """The exit code of ``brygga ARGS`` (its output to a pipe) and the top packages and modules it imported.

    :param env: variables set for it; rich's own (``FORCE_COLOR``, ``TTY_COMPATIBLE``) are left out otherwise
    """
    environment = {name: value for name, value in os.environ.items() if name not in RICH_VARIABLES}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(args)],
        check=False,
        cwd=cwd,
        env=environment | (env or {}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    line = next(line for line in result.stdout.splitlines() if line.startswith("MODULES "))
    report = json.loads(line.removeprefix("MODULES "))
    return report["code"] or 0, set(report["modules"])


def _heavy(modules: set[str], families: tuple[str, ...]) -> list[str]:
    return sorted(family for family in families if any(m == family or m.startswith(family + ".") for m in modules))


@pytest.fixture
def quickstart(tmp_path: Path) -> Path:
    shutil.copy(REPO / "brygga.yaml", tmp_path / "brygga.yaml")
    shutil.copytree(REPO / "mappings", tmp_path / "mappings")
    assert run_brygga("demo", cwd=tmp_path).returncode == 0
    return tmp_path


@pytest.mark.parametrize("args", [["--help"], ["--version"]])
def test_help_imports_no_service_no_store_and_no_config_models(quickstart: Path, args: list[str]) -> None:
    code, modules = _loaded(*args, cwd=quickstart)

    assert code == 0
    assert _heavy(modules, SERVICE + STATE + ("app.engine", "app.config.loader", "pydantic")) == []


@pytest.mark.parametrize("args", [["validate"], ["test"], ["schema"], ["schema", "sync"], ["connectors"]])
def test_offline_commands_import_neither_the_service_nor_the_state_database(quickstart: Path, args: list[str]) -> None:
    code, modules = _loaded(*args, cwd=quickstart)

    assert code == 0
    assert _heavy(modules, SERVICE + STATE + SETTINGS + ("asyncio",)) == []


def test_run_imports_the_state_database_but_not_the_service(quickstart: Path) -> None:
    code, modules = _loaded("run", "crm-companies-to-erp-accounts", cwd=quickstart)

    assert code == 0
    assert _heavy(modules, SERVICE + SETTINGS + NOT_NEEDED) == []
    assert "app.store" in modules


def test_a_run_printing_to_a_pipe_imports_no_rich(quickstart: Path) -> None:
    plain_code, plain = _loaded("run", "crm-companies-to-erp-accounts", cwd=quickstart)
    styled_code, styled = _loaded("run", "crm-companies-to-erp-accounts", cwd=quickstart, env={"FORCE_COLOR": "1"})

    assert plain_code == styled_code == 0
    assert _heavy(plain, ("rich",)) == []
    assert "rich.console" in styled, "FORCE_COLOR asks for styled output: rich prints it"


def test_a_one_way_run_imports_neither_two_way_nor_webhook_runs(quickstart: Path) -> None:
    code, modules = _loaded("run", "crm-companies-to-erp-accounts", "crm-contacts-to-erp-customers", cwd=quickstart)

    assert code == 0
    assert _heavy(modules, ONE_WAY_POLLED) == []


def test_a_run_with_sqlite_state_imports_no_other_databases_driver_or_dialect(quickstart: Path) -> None:
    syncs = ("crm-companies-to-erp-accounts", "crm-contacts-to-erp-customers")
    assert run_brygga("run", *syncs, cwd=quickstart).returncode == 0  # the run after it finds nothing changed

    code, modules = _loaded("run", *syncs, cwd=quickstart)

    assert code == 0
    assert "sqlalchemy.dialects.sqlite" in modules
    assert _heavy(modules, NOT_SQLITE) == []


@pytest.mark.parametrize("args", [["validate"], ["test"]])
def test_mappings_without_expressions_are_checked_without_jinja(tmp_path: Path, args: list[str]) -> None:
    assert run_brygga("init", cwd=tmp_path).returncode == 0  # its mapping copies fields, with no {{ }}

    code, modules = _loaded(*args, cwd=tmp_path)

    assert code == 0
    assert _heavy(modules, ("jinja2",)) == []


def test_the_help_listed_for_each_lazy_command_is_its_docstrings_first_line() -> None:
    for lazy in lazy_commands().values():
        __import__(lazy.module)
    commands = typer.main.get_group(cli).commands

    assert {name: lazy.help for name, lazy in lazy_commands().items()} == {
        name: (commands[name].help or "").split("\n")[0] for name in lazy_commands()
    }
