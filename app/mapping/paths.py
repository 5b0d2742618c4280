"""Source paths: ``email``, ``address.country``, ``items[0].sku``, ``["odd.key"]``.

A path is parsed once into steps (:mod:`app.config.paths`: the one path syntax of every config file)
and compiled into a getter; a missing step anywhere gives ``None``, never an error, so ``default``
can take over.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from app.config import PathSyntaxError, Step, parse_path

__all__ = ["Getter", "PathSyntaxError", "Step", "compile_path", "compile_steps", "parse_path"]

Getter = Callable[[Mapping[str, Any]], Any]


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
