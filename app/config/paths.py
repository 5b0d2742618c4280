"""Paths to a value inside a record or a JSON body: one syntax wherever a config file names one.

``email``, ``address.country``, ``items[0].sku``, ``["odd.key"]``: names joined by dots, ``[N]`` for a
list item (``[-1]`` the last), ``["name"]`` for a name with dots in it. Mappings' source paths, a
webhook's ``records`` and the REST connector's body paths (``records``, a cursor's or next URL's
``path``, ``total.path``) are all written so. :mod:`app.mapping.paths` compiles them into getters
for records; connectors get :func:`parse_path` from :mod:`connectors.base`.

The REST connector once wrote a list item as a number after a dot (``results.0.id``): it is still
read there, and :func:`old_dotted_form` finds it so that ``brygga validate`` can say how to write it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

Step = str | int

_TOKEN = re.compile(
    r"""\.(?P<dot>[^.\[\]]+)        # .name
      | \[(?P<index>-?\d+)\]        # [0]
      | \[(?P<quote>["'])(?P<quoted>.*?)(?P=quote)\]  # ["odd.key"]
    """,
    re.VERBOSE,
)
_FIRST = re.compile(r"[^.\[\]]+")
_PLAIN_NAME = re.compile(r"[^.\[\]\"']+")


class PathSyntaxError(ValueError):
    """A path that does not parse; the message says where and how to write it."""


def parse_path(text: str) -> tuple[Step, ...]:
    """``"items[0].sku"`` → ``("items", 0, "sku")``.

    :raises PathSyntaxError: for an empty path, a stray dot or an unclosed bracket
    """
    return tuple(step for step, _ in _parse(text))


def old_dotted_form(text: str) -> str | None:
    """How to write ``text`` when it names a list item the REST connector's old way, with a number after a
    dot (``results.0.id`` → ``results[0].id``); ``None`` when it does not (or does not parse).

    A number in quotes (``results["0"]``) is a name, as in every path.
    """
    try:
        steps = _parse(text)
    except PathSyntaxError:
        return None
    if not any(isinstance(step, str) and step.isdigit() and not quoted for step, quoted in steps):
        return None
    return format_path(
        [int(step) if isinstance(step, str) and step.isdigit() and not quoted else step for step, quoted in steps]
    )


def format_path(steps: Sequence[Step]) -> str:
    """The text of a path: ``("items", 0, "sku")`` → ``items[0].sku``, the inverse of :func:`parse_path`."""
    parts: list[str] = []
    for step in steps:
        if isinstance(step, int):
            parts.append(f"[{step}]")
        elif _PLAIN_NAME.fullmatch(step) and step == step.strip():
            parts.append(f".{step}" if parts else step)
        else:
            parts.append(f"[{_quoted(step)}]")
    return "".join(parts)


def _quoted(name: str) -> str:
    return f"'{name}'" if '"' in name else f'"{name}"'


def _parse(text: str) -> list[tuple[Step, bool]]:
    """The steps of ``text``, each with whether it was written in quotes."""
    source = text.strip()
    if not source:
        raise PathSyntaxError("empty path: name a source field, such as email or address.country")
    steps: list[tuple[Step, bool]] = []
    position = 0
    first = _FIRST.match(source)
    if first is not None:
        steps.append((first.group(0).strip(), False))
        position = first.end()
    elif not source.startswith("["):
        raise PathSyntaxError(_where(source, 0))
    while position < len(source):
        token = _TOKEN.match(source, position)
        if token is None:
            raise PathSyntaxError(_where(source, position))
        if token.group("dot") is not None:
            steps.append((token.group("dot").strip(), False))
        elif token.group("index") is not None:
            steps.append((int(token.group("index")), False))
        else:
            steps.append((token.group("quoted"), True))
        position = token.end()
    if any(step == "" for step, _ in steps):
        raise PathSyntaxError(_where(source, 0))
    return steps


def _where(source: str, position: int) -> str:
    return (
        f"bad path '{source}' at character {position + 1}: write names joined by dots,"
        ' [N] for list items and ["name"] for names with dots, such as address.country or items[0].sku'
    )
