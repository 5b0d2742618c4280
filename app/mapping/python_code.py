"""Python source assembled at load time, with the values it refers to.

The mapping compiler turns a sync's fields into the source of one Python
function; the values that source needs (getters, transforms, tables,
Jinja's own helpers) live in a :class:`Namespace` under unique names.
"""

from __future__ import annotations

import itertools
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
