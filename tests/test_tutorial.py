"""docs/tutorial.md, executed: its files written and its shell commands run in order, as written.

Fences with ``title="PATH"`` are files, written to the project folder;
```` ```sh ```` blocks are commands, run by bash in that folder (``sh skip-test``
blocks install things or set the variables below, which the test sets itself);
an ```` ```output ```` block is what the command block before it prints, ``…``
standing for text that differs from run to run (a line of ``…`` alone for any
number of lines). Runs of spaces and of table rules count as one, so a table
printed for another terminal width still matches.

The tutorial's CRM listens on a free port (``CRM_URL``) and the ERP is a fresh
PostgreSQL database (``ERP_DATABASE_URL``); ``brygga`` is this test's own
console script.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.services import FreshPostgresDatabase, require_service, services_required

REPO = Path(__file__).resolve().parents[1]
TUTORIAL = REPO / "docs" / "tutorial.md"
FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
TITLE = re.compile(r'title="([^"]+)"')
RULES = re.compile(r"([─━═])\1+")


@dataclass
class Step:
    """One fenced block: a file to write, commands to run, or the output of the commands before it."""

    kind: str  # "file", "sh", "output"
    text: str
    path: str = ""
    output: list[str] = field(default_factory=list)


def tutorial_steps(markdown: str) -> list[Step]:
    steps: list[Step] = []
    for match in FENCE.finditer(markdown):
        info, body = match.group(1).strip(), match.group(2)
        words = info.split()
        title = TITLE.search(info)
        if title:
            steps.append(Step("file", body, path=title.group(1)))
        elif words[:1] == ["sh"] and "skip-test" not in words:
            steps.append(Step("sh", body))
        elif words[:1] == ["output"]:
            assert steps and steps[-1].kind == "sh", f"an output block must follow a command block:\n{body}"
            steps[-1].output = body.splitlines()
    return steps


def _normal(line: str) -> str:
    return RULES.sub(r"\1", " ".join(line.split()))


def _line_matches(expected: str, actual: str) -> bool:
    pattern = ".*?".join(re.escape(piece) for piece in _normal(expected).split("…"))
    return re.fullmatch(pattern, _normal(actual)) is not None


def output_matches(expected: list[str], actual: list[str]) -> bool:
    """Every expected line matches the actual lines in order; ``…`` alone matches any number of lines."""
    expected = [line for line in expected if line.strip()]
    actual = [line for line in actual if line.strip()]
    if not expected:
        return not actual
    if expected[0].strip() == "…":
        return any(output_matches(expected[1:], actual[start:]) for start in range(len(actual) + 1))
    return bool(actual) and _line_matches(expected[0], actual[0]) and output_matches(expected[1:], actual[1:])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
async def erp_database() -> AsyncIterator[str]:
    require_service("postgresql")
    if shutil.which("psql") is None or shutil.which("curl") is None:
        message = "the tutorial uses psql and curl, and one of them is not installed"
        if services_required():
            pytest.fail(f"{message}, and BRYGGA_REQUIRE_SERVICES=1 requires them")
        pytest.skip(message)
    async with FreshPostgresDatabase() as url:
        yield url


@pytest.fixture
def process_groups() -> Iterator[list[int]]:
    """The process groups of the command blocks: what a block left running (the CRM) is stopped at the end."""
    groups: list[int] = []
    yield groups
    for group in groups:
        with contextlib.suppress(ProcessLookupError):  # the block's shell and all it started are gone already
            os.killpg(group, signal.SIGTERM)


async def test_the_tutorial_runs_as_written(tmp_path: Path, erp_database: str, process_groups: list[int]) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("BRYGGA_", "PG"))}
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        CRM_URL=f"http://127.0.0.1:{_free_port()}",
        ERP_DATABASE_URL=erp_database,
        NO_COLOR="1",
        COLUMNS="200",
        PGCONNECT_TIMEOUT="10",
    )
    steps = tutorial_steps(TUTORIAL.read_text(encoding="utf-8"))
    assert sum(step.kind == "sh" for step in steps) >= 8
    for number, step in enumerate(steps, 1):
        if step.kind == "file":
            (tmp_path / step.path).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / step.path).write_text(step.text, encoding="utf-8")
            continue
        log = tmp_path.parent / f"step-{number}.log"  # a file, not a pipe: a command left in the background holds it
        with log.open("w", encoding="utf-8") as sink:
            process = subprocess.Popen(
                ["bash", "-e", "-o", "pipefail", "-c", step.text],
                cwd=tmp_path,
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            process_groups.append(process.pid)
            code = process.wait(timeout=120)
        printed = log.read_text(encoding="utf-8")
        assert code == 0, f"step {number} exited {code}:\n{step.text}\n--- it printed:\n{printed}"
        if step.output:
            assert output_matches(step.output, printed.splitlines()), (
                f"step {number} printed other than the tutorial shows:\n{step.text}\n--- expected:\n"
                + "\n".join(step.output)
                + f"\n--- printed:\n{printed}"
            )


def test_the_output_matcher() -> None:
    assert output_matches(["customers: succeeded in …s (run 1)"], ["customers: succeeded in 0.2s (run 1)"])
    assert not output_matches(["read 3, created 3"], ["read 3, created 2"])
    assert output_matches(["…", "│ a │ … │ 0 │", "…"], ["┏━━┓", "│ a   │ x │ y │ 0    │", "└──┘"])
    assert output_matches(["┏━┳━┓"], ["┏━━━━┳━━━━━━┓"])
    assert not output_matches(["one"], ["one", "two"])


def test_the_tutorial_is_linked_from_the_readme_and_the_docs() -> None:
    assert "docs/tutorial.md" in (REPO / "README.md").read_text(encoding="utf-8")
    assert "tutorial.md" in (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
