"""Loading a project: every error of every file at once, in file order; what loads well."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import ConfigIssue, Mark, find_project_file, load_project, read_project
from app.config import loader as loader_module
from app.config.kinds import BrokenKindError, UnknownKindError, installed_kinds, options_model
from app.engine.workspace import open_workspace
from app.errors import ConfigError
from connectors.csv.config import CsvSystem
from connectors.sql.config import SqlSystem
from tests.conftest import MINIMAL_PROJECT, ProjectWriter

SYNC = """\
source: crm.contacts
target: erp.customers
fields:
  customer_no: id
"""

USERS_SYNC = """\
source: crm.users
target: erp.users
fields:
  user_no: id
"""


def located(issues: list[ConfigIssue], root: Path) -> list[tuple[str, int, int]]:
    return [(issue.file.relative_to(root).as_posix(), issue.line, issue.col) for issue in issues]


def test_every_file_reports_its_errors_in_one_run_project_first(write_project: ProjectWriter) -> None:
    project = write_project(
        {
            "brygga.yaml": MINIMAL_PROJECT + "retension: {runs: 7d}\n",
            "mappings/b.yaml": SYNC + "mode: upsret\n",
            "mappings/a.yaml": SYNC + "shedule: {every: 5m}\n",
        }
    )

    with pytest.raises(ConfigError) as caught:
        load_project(project, {})

    issues = caught.value.issues
    assert located(issues, project.parent) == [
        ("brygga.yaml", 15, 1),
        ("mappings/a.yaml", 5, 1),
        ("mappings/b.yaml", 5, 7),
    ]
    assert "did you mean 'retention'?" in issues[0].message
    assert "did you mean 'schedule'?" in issues[1].message
    assert "did you mean 'upsert'?" in issues[2].message


def test_config_and_mapping_errors_come_together_in_file_order(write_project: ProjectWriter) -> None:
    project = write_project(
        {
            "mappings/a.yaml": SYNC + "  sku: 'items[0.sku'\n" + "colour: red\n",
            "mappings/b.yaml": USERS_SYNC + "  name: {from: name, transform: [shout]}\n",
        }
    )

    with pytest.raises(ConfigError) as caught:
        open_workspace(project, {})

    assert located(caught.value.issues, project.parent) == [
        ("mappings/a.yaml", 5, 8),  # the path's error too, though the sync failed validation (colour)
        ("mappings/a.yaml", 6, 1),
        ("mappings/b.yaml", 5, 34),
    ]
    assert [issue.message.split(":")[0] for issue in caught.value.issues] == [
        "fields.sku",
        "colour",
        "fields.name.transform[0]",
    ]


def test_a_files_errors_are_sorted_by_position(write_project: ProjectWriter) -> None:
    project = write_project({"mappings/a.yaml": "mode: nope\nsource: crm\ncolour: red\n"})

    with pytest.raises(ConfigError) as caught:
        load_project(project, {})

    assert [(issue.line, issue.col) for issue in caught.value.issues] == [(1, 1), (1, 1), (1, 7), (2, 9), (3, 1)]
    assert [issue.message.split(":")[0] for issue in caught.value.issues] == [
        "missing required key 'target'",
        "missing required key 'fields'",
        "mode",
        "source",
        "colour",
    ]


def test_read_project_keeps_what_validated(write_project: ProjectWriter) -> None:
    project_file = write_project({"mappings/good.yaml": SYNC, "mappings/users.yaml": USERS_SYNC + "mode: sometimes\n"})

    project, issues = read_project(project_file, {})

    assert list(project.syncs) == ["good"]
    assert set(project.systems) == {"crm", "erp"}
    assert len(issues) == 1


def test_issue_prints_as_file_line_col_message_relative_to_the_working_folder(
    write_project: ProjectWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = write_project({"mappings/a.yaml": SYNC + "colour: red\n"})
    monkeypatch.chdir(project.parent)

    with pytest.raises(ConfigError) as caught:
        load_project(project, {})

    assert str(caught.value.issues[0]).startswith("mappings/a.yaml:5:1: colour: unknown key")
    assert str(caught.value) == "\n".join(str(issue) for issue in caught.value.issues)


def test_a_valid_project_loads(write_project: ProjectWriter) -> None:
    project = load_project(write_project({"mappings/contacts.yaml": SYNC, "mappings/users.yaml": USERS_SYNC}), {})

    assert sorted(project.syncs) == ["contacts", "users"]
    assert project.systems["crm"].connector == "sql"
    assert project.systems["erp"].options.streams["customers"].key == ("customer_no",)
    assert project.files[0] == project.file


def test_a_sync_is_named_after_its_file_stem_unless_named(write_project: ProjectWriter) -> None:
    project = load_project(
        write_project(
            {
                "mappings/crm-contacts-to-erp.yaml": SYNC,
                "mappings/users.yaml": "name: people\n" + USERS_SYNC,
            }
        ),
        {},
    )

    assert sorted(project.syncs) == ["crm-contacts-to-erp", "people"]
    assert project.syncs["crm-contacts-to-erp"].name == "crm-contacts-to-erp"


def test_a_lookup_may_name_a_sync_by_its_file_stem(write_project: ProjectWriter) -> None:
    contacts = SYNC + "  owner: {lookup: {sync: users, from: owner_id}}\nafter: users\n"

    project = load_project(write_project({"mappings/contacts.yaml": contacts, "mappings/users.yaml": USERS_SYNC}), {})

    assert project.syncs["contacts"].after == "users"


def test_mapping_patterns_are_relative_to_the_project_file(
    write_project: ProjectWriter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project_file = write_project(
        {
            "brygga.yaml": MINIMAL_PROJECT + "mappings: ['syncs/**/*.yaml', extra/one.yml]\n",
            "syncs/crm/contacts.yaml": SYNC,
            "extra/one.yml": USERS_SYNC,
        }
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    project = load_project(project_file, {})

    assert sorted(project.syncs) == ["contacts", "one"]


def test_a_missing_project_file_says_how_to_give_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_project(tmp_path / "brygga.yaml", {})

    [issue] = caught.value.issues
    assert (issue.file, issue.mark) == (tmp_path / "brygga.yaml", Mark(1, 1))
    assert issue.message == "file not found: create it, or pass -c PATH"


def test_a_file_that_is_not_utf8_is_reported_where_its_bad_byte_is(write_project: ProjectWriter) -> None:
    project = write_project({})
    (project.parent / "mappings").mkdir()
    (project.parent / "mappings" / "a.yaml").write_bytes(SYNC.encode() + "description: Kund i Malmö\n".encode("cp1252"))

    _, issues = read_project(project, {})

    [issue] = issues
    assert (issue.line, issue.col) == (5, 25)
    assert issue.message == "not UTF-8 text (byte 0xf6): save the file as UTF-8"


def test_a_utf8_bom_is_fine(write_project: ProjectWriter) -> None:
    project = write_project({"mappings/a.yaml": "\ufeff" + SYNC})

    assert list(load_project(project, {}).syncs) == ["a"]


def test_values_from_the_environment_never_appear_in_errors(write_project: ProjectWriter) -> None:
    project = write_project(
        {"brygga.yaml": MINIMAL_PROJECT + "api:\n  tokens:\n    - {name: ops, token: abc, role: '${ROLE}'}\n"}
    )

    with pytest.raises(ConfigError) as caught:
        load_project(project, {"ROLE": "administrator"})

    [issue] = caught.value.issues
    assert issue.message == "api.tokens[0].role: '***' is not valid: choose viewer or operator"


def test_values_from_the_environment_are_used_and_kept_secret(write_project: ProjectWriter) -> None:
    project_text = MINIMAL_PROJECT.replace("sqlite:///crm.db", "${CRM_URL}").replace("path: erp", "path: ${ERP:-erp}")

    project = load_project(write_project({"brygga.yaml": project_text}), {"CRM_URL": "sqlite:///other.db"})

    crm, erp = project.systems["crm"].options, project.systems["erp"].options
    assert isinstance(crm, SqlSystem)
    assert isinstance(erp, CsvSystem)
    assert crm.url == "sqlite:///other.db"
    assert erp.path == "erp"
    assert "sqlite:///other.db" in project.secrets
    assert "erp" not in project.secrets


def test_a_failed_reference_is_reported_once_not_again_by_its_validator(write_project: ProjectWriter) -> None:
    project_text = MINIMAL_PROJECT.replace("sqlite:///crm.db", "${CRM_URL}") + "state: ${STATE_URL}\n"

    _, issues = read_project(write_project({"brygga.yaml": project_text}), {})

    assert [issue.message.split(":")[0] for issue in issues] == [
        "environment variable CRM_URL is not set",
        "environment variable STATE_URL is not set",
    ]


def test_a_connector_kind_that_fails_to_load_is_reported_at_its_kind(
    write_project: ProjectWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(kind: str) -> type:
        raise BrokenKindError(f"connector kind '{kind}' (broken.module:Kind) failed to load: No module named 'broken'")

    monkeypatch.setattr(loader_module, "system_model", broken)

    _, issues = read_project(write_project({}), {})

    assert [(issue.line, issue.col) for issue in issues] == [(4, 16), (10, 16)]
    assert issues[0].message == (
        "systems.crm.connector: connector kind 'sql' (broken.module:Kind) failed to load: No module named 'broken'"
    )


def test_options_model_needs_a_subclass_of_system_options(monkeypatch: pytest.MonkeyPatch) -> None:
    class NoOptions:
        pass

    monkeypatch.setattr("app.config.kinds.load_kind", lambda kind: NoOptions)

    with pytest.raises(BrokenKindError, match=r"has no options_model subclassing app\.config\.SystemOptions"):
        options_model("mine")


def test_an_unknown_kind_names_the_installed_ones() -> None:
    installed = ", ".join(installed_kinds())
    assert installed.startswith("csv, ")

    with pytest.raises(UnknownKindError, match=rf"unknown connector kind 'ftp' \(installed: {installed}\)"):
        options_model("ftp")


def test_the_project_file_is_found_by_option_then_environment_then_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    assert find_project_file("given.yaml", {"BRYGGA_CONFIG": "env.yaml"}) == tmp_path / "given.yaml"
    assert find_project_file(None, {"BRYGGA_CONFIG": "env.yaml"}) == tmp_path / "env.yaml"
    assert find_project_file(None, {}) == tmp_path / "brygga.yaml"


_BUILT_WHEN_USED = """
import json, sys
import app.config.project, app.config.two_way, connectors.rest.config, connectors.sql.config
from app.config.base import ConfigModel
from connectors.rest.config import RestSystem

def models(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from models(sub)

built = sorted({model.__name__ for model in models(ConfigModel) if model.__pydantic_complete__})
system = RestSystem.model_validate({"base_url": "https://api.example.com", "streams": {}})
print(json.dumps([built, type(system).__pydantic_complete__]))
"""


def test_config_models_are_built_when_first_used_not_as_they_are_imported() -> None:
    """Each model's validator was built as its module was imported: 47 at every ``brygga run``, ~80 ms of CPU,
    though a parent's validator holds its children's and a project uses a few (issue 22)."""
    result = subprocess.run([sys.executable, "-c", _BUILT_WHEN_USED], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == [[], True]
