"""Connector kinds, found through the ``brygga.connectors`` entry-point group.

Built-in kinds register through the same group as third-party packages, so
there is one way in. Kinds load lazily by name: validating a project that
uses only ``csv`` never imports the SQL or HTTP stacks of the other kinds.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points

from app.config.systems import SystemOptions
from app.errors import KindError

ENTRY_POINT_GROUP = "brygga.connectors"
OPTIONS_ENTRY_POINT_GROUP = "brygga.connector_options"
"""Optional: a kind's options model alone, so validating a project does not import the connector's
client libraries (SQLAlchemy, httpx). A kind without one has its connector class loaded instead."""


class UnknownKindError(KindError):
    """No installed package provides this connector kind."""

    def __init__(self, kind: str, installed: list[str]) -> None:
        self.kind = kind
        self.installed = installed
        super().__init__(f"unknown connector kind '{kind}' (installed: {', '.join(installed) or 'none'})")


class BrokenKindError(KindError, TypeError):
    """An installed connector kind that does not load, lacks an options model, or is no ``Connector``.

    Also a ``TypeError``: :func:`connectors.base.connector_class`, part of the connector contract, has
    always said it raises ``TypeError`` for a class that is no ``Connector``; third-party code may catch that.
    """


_GROUPS = (ENTRY_POINT_GROUP, OPTIONS_ENTRY_POINT_GROUP)


@cache
def _groups() -> dict[str, dict[str, EntryPoint]]:
    """Both groups' entry points, by name, from one pass over the installed packages (each pass reads every
    package's metadata: a few milliseconds in a small environment, more in a large one)."""
    installed = entry_points()
    return {group: {point.name: point for point in installed.select(group=group)} for group in _GROUPS}


def _entry_points() -> dict[str, EntryPoint]:
    return _groups()[ENTRY_POINT_GROUP]


def _options_entry_points() -> dict[str, EntryPoint]:
    return _groups()[OPTIONS_ENTRY_POINT_GROUP]


def installed_kinds() -> list[str]:
    """The names of every installed connector kind, sorted."""
    return sorted(_entry_points())


def options_alone(kind: str) -> bool:
    """Whether ``kind`` registers its options model on its own: validating a project then imports none of
    the kind's connector module (whose capabilities, such as looking records up by key, stay unknown)."""
    return kind in _options_entry_points()


def entry_point(kind: str) -> EntryPoint:
    """:raises UnknownKindError: when no package registers ``kind``"""
    try:
        return _entry_points()[kind]
    except KeyError:
        raise UnknownKindError(kind, installed_kinds()) from None


@cache
def load_kind(kind: str) -> type:
    """The class registered for ``kind``, imported on first use.

    :raises UnknownKindError: when no package registers ``kind``
    :raises BrokenKindError: when the registered object cannot be imported
    """
    point = entry_point(kind)
    try:
        loaded = point.load()
    except Exception as exc:
        raise BrokenKindError(f"connector kind '{kind}' ({point.value}) failed to load: {exc}") from exc
    if not isinstance(loaded, type):
        raise BrokenKindError(f"connector kind '{kind}' ({point.value}) is not a class")
    return loaded


def options_model(kind: str) -> type[SystemOptions]:
    """The pydantic model that validates a system of this kind.

    :raises UnknownKindError: when no package registers ``kind``
    :raises BrokenKindError: when the class has no ``options_model`` subclassing SystemOptions
    """
    point = _options_entry_points().get(kind)
    if point is None:
        model = getattr(load_kind(kind), "options_model", None)
    else:
        try:
            model = point.load()
        except Exception as exc:
            raise BrokenKindError(f"connector kind '{kind}' options ({point.value}) failed to load: {exc}") from exc
    if not (isinstance(model, type) and issubclass(model, SystemOptions)):
        raise BrokenKindError(f"connector kind '{kind}' has no options_model subclassing app.config.SystemOptions")
    return model
