"""``-c`` before the command, ``run --all`` in ``after:`` order, and ``status`` words as the API's (issue 18)."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.cli.helpers import BRYGGA, run_brygga

REPO = Path(__file__).resolve().parents[2]
COMPANIES, CONTACTS = "crm-companies-to-erp-accounts", "crm-contacts-to-erp-customers"


def test_the_config_option_is_accepted_before_the_command(quickstart: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    status = run_brygga("-c", str(quickstart), "status", cwd=elsewhere)
    validate = run_brygga("--config", str(quickstart), "validate", cwd=elsewhere)

    assert status.returncode == 0, status.stderr
    assert COMPANIES in status.stdout
    assert validate.returncode == 0, validate.stderr
    assert "ok: 3 systems, 3 syncs" in validate.stdout


def test_the_commands_own_config_option_wins(quickstart: Path, tmp_path: Path) -> None:
    result = run_brygga("-c", str(tmp_path / "missing.yaml"), "validate", "-c", str(quickstart), cwd=tmp_path)

    assert result.returncode == 0, result.stderr


def test_run_all_runs_every_sync_with_after_order_kept(quickstart: Path) -> None:
    syncs = quickstart.parent / "mappings"
    # Declared first, but runs after contacts, which runs after companies.
    (syncs / "aaa-again.yaml").write_text(
        (syncs / f"{COMPANIES}.yaml").read_text().replace("schedule: {every: 5m}", f"after: {CONTACTS}")
    )

    result = run_brygga("run", "--all", "-c", str(quickstart))

    assert result.returncode == 0, result.stdout + result.stderr
    order = [line.split(":")[0] for line in result.stdout.splitlines() if not line.startswith(" ")]
    assert order == [COMPANIES, CONTACTS, "aaa-again", "crm-contacts-helpdesk"]


def test_run_all_skips_a_sync_whose_after_sync_failed(quickstart: Path) -> None:
    (quickstart.parent / "demo" / "crm.db").unlink()
    (quickstart.parent / "demo" / "crm.db").mkdir()  # the CRM cannot be opened: every run fails

    result = run_brygga("run", "--all", "-c", str(quickstart))

    assert result.returncode == 1
    assert f"{COMPANIES}: failed" in result.stdout
    assert f"{CONTACTS}: skipped: it runs after {COMPANIES}, which failed" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--all", COMPANIES], "give sync names or --all, not both"),
        ([], "name the syncs to run, or give --all"),
    ],
)
def test_run_needs_names_or_all_but_not_both(quickstart: Path, args: list[str], message: str) -> None:
    result = run_brygga("run", *args, "-c", str(quickstart))

    assert result.returncode == 2
    assert message in result.stderr


def test_status_shows_each_syncs_status_word(quickstart: Path) -> None:
    assert run_brygga("run", "--all", "-c", str(quickstart)).returncode == 0
    before = run_brygga("status", "-c", str(quickstart))
    state = quickstart.parent / "demo" / "brygga.db"
    with sqlite3.connect(state) as connection:
        for sync, paused, failures in [(COMPANIES, 0, 3), (CONTACTS, 1, 0)]:
            connection.execute(
                "INSERT INTO sync_states (sync, paused, failures, updated_at) VALUES (?, ?, ?, '2024-01-01 00:00:00')"
                " ON CONFLICT (sync) DO UPDATE SET paused = excluded.paused, failures = excluded.failures",
                (sync, paused, failures),
            )
    connection.close()

    result = run_brygga("status", "-c", str(quickstart))

    assert result.returncode == 0, result.stderr
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if line.count("│") > 2}
    assert "│ idle " in before.stdout
    assert rows[COMPANIES].split("│")[2].strip() == "failing"
    assert rows[CONTACTS].split("│")[2].strip() == "paused"


def test_failed_runs_of_the_cli_turn_a_sync_failing_and_one_that_gets_through_clears_it(quickstart: Path) -> None:
    """SPEC 8: a sync turns ``failing`` after a run of failures, whoever ran it (only the service's runs
    counted: three failed ``brygga run`` in a row left it ``idle``)."""
    source = quickstart.parent / "demo" / "crm.db"
    source.rename(source.with_suffix(".away"))

    def status_of_companies() -> str:
        shown = run_brygga("status", "-c", str(quickstart))
        rows = {
            line.split("│")[1].strip(): line.split("│")[2].strip() for line in shown.stdout.splitlines() if "│" in line
        }
        return rows[COMPANIES]

    for _ in range(3):
        assert run_brygga("run", COMPANIES, "-c", str(quickstart)).returncode == 1
    failing = status_of_companies()
    source.with_suffix(".away").rename(source)
    assert run_brygga("run", COMPANIES, "-c", str(quickstart)).returncode == 0

    assert (failing, status_of_companies()) == ("failing", "idle")


def _from_a_deleted_folder(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``brygga ARGS…`` started in ``folder``, which is deleted just before (as when a shell's folder is removed)."""
    folder.mkdir()
    script = 'cd "$1" && rmdir "$1" && shift && exec "$@"'
    environment = {"NO_COLOR": "1", "COLUMNS": "200", "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        ["sh", "-c", script, "sh", str(folder), str(BRYGGA), *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_deleted_working_folder_is_a_usage_error_not_a_traceback(quickstart: Path, tmp_path: Path) -> None:
    relative = _from_a_deleted_folder(tmp_path / "gone", "validate")
    absolute = _from_a_deleted_folder(tmp_path / "gone-too", "-c", str(quickstart), "validate")

    assert relative.returncode == 2, relative.stderr
    assert "the current folder no longer exists" in relative.stderr
    assert "-c" in relative.stderr
    assert "Traceback" not in relative.stderr
    assert absolute.returncode == 0, absolute.stderr  # a full path needs no working folder


def test_serve_where_it_cannot_listen_is_a_usage_error_said_once(quickstart: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        in_use = run_brygga("serve", "--port", str(port), "-c", str(quickstart), timeout=30)
    bracketed = run_brygga("serve", "--host", "[::1]", "-c", str(quickstart), timeout=30)

    assert in_use.returncode == 2, in_use.stderr
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use: choose another --port" in in_use.stderr
    assert bracketed.returncode == 2, bracketed.stderr
    assert "cannot listen on [::1]: " in bracketed.stderr and "(::1 without brackets)" in bracketed.stderr
    assert "Traceback" not in in_use.stderr + bracketed.stderr


@pytest.mark.parametrize("command", [["schema", "sync"], ["schema"], ["connectors"], ["validate"], ["status"]])
def test_every_command_takes_the_config_option_after_its_name(quickstart: Path, command: list[str]) -> None:
    result = run_brygga(*command, "-c", str(quickstart), cwd=quickstart.parent.parent)

    assert result.returncode == 0, result.stderr


def test_a_sync_name_of_100000_characters_is_shown_cut_in_its_error(quickstart: Path) -> None:
    name = "x" * 100_000

    result = run_brygga("run", name, "-c", str(quickstart))

    assert result.returncode == 2
    assert f"no sync named '{'x' * 119}…'" in result.stderr and len(result.stderr) < 400, len(result.stderr)
