"""``${VAR}``, ``${VAR:-default}``, ``${VAR-default}`` and ``$${literal}`` (SPEC 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config import SecretValues
from app.config.interpolation import InterpolationError, interpolate
from app.config.yaml_source import parse_yaml

ENVIRON = {"HOST": "db.example.com", "EMPTY": "", "TOKEN": "t0ken-value"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("${HOST}", "db.example.com", id="whole-value"),
        pytest.param("postgresql://brygga@${HOST}/crm", "postgresql://brygga@db.example.com/crm", id="inside-text"),
        pytest.param("${HOST}:${TOKEN}", "db.example.com:t0ken-value", id="two-references"),
        pytest.param("${MISSING:-fallback}", "fallback", id="colon-dash-default-when-unset"),
        pytest.param("${EMPTY:-fallback}", "fallback", id="colon-dash-default-when-empty"),
        pytest.param("${HOST:-fallback}", "db.example.com", id="colon-dash-default-unused"),
        pytest.param("${MISSING:-}", "", id="colon-dash-empty-default"),
        pytest.param("${MISSING-fallback}", "fallback", id="dash-default-when-unset"),
        pytest.param("${EMPTY-fallback}", "", id="dash-default-keeps-an-empty-value"),
        pytest.param("${MISSING:-a:-b}", "a:-b", id="default-with-colon-dash"),
        pytest.param("$${HOST}", "${HOST}", id="literal"),
        pytest.param("cost: $5, $$ and $HOST", "cost: $5, $$ and $HOST", id="lone-dollars-stay"),
        pytest.param("no references", "no references", id="plain-text"),
    ],
)
def test_references_are_replaced(text: str, expected: str) -> None:
    assert interpolate(text, ENVIRON, SecretValues()) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "${MISSING}",
            "environment variable MISSING is not set: set it, or give a default with ${MISSING:-value}",
            id="unset",
        ),
        pytest.param(
            "${NOT A NAME}",
            "'${NOT A NAME}' is not a variable reference: write ${NAME} or ${NAME:-default}",
            id="spaces",
        ),
        pytest.param("${1ST}", "'${1ST}' is not a variable reference", id="starts-with-a-digit"),
        pytest.param("${}", "'${}' is not a variable reference", id="empty"),
        pytest.param("${HOST:default}", "'${HOST:default}' is not a variable reference", id="colon-without-dash"),
        pytest.param(
            "x ${HOST", "unclosed '${HOST': end the reference with '}' (write '$${' for a literal '${')", id="unclosed"
        ),
    ],
)
def test_bad_references_say_what_to_write(text: str, message: str) -> None:
    with pytest.raises(InterpolationError) as caught:
        interpolate(text, ENVIRON, SecretValues())

    assert str(caught.value).startswith(message)


def test_values_from_the_environment_become_secrets_defaults_do_not() -> None:
    secrets = SecretValues()

    interpolate("${TOKEN} ${MISSING:-a-default-value}", ENVIRON, secrets)

    assert "t0ken-value" in secrets
    assert "a-default-value" not in secrets
    assert secrets.redact("token t0ken-value") == "token ***"


def test_a_value_is_not_interpolated_again() -> None:
    assert interpolate("${NESTED}", {"NESTED": "${HOST}"}, SecretValues()) == "${HOST}"


def test_only_string_values_are_interpolated_never_keys_or_structure(tmp_path: Path) -> None:
    text = "${KEY}: ${VALUE}\nlist: ['${VALUE}', 5]\n"
    environ = {"KEY": "replaced", "VALUE": "a: [b, c]"}

    document = parse_yaml(
        tmp_path / "a.yaml",
        text,
        [],
        on_string=lambda value, mark, location: interpolate(value, environ, SecretValues()),
    )

    assert document is not None
    assert document.data == {"${KEY}": "a: [b, c]", "list": ["a: [b, c]", 5]}
