"""Each command exits with the code that app/cli/exit_codes.py's table gives its error's type (SPEC 6),
through the real console script: commands raise, ``main()`` maps, once."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.cli.exit_codes import EXIT_CODES, TRIALS, listed_type
from app.engine.ddl import NoTableToDescribe
from app.errors import BryggaError, ConfigError, ConnectorError, SettingsError, StoreError, UsageError
from tests.cli.helpers import run_brygga

CONTACTS = "crm-contacts-to-erp-customers"
UNREACHABLE_STATE = "postgresql://brygga@127.0.0.1:9/nowhere"
"""A PostgreSQL server nobody runs (port 9, discard): the state database cannot be opened."""


def _code(kind: type[BryggaError], command: str) -> int:
    """The table's code for ``kind`` raised by ``command``, read as ``main()`` reads it."""
    listed = listed_type(kind)
    assert listed is not None
    code = EXIT_CODES[listed]
    return 2 if command in TRIALS and code == 1 else code


def _break_the_config(quickstart: Path) -> None:
    text = quickstart.read_text(encoding="utf-8")
    quickstart.write_text(text.replace("connector: csv", "connector: ftp"), encoding="utf-8")


@pytest.mark.parametrize(
    ("args", "env", "kind", "message"),
    [
        pytest.param(["validate"], {}, ConfigError, "unknown connector kind 'ftp'", id="validate-config"),
        pytest.param(["run", "nothing"], {}, UsageError, "no sync named 'nothing'", id="run-usage"),
        pytest.param(["run", "--all", CONTACTS], {}, UsageError, "not both", id="run-usage-clash"),
        pytest.param(
            ["run", CONTACTS], {"BRYGGA_STATE_URL": UNREACHABLE_STATE}, StoreError, "state database", id="run-store"
        ),
        pytest.param(
            ["preview", CONTACTS],
            {"CRM_DATABASE_URL": "sqlite:///demo/gone.db"},
            ConnectorError,
            "gone.db does not exist",
            id="preview-connector",
        ),
        pytest.param(["preview", "nothing"], {}, UsageError, "no sync named 'nothing'", id="preview-usage"),
        pytest.param(
            ["status"], {"BRYGGA_STATE_URL": UNREACHABLE_STATE}, StoreError, "state database", id="status-store"
        ),
        pytest.param(
            ["status"], {"BRYGGA_FAILING_AFTER": "soon"}, SettingsError, "BRYGGA_FAILING_AFTER", id="status-settings"
        ),
        pytest.param(
            ["serve", "--port", "1"],
            {"BRYGGA_LOG_FORMAT": "xml"},
            SettingsError,
            "BRYGGA_LOG_FORMAT",
            id="serve-settings",
        ),
        pytest.param(["ddl", CONTACTS], {}, NoTableToDescribe, "describes tables of sql systems only", id="ddl-usage"),
    ],
)
def test_each_command_exits_with_the_tables_code_for_its_error(
    quickstart: Path, args: list[str], env: dict[str, str], kind: type[BryggaError], message: str
) -> None:
    if kind is ConfigError:
        _break_the_config(quickstart)

    result = run_brygga(*args, "-c", str(quickstart), cwd=quickstart.parent, env=env)

    assert result.returncode == _code(kind, args[0]), result.stderr
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr


def test_the_table_gives_what_spec_6_says() -> None:
    assert _code(ConfigError, "run") == _code(UsageError, "run") == _code(SettingsError, "serve") == 2
    assert _code(ConnectorError, "run") == _code(StoreError, "status") == 1
    assert _code(ConnectorError, "preview") == 2  # preview exits 0 or 2 (SPEC 6)
