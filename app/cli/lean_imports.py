"""What the command line leaves unimported: parts of libraries that every ``brygga`` start would pay for
and no command uses.

Both are set up by :func:`leave_unimported` in ``main()``, before any command imports the libraries; a
program that imports Brygga's packages itself gets the libraries whole, as they are.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from collections.abc import Sequence
from typing import Any

ASYNCIO_EXTENSION = "sqlalchemy.ext.asyncio"
ORM_FREE = {
    "engine": ("AsyncConnection", "AsyncEngine", "AsyncTransaction", "create_async_engine"),
    "result": ("AsyncResult", "AsyncScalarResult", "AsyncMappingResult"),
}
"""The names Brygga takes from SQLAlchemy's asyncio extension, by the module of it that defines them."""
_HOME = {name: module for module, names in ORM_FREE.items() for name in names}


def leave_unimported() -> None:
    """Keep this process's imports to what its command uses (called by ``main()`` before any command runs)."""
    _without_httpx_cli()
    _asyncio_extension_without_orm()
    _sniffio_known_missing()


def _sniffio_known_missing() -> None:
    """httpcore asks which event loop runs (asyncio or trio) each time it makes a lock, an event or a
    semaphore, several times per request, by ``import sniffio`` in a ``try``: where sniffio is not installed
    (httpx and anyio no longer need it), each of those failed imports searched every folder on the path
    again, ~80 µs each: 640 times in a REST load of 100 pages, ~50 ms of a run. Marked missing once here,
    each is a look-up in ``sys.modules`` that fails at once; httpcore then takes asyncio, which Brygga runs."""
    if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]  # None: a module that is not there


def _without_httpx_cli() -> None:
    """Importing httpx imports its own command line where click, rich and pygments are installed (they are,
    for this one): 47 modules and 3.4 MB that no Brygga command uses. httpx takes an ImportError of that
    module as "its command line is not installed", so marking it missing here, before any command imports
    httpx, is what httpx itself expects of an install without its ``cli`` extra."""
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]  # None: a module that is not there


def _asyncio_extension_without_orm() -> None:
    """``import sqlalchemy.ext.asyncio`` imports SQLAlchemy's ORM as well (the extension's sessions): ~50 ms
    and several MB at every start of a command that reaches a database, though Brygga uses the extension's
    engine and connections only (Core). When the package is first imported, a stand-in takes its place
    (:class:`_OrmFreeFinder`): the names of :data:`ORM_FREE` come from the extension's own modules, which
    import no ORM; any other name (``AsyncSession``, say) imports the real package then, so everything the
    extension offers still works, only later.

    The real package's ``__init__`` also readies greenlet support; SQLAlchemy does that by itself the
    first time it is needed, so nothing is lost by not running it at start-up.
    """
    if ASYNCIO_EXTENSION not in sys.modules and not any(isinstance(f, _OrmFreeFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _OrmFreeFinder())


class _OrmFreeFinder(importlib.abc.MetaPathFinder):
    """Finds the asyncio extension, once, as the stand-in package; its parents are imported by then."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != ASYNCIO_EXTENSION:
            return None
        sys.meta_path.remove(self)  # once: from then on the package is found the usual way
        real = importlib.machinery.PathFinder.find_spec(fullname, path)
        if real is None or real.submodule_search_locations is None:
            return None  # not the package this was written for: leave it to the usual finders
        spec = importlib.machinery.ModuleSpec(fullname, _StandIn(), origin=real.origin, is_package=True)
        spec.submodule_search_locations = list(real.submodule_search_locations)
        return spec


class _StandIn(importlib.abc.Loader):
    def exec_module(self, module: types.ModuleType) -> None:
        module.__doc__ = "SQLAlchemy's asyncio extension, its ORM imported when asked for (app.cli.lean_imports)"
        module.__getattr__ = _extension_name  # type: ignore[method-assign]


def _extension_name(name: str) -> Any:
    """A name of the asyncio extension: from its own module where it is ORM-free, else from the whole package.

    A name that is one of its modules is left to the import system (``from . import exc`` in the
    extension's own code asks for the attribute first, and imports the module when it is missing).
    """
    home = _HOME.get(name)
    if home is not None:
        return getattr(importlib.import_module(f"{ASYNCIO_EXTENSION}.{home}"), name)
    stand_in = sys.modules.get(ASYNCIO_EXTENSION)
    if stand_in is None or getattr(stand_in, "__getattr__", None) is not _extension_name:
        return getattr(stand_in or importlib.import_module(ASYNCIO_EXTENSION), name)  # the real one by now
    module = f"{ASYNCIO_EXTENSION}.{name}"
    if name.startswith("__") or importlib.machinery.PathFinder.find_spec(module, stand_in.__path__):
        raise AttributeError(f"module {ASYNCIO_EXTENSION!r} has no attribute {name!r}")
    del sys.modules[ASYNCIO_EXTENSION]
    try:
        real = importlib.import_module(ASYNCIO_EXTENSION)
    except BaseException:
        sys.modules[ASYNCIO_EXTENSION] = stand_in
        raise
    return getattr(real, name)
