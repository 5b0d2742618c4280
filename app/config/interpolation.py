"""``${VAR}`` and ``${VAR:-default}`` in config values.

Interpolation runs on parsed YAML string scalars, never on raw text, so an
environment value can not change the structure of a file and every error
keeps its position. ``$${`` writes a literal ``${``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from app.config.secrets import SecretValues

_REFERENCE = re.compile(r"\$\$\{|\$\{(?P<body>[^}]*)(?P<close>\})?")
_BODY = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?-)(?P<default>.*))?", re.DOTALL)


class InterpolationError(ValueError):
    """A ``${...}`` reference that cannot be resolved; the message says why."""


class UnsetVariableError(InterpolationError):
    """A ``${NAME}`` without default whose variable is not set: an error only where the value is used."""

    def __init__(self, name: str) -> None:
        super().__init__(f"environment variable {name} is not set: set it, or give a default with ${{{name}:-value}}")
        self.name = name


class UnusableVariableError(InterpolationError):
    """A ``${NAME}`` whose variable's value is no text (not UTF-8, or a NUL): like an unset one, an error
    only where the value is used (``brygga status`` does not stop for a mapping's variable)."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"environment variable {name} is not UTF-8 text (or holds a NUL character): set it to UTF-8 text"
        )
        self.name = name


def interpolate(text: str, environ: Mapping[str, str], secrets: SecretValues) -> str:
    """Replace every ``${...}`` in ``text``; values taken from ``environ`` become secrets.

    :raises UnsetVariableError: for an unset variable without default
    :raises InterpolationError: for a malformed reference
    """
    if "$" not in text:
        return text
    parts: list[str] = []
    position = 0
    for match in _REFERENCE.finditer(text):
        parts.append(text[position : match.start()])
        position = match.end()
        if match.group(0) == "$${":
            parts.append("${")
            continue
        parts.append(_resolve(match, environ, secrets))
    parts.append(text[position:])
    return "".join(parts)


_NOT_TEXT = re.compile("[\x00\ud800-\udfff]")
"""A NUL, or a lone surrogate: how Python holds environment bytes that are not UTF-8."""


def _check_text(name: str, value: str) -> None:
    """:raises UnusableVariableError: when the variable's value is not text (never showing the value)"""
    if _NOT_TEXT.search(value) is not None:
        raise UnusableVariableError(name)


def _resolve(match: re.Match[str], environ: Mapping[str, str], secrets: SecretValues) -> str:
    body = match.group("body")
    if match.group("close") is None:
        raise InterpolationError(
            f"unclosed '${{{body}': end the reference with '}}' (write '$${{' for a literal '${{')"
        )
    parsed = _BODY.fullmatch(body)
    if parsed is None:
        raise InterpolationError(f"'${{{body}}}' is not a variable reference: write ${{NAME}} or ${{NAME:-default}}")
    name, op, default = parsed.group("name", "op", "default")
    value = environ.get(name)
    if value is not None and not (op == ":-" and value == ""):
        _check_text(name, value)  # first: a value that is no text cannot even be remembered as a secret
        secrets.add(value)
        return value
    if op is not None:
        return default
    raise UnsetVariableError(name)
