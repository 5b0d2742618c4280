"""``brygga init`` writes a starting project that ``brygga validate`` and ``brygga test`` accept as written."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from tests.cli.helpers import run_brygga

KINDS = ("rest", "sql", "csv")


@pytest.mark.parametrize(("source", "target"), list(itertools.product(KINDS, KINDS)))
def test_every_kind_pair_validates_and_tests_as_written(tmp_path: Path, source: str, target: str) -> None:
    result = run_brygga("init", "--from", source, "--to", target, str(tmp_path / "project"))
    assert result.returncode == 0, result.stderr
    project = tmp_path / "project"
    assert (project / "brygga.yaml").is_file()
    assert [path.name for path in (project / "mappings").iterdir()] == ["customers.yaml"]

    checked = run_brygga("validate", cwd=project)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = run_brygga("test", cwd=project)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "2 passed, 0 failed" in tested.stdout
    assert sorted(path.name for path in project.iterdir()) == ["brygga.yaml", "mappings"]  # nothing else written


def test_the_default_is_rest_to_sql_in_the_current_folder(tmp_path: Path) -> None:
    result = run_brygga("init", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "brygga.yaml").read_text(encoding="utf-8")
    assert "connector: rest" in text
    assert "connector: sql" in text
    assert "${CRM_URL:-http://127.0.0.1:8080}" in text
    assert "brygga.yaml" in result.stdout
    assert "mappings/customers.yaml" in result.stdout


def test_the_files_are_commented_and_point_at_the_docs(tmp_path: Path) -> None:
    assert run_brygga("init", cwd=tmp_path).returncode == 0
    project = (tmp_path / "brygga.yaml").read_text(encoding="utf-8")
    mapping = (tmp_path / "mappings" / "customers.yaml").read_text(encoding="utf-8")
    assert "docs/configuration.md" in project
    assert "docs/mappings.md" in mapping
    assert project.count("#") > 10
    assert mapping.count("#") > 8


def test_existing_files_are_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "brygga.yaml").write_text("version: 1\n# mine\n", encoding="utf-8")

    result = run_brygga("init", cwd=tmp_path)

    assert result.returncode == 2
    assert "brygga.yaml" in result.stderr
    assert "--force" in result.stderr
    assert (tmp_path / "brygga.yaml").read_text(encoding="utf-8") == "version: 1\n# mine\n"
    assert not (tmp_path / "mappings").exists()  # nothing half written


def test_an_existing_mapping_is_not_overwritten_either(tmp_path: Path) -> None:
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "customers.yaml").write_text("# mine\n", encoding="utf-8")

    result = run_brygga("init", cwd=tmp_path)

    assert result.returncode == 2
    assert "customers.yaml" in result.stderr
    assert not (tmp_path / "brygga.yaml").exists()


def test_force_overwrites(tmp_path: Path) -> None:
    (tmp_path / "brygga.yaml").write_text("version: 1\n# mine\n", encoding="utf-8")

    result = run_brygga("init", "--force", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "# mine" not in (tmp_path / "brygga.yaml").read_text(encoding="utf-8")
    assert run_brygga("validate", cwd=tmp_path).returncode == 0


def test_an_unknown_kind_is_a_usage_error_that_lists_the_kinds(tmp_path: Path) -> None:
    result = run_brygga("init", "--from", "sap", cwd=tmp_path)

    assert result.returncode == 2
    assert "sap" in result.stderr
    for kind in KINDS:
        assert kind in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_templates_are_package_data_in_the_wheel() -> None:
    """An install from a wheel (pipx) has no source tree: every template must be listed as package data."""
    import tomllib

    repo = Path(__file__).resolve().parents[2]
    config = tomllib.loads((repo / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["app.cli"]
    folder = repo / "app" / "cli"
    listed = {path for pattern in patterns for path in folder.glob(pattern)}
    assert set((folder / "templates").iterdir()) <= listed


def _a_file(root: Path) -> str:
    (root / "afile").write_text("not a folder", encoding="utf-8")
    return "afile"


def _a_dangling_link(root: Path) -> str:
    (root / "dangling").symlink_to(root / "nowhere")
    return "dangling"


def _a_folder_where_the_sync_goes(root: Path) -> str:
    (root / "p" / "mappings" / "customers.yaml").mkdir(parents=True)
    return "p"


@pytest.mark.parametrize(
    ("place", "extra", "message"),
    [
        (_a_file, [], "afile is not a folder: nothing written"),
        (_a_dangling_link, [], "dangling is not a folder: nothing written"),
        (_a_folder_where_the_sync_goes, ["--force"], "customers.yaml is a folder: nothing written"),
        (lambda root: "d" * 300, [], "cannot write in " + "d" * 300 + ": File name too long"),
    ],
    ids=["a-file", "a-dangling-link", "a-folder-for-a-file", "a-name-too-long"],
)
def test_a_place_that_cannot_take_the_project_is_a_usage_error_and_nothing_is_written(
    tmp_path: Path, place: Any, extra: list[str], message: str
) -> None:
    folder = place(tmp_path)

    result = run_brygga("init", folder, *extra, cwd=tmp_path)

    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not list(tmp_path.rglob("brygga.yaml"))
