"""``brygga validate`` through the real console script: every error on stderr, exit 2; exit 0 when valid."""

from __future__ import annotations

import pytest

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


ALIAS_BOMB = "".join(
    f"{name}: &{name} [{', '.join([f'*{previous}' if previous else 'lol'] * 9)}]\n"
    for previous, name in zip(["", *"abcdefgh"], "abcdefghi", strict=True)
)
USERS = "      users: {table: users, key: id}\n"
WEBHOOK = "    webhook: {verify: token, secret: '${CRM_WEBHOOK_TOKEN}', stream: users}\n"


@pytest.mark.parametrize(
    ("files", "error"),
    [
        pytest.param(
            {"mappings/a.yaml": SYNC + ALIAS_BOMB},
            "mappings/a.yaml:10:8: the alias *e takes this file past 100,000 values (each alias repeats all that its"
            " anchor holds, 66,430 values here): use fewer aliases",
            id="alias-bomb",
        ),
        pytest.param(
            {"mappings/a.yaml": SYNC + "tests: &t [{name: x, skip: true, input: {cases: *t}}]\n"},
            "mappings/a.yaml:5:49: the alias *t is inside its own anchor &t (line 5), so it would repeat forever: an"
            " alias can only name a finished value",
            id="recursive-alias",
        ),
        pytest.param(
            {"mappings/a.yaml": SYNC + "description: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n"},
            "mappings/a.yaml:5:407: nested more than 100 levels deep: no config needs that many",
            id="deep-nesting",
        ),
        pytest.param(
            {
                "brygga.yaml": MINIMAL_PROJECT.replace(
                    "      users: {table: users, key: id}\n", "      users: {table: users, key: id}\n" + WEBHOOK
                )
            },
            "brygga.yaml:9:38: systems.crm.webhook.secret: the secret is empty (0 characters; a ${VAR} set to nothing"
            ' gives that): use at least 16 random characters, such as the output of python3 -c "import secrets;'
            ' print(secrets.token_hex(16))"',
            id="empty-secret",
        ),
        pytest.param(
            {"mappings/a.yaml": SYNC + "description: a\x00b\n"},
            "mappings/a.yaml:5:15: a NUL character (U+0000) cannot be in a YAML file: remove it (or write an escape in"
            " double quotes)",
            id="nul-byte",
        ),
    ],
)
def test_validate_refuses_a_hostile_config_with_exit_2(
    write_project: ProjectWriter, files: dict[str, str], error: str
) -> None:
    project = write_project(files)

    result = run_brygga("validate", "-c", str(project), cwd=project.parent, env={"CRM_WEBHOOK_TOKEN": ""}, timeout=30)

    assert (result.returncode, result.stderr.splitlines(), result.stdout) == (2, [error, "1 config error"], "")


def test_validate_checks_what_it_can_offline_and_does_not_stop_at_a_broken_system(
    write_project: ProjectWriter,
) -> None:
    rest = (
        "  shop:\n    connector: rest\n    base_url: https://shop.example.com\n    streams:\n"
        '      customers: {path: /customers, key: id, get: {path: "/customers/{customer}"}}\n'
    )
    project = write_project(
        {
            "brygga.yaml": MINIMAL_PROJECT.replace("    url: sqlite:///crm.db\n", "") + rest,
            "mappings/a.yaml": SYNC.replace("crm.contacts", "crm.contactz") + "  sku: 'items[0.sku'\n",
        }
    )

    result = run_brygga("validate", "-c", str(project), cwd=project.parent)

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "brygga.yaml:4:5: systems.crm: missing required key 'url'",
        "brygga.yaml:18:58: systems.shop.streams.customers.get.path: '{customer}' in '/customers/{customer}' is not"
        " a key field: use {key}, {id}",
        "mappings/a.yaml:1:9: source: system 'crm' has errors (above); its stream 'contactz' could not be checked",
        "mappings/a.yaml:5:8: fields.sku: bad path 'items[0.sku' at character 6: write names joined by dots,"
        ' [N] for list items and ["name"] for names with dots, such as address.country or items[0].sku',
        "4 config errors",
    ]


def test_a_value_of_megabytes_is_shown_by_its_start_and_end(write_project: ProjectWriter) -> None:
    """An error quotes its value; a mode of 2 MB made an error line of 2 MB, in a terminal or a log."""
    project = write_project({"mappings/a.yaml": SYNC + f"mode: up{'z' * 2_000_000}sert\n"})

    result = run_brygga("validate", "-c", str(project), cwd=project.parent)

    assert result.returncode == 2
    line, count = result.stderr.splitlines()
    assert (len(line) <= 2000 + len("mappings/a.yaml:5:7: "), count) == (True, "1 config error")
    assert line.startswith("mappings/a.yaml:5:7: mode: 'upzzz")
    assert "zzz…(1,998," in line and " characters left out)…zzz" in line
    assert line.endswith("zzzsert' is not valid: choose upsert, insert, update or mirror")


def test_a_long_secret_is_scrubbed_before_its_message_is_shortened(write_project: ProjectWriter) -> None:
    """Half of a secret is no longer found as the secret: a message is cut short only once it is scrubbed."""
    secret = "".join(f"{number:04x}" for number in range(1000))  # 4,000 characters, past any bound on messages
    project = write_project({"mappings/a.yaml": SYNC + f"mode: ${{MODE}}{'z' * 5000}\n"})

    result = run_brygga("validate", "-c", str(project), cwd=project.parent, env={"MODE": secret})

    assert result.returncode == 2
    assert result.stderr.startswith("mappings/a.yaml:5:7: mode: '***zzz")
    assert [
        secret[start : start + 8] for start in range(0, len(secret), 8) if secret[start : start + 8] in result.stderr
    ] == []


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        pytest.param('"up\\nsert"', "'up\\nsert'", id="a-line-end"),
        pytest.param('"up\\r\\nsert"', "'up\\r\\nsert'", id="a-carriage-return"),
    ],
)
def test_an_error_is_one_line_whatever_its_value_holds(write_project: ProjectWriter, value: str, shown: str) -> None:
    project = write_project({"mappings/a.yaml": SYNC + f"mode: {value}\n"})

    result = run_brygga("validate", "-c", str(project), cwd=project.parent)

    assert result.returncode == 2
    line, count = result.stderr.splitlines()
    assert line.startswith(f"mappings/a.yaml:5:7: mode: {shown} is not valid: choose upsert, insert, update or mirror")
    assert count == "1 config error"
