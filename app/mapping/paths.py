"""Source paths: ``email``, ``address.country``, ``items[0].sku``, ``["odd.key"]``.

A path is parsed once into steps and compiled into a getter; a missing step
anywhere gives ``None``, never an error, so ``default`` can take over.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

Step = str | int
Getter = Callable[[Mapping[str, Any]], Any]

_TOKEN = re.compile(
    r"""\.(?P<dot>[^.\[\]]+)        # .name
      | \[(?P<index>-?\d+)\]        # [0]
      | \[(?P<quote>["'])(?P<quoted>.*?)(?P=quote)\]  # ["odd.key"]
    """,
    re.VERBOSE,
)
_FIRST = re.compile(r"[^.\[\]]+")


class PathSyntaxError(ValueError):
    """A path that does not parse; the message says where and how to write it."""


def parse_path(text: str) -> tuple[Step, ...]:
    """``"items[0].sku"`` → ``("items", 0, "sku")``.

    :raises PathSyntaxError: for an empty path, a stray dot or an unclosed bracket
    """
    source = text.strip()
    if not source:
        raise PathSyntaxError("empty path: name a source field, such as email or address.country")
    steps: list[Step] = []
    position = 0
    first = _FIRST.match(source)
    if first is not None:
        steps.append(first.group(0).strip())
        position = first.end()
    elif not source.startswith("["):
        raise PathSyntaxError(_where(source, 0))
    while position < len(source):
        token = _TOKEN.match(source, position)
        if token is None:
            raise PathSyntaxError(_where(source, position))
        if token.group("dot") is not None:
            steps.append(token.group("dot").strip())
        elif token.group("index") is not None:
            steps.append(int(token.group("index")))
        else:
            steps.append(token.group("quoted"))
        position = token.end()
    if any(step == "" for step in steps):
        raise PathSyntaxError(_where(source, 0))
    return tuple(steps)


def _where(source: str, position: int) -> str:
    return (
        f"bad path '{source}' at character {position + 1}: write names joined by dots,"
        ' [N] for list items and ["name"] for names with dots, such as address.country or items[0].sku'
    )


def compile_path(text: str) -> Getter:
    """A getter for the path; ``None`` wherever a step is missing."""
    return compile_steps(parse_path(text))


def compile_steps(steps: Sequence[Step]) -> Getter:
    if len(steps) == 1 and isinstance(steps[0], str):
        name = steps[0]
        return lambda record: record.get(name)
    frozen = tuple(steps)

    def get(record: Mapping[str, Any]) -> Any:
        current: Any = record
        for step in frozen:
            if isinstance(step, str):
                current = current.get(step) if isinstance(current, Mapping) else None
            elif isinstance(current, list) and -len(current) <= step < len(current):
                current = current[step]
            else:
                return None
            if current is None:
                return None
        return current

    return get
