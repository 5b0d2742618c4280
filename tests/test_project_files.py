"""The README's commands, CI, packaging and container files agree with each other."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

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


def _pins() -> dict[str, str]:
    """``constraints.txt`` as ``{normalised name: version}``."""
    lines = (REPO / "constraints.txt").read_text(encoding="utf-8").splitlines()
    pins = [line.split("==") for line in lines if line.strip() and not line.startswith("#")]
    assert all(len(pin) == 2 for pin in pins), "constraints.txt holds only NAME==VERSION lines (pip freeze)"
    return {canonicalize_name(name): version.strip() for name, version in pins}


def test_constraints_pin_every_dependency_within_its_bounds() -> None:
    """A dependency added or raised in pyproject.toml without refreshing constraints.txt (CONTRIBUTING.md)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = _pins()
    wanted = [Requirement(text) for text in [*project["dependencies"], *project["optional-dependencies"]["test"]]]

    unpinned = sorted(str(req) for req in wanted if canonicalize_name(req.name) not in pins)
    outside = sorted(
        f"{req} (pinned {pins[canonicalize_name(req.name)]})"
        for req in wanted
        if canonicalize_name(req.name) in pins and not req.specifier.contains(pins[canonicalize_name(req.name)])
    )
    assert (unpinned, outside) == ([], [])
    assert "brygga" not in pins and "brygga-jsonl" not in pins  # editable installs are left out


def test_the_test_command_installs_within_the_constraints_and_tests_have_a_timeout() -> None:
    _, tests = _readme_commands()
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))

    assert "pip install -q -c constraints.txt -e '.[test]'" in tests
    assert pyproject["tool"]["pytest"]["ini_options"]["timeout"] == 120


SHARED_TEST_DATABASE = re.compile(r"127\.0\.0\.1:(5432|3306)/test\b")


def test_tests_run_in_workers_that_never_share_a_database() -> None:
    """The test command runs the suite in one process per CPU; each has its own ``test_gwN`` databases
    (tests/services.py). A test naming the shared ``test`` database itself would meet another worker's
    tables there."""
    _, tests = _readme_commands()
    named = [
        f"{path.relative_to(REPO)}:{number}"
        for path in (REPO / "tests").rglob("*.py")
        if path.name != "services.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if SHARED_TEST_DATABASE.search(line)
    ]

    assert tests.endswith("pytest -q -n auto")
    assert named == [], f"use tests.services.POSTGRES_URL / MARIADB_URL instead of the shared database: {named}"
