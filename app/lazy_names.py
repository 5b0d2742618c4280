"""Lazy public names for a package facade (PEP 562), so importing a facade costs nothing until a name is used.

``app.config``, ``app.engine`` and ``app.mapping`` list their public names by home module; a name's
module is imported the first time the name is asked for, then the name is kept in the package's globals,
so later look-ups are plain attribute reads. ``brygga --help`` stays fast because of this.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def lazy_names(
    package: str, modules: Mapping[str, tuple[str, ...]], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``, whose public names live in ``modules``.

    :param modules: each home module and the names it gives the facade
    :param namespace: the package's ``globals()``, where a name is kept once imported
    """
    home = {name: module for module, names in modules.items() for name in names}

    def getattr_(name: str) -> Any:
        """A public name, imported from its module the first time it is asked for."""
        try:
            module = home[name]
        except KeyError:
            raise AttributeError(f"module '{package}' has no attribute '{name}'") from None
        value = getattr(import_module(module), name)
        namespace[name] = value
        return value

    def dir_() -> list[str]:
        return sorted(set(namespace) | set(home))

    return getattr_, dir_
