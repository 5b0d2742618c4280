"""Python source assembled at load time, with the values it refers to.

The mapping compiler turns a sync's fields into the source of one Python
function; the values that source needs (getters, transforms, tables,
Jinja's own helpers) live in a :class:`Namespace` under unique names.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

_counter = itertools.count()


class Namespace:
    """The values generated source refers to, each under a fresh unique name."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def add(self, value: Any, hint: str = "v") -> str:
        """Store ``value`` and return the name the source should use for it."""
        name = f"_{hint}{next(_counter)}"
        self.values[name] = value
        return name

    def compile_function(self, source: str, name: str, filename: str) -> Callable[..., Any]:
        """Compile ``source`` (a ``def name(…)``) in this namespace and return the function."""
        scope = dict(self.values)
        exec(compile(source, filename, "exec"), scope)
        function: Callable[..., Any] = scope[name]
        return function

    def compile_lambda(self, expression: str, parameters: str, filename: str) -> Callable[..., Any]:
        """Compile ``lambda parameters: expression`` in this namespace."""
        return self.compile_function(f"def _f({parameters}):\n    return {expression}\n", "_f", filename)


def python_literal(value: Any) -> str | None:
    """Python source that evaluates to exactly ``value``, or ``None`` where there is none (bind it instead).

    ``repr`` is not that: ``repr(float("inf"))`` is ``inf``, a name; a negative number written next
    to an operator can bind the wrong way round (``-2.0 ** 2``); an integer of more than 4300 digits
    has no ``repr``.
    """
    if value is None or isinstance(value, bool | str | bytes):
        return repr(value)
    if isinstance(value, float):
        return f"({value!r})" if math.isfinite(value) else f"float('{value}')"
    if isinstance(value, int):
        try:
            return f"({value!r})"
        except ValueError:
            return None
    parts: list[str | None]
    if isinstance(value, list | tuple):
        parts = [python_literal(item) for item in value]
        if None in parts:
            return None
        inner = "".join(f"{part}, " for part in parts)
        return f"[{inner}]" if isinstance(value, list) else f"({inner})"
    if isinstance(value, dict):
        parts = [python_literal(item) for pair in value.items() for item in pair]
        if None in parts:
            return None
        return "{" + "".join(f"{key}: {item}, " for key, item in zip(parts[::2], parts[1::2], strict=True)) + "}"
    return None
