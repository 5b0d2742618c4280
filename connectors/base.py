"""The connector contract.

A connector kind is a class registered under the ``brygga.connectors``
entry-point group, built-ins included. Its ``options_model`` (a
:class:`~app.config.SystemOptions` subclass) validates a system's YAML;
Brygga checks every project against it before connecting to anything.
"""

from __future__ import annotations

from abc import ABC
from typing import ClassVar

from app.config import SystemConfig, SystemOptions
from app.config.kinds import UnknownKindError, installed_kinds, load_kind


class Connector(ABC):
    """One configured system, ready to be read from and written to.

    :param system: the system's validated config; ``system.options`` is an
        instance of this class's ``options_model``
    """

    options_model: ClassVar[type[SystemOptions]]

    def __init__(self, system: SystemConfig) -> None:
        self.system = system


def connector_class(kind: str) -> type[Connector]:
    """The connector class registered for ``kind``.

    :raises UnknownKindError: when no installed package provides ``kind``
    :raises TypeError: when the registered class is not a :class:`Connector`
    """
    loaded = load_kind(kind)
    if not issubclass(loaded, Connector):
        raise TypeError(f"connector kind '{kind}' ({loaded.__module__}.{loaded.__qualname__}) is not a Connector")
    return loaded


__all__ = ["Connector", "UnknownKindError", "connector_class", "installed_kinds"]
