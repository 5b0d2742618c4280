"""The open connectors of a project: one per system, shared by every sync that uses it."""

from __future__ import annotations

import asyncio
import inspect

from app.config import Project
from app.engine.pipeline import all_of
from app.errors import PermanentError
from connectors.base import Connector, connector_class


class Connections:
    """Opens each system's connector on first use and closes them all at the end.

    One connector per system means one connection pool, and (for REST) one
    rate-limit budget, whatever number of syncs use the system.
    """

    def __init__(self, project: Project) -> None:
        self.project = project
        self._open: dict[str, Connector] = {}
        self._lock = asyncio.Lock()

    async def get(self, system: str) -> Connector:
        """The opened connector of ``system``.

        :raises ConnectorError: when it cannot be opened
        """
        async with self._lock:
            connector = self._open.get(system)
            if connector is None:
                _check_variables(self.project, system)
                config = self.project.systems[system]
                kind = connector_class(config.connector)
                if inspect.isabstract(kind):
                    missing = ", ".join(sorted(getattr(kind, "__abstractmethods__", ())))
                    raise PermanentError(
                        f"system {system}: the {config.connector} connector ({kind.__module__}) is incomplete:"
                        f" it lacks {missing}; update or reinstall the package that provides it"
                    )
                connector = kind(config)
                await connector.open()
                self._open[system] = connector
            return connector

    async def close(self) -> None:
        async with self._lock:
            connectors, self._open = list(self._open.values()), {}
        await all_of(*(connector.close() for connector in connectors))  # each waits for its server to hang up


def _check_variables(project: Project, system: str) -> None:
    """A system is opened only with every variable of its connection set: never with ``${VAR}`` as its text.

    The commands load a project for what they use (:class:`~app.config.Needs`), so this holds already;
    it is checked again where a wrong guess would send a variable's name to a system as a password.

    :raises PermanentError: naming the first unset variable and its place
    """
    for issue in project.unset_in("systems", system):
        if issue.location[2:4] != ("webhook", "secret"):
            raise PermanentError(f"system {system}: {issue}")
