"""``brygga validate`` through the real console script: every error on stderr, exit 2; exit 0 when valid."""

from __future__ import annotations

from tests.cli.helpers import run_brygga
from tests.conftest import MINIMAL_PROJECT, ProjectWriter

SYNC = """\
source: crm.contacts
target: erp.customers
fields:
  customer_no: id
"""


def test_validate_prints_every_error_and_exits_2(write_project: ProjectWriter) -> None:
    project = write_project(
        {
            "brygga.yaml": MINIMAL_PROJECT + "state: ${STATE_URL}\n",
            "mappings/a.yaml": SYNC + "  sku: 'items[0.sku'\n",
            "mappings/b.yaml": SYNC + "mode: upsret\n",
        }
    )

    result = run_brygga("validate", "-c", str(project), cwd=project.parent)

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "brygga.yaml:15:8: environment variable STATE_URL is not set: set it, or give a default with"
        " ${STATE_URL:-value}",
        "mappings/a.yaml:5:8: fields.sku: bad path 'items[0.sku' at character 6: write names joined by dots,"
        ' [N] for list items and ["name"] for names with dots, such as address.country or items[0].sku',
        "mappings/b.yaml:5:7: mode: 'upsret' is not valid: choose upsert, insert, update or mirror"
        " (did you mean 'upsert'?)",
        "3 config errors",
    ]
    assert result.stdout == ""


def test_validate_finds_the_project_through_brygga_config(write_project: ProjectWriter) -> None:
    project = write_project({"mappings/a.yaml": SYNC + "colour: red\n"})

    result = run_brygga("validate", cwd=project.parent.parent, env={"BRYGGA_CONFIG": str(project)})

    assert result.returncode == 2
    assert f"{project.parent.name}/mappings/a.yaml:5:1: colour: unknown key" in result.stderr


def test_validate_exits_0_for_a_valid_project(write_project: ProjectWriter) -> None:
    project = write_project({"mappings/a.yaml": SYNC})

    result = run_brygga("validate", "-c", str(project), cwd=project.parent)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok: 2 systems, 1 sync (brygga.yaml)"
    assert result.stderr == ""
