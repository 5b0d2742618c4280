"""The README's commands, CI, packaging and container files agree with each other."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```(?:sh|bash|shell)\n(.*?)```", readme, re.DOTALL)
    assert block is not None, "README.md needs a fenced shell block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_gives_two_one_line_commands() -> None:
    quickstart, tests = _readme_commands()

    assert "pip install" in quickstart and "brygga" in quickstart
    assert "pip install" in tests and "pytest" in tests
    assert "ruff check" in tests and "mypy" in tests


def test_ci_runs_the_readme_test_command_with_services_required() -> None:
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    _, tests = _readme_commands()

    assert tests in ci.splitlines()
    assert "export BRYGGA_REQUIRE_SERVICES=1" in ci


def test_every_connector_package_is_registered() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    registered = pyproject["project"]["entry-points"]["brygga.connectors"]
    packages = {p.parent.name for p in (REPO / "connectors").glob("*/connector.py")}

    assert set(registered) == packages
    for kind, target in registered.items():
        module, _, name = target.partition(":")
        assert module == f"connectors.{kind}.connector"
        assert f"class {name}(" in (REPO / "connectors" / kind / "connector.py").read_text(encoding="utf-8")


def test_the_test_command_installs_and_runs_every_example_connector() -> None:
    """Each package in examples/ passes the contract suite in CI: installed, and its tests collected."""
    _, tests = _readme_commands()
    pytest_options = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["pytest"]
    examples = sorted(p.parent.name for p in (REPO / "examples").glob("*/pyproject.toml"))

    assert examples, "examples/ holds no connector package"
    for example in examples:
        assert f"-e examples/{example}" in tests
        assert f"examples/{example}/tests" in pytest_options["ini_options"]["testpaths"]
