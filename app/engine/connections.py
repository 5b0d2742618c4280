"""The open connectors of a project: one per system, shared by every sync that uses it."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import threading

from app.config import Project
from app.engine.connector_calls import close_connector, open_connector
from app.engine.pipeline import all_of
from app.errors import ConnectorTimeout, KindError, PermanentError
from connectors.base import Connector, connector_class


class Connections:
    """Opens each system's connector on first use and closes them all at the end.

    One connector per system means one connection pool, and (for REST) one
    rate-limit budget, whatever number of syncs use the system. Each system is opened under its own lock:
    a connector slow to open (or stuck, until its ``call_timeout``) holds up only the syncs of its system.
    """

    def __init__(self, project: Project) -> None:
        self.project = project
        self._open: dict[str, Connector] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, system: str) -> Connector:
        """The opened connector of ``system``.

        :raises ConnectorError: when it cannot be opened (it is closed again), or does not open within its
            ``call_timeout``
        """
        async with self._locks.setdefault(system, asyncio.Lock()):
            connector = self._open.get(system)
            if connector is None:
                _check_variables(self.project, system)
                config = self.project.systems[system]
                kind = await _connector_class(config.connector)
                if inspect.isabstract(kind):
                    missing = ", ".join(sorted(getattr(kind, "__abstractmethods__", ())))
                    raise PermanentError(
                        f"system {system}: the {config.connector} connector ({kind.__module__}) is incomplete:"
                        f" it lacks {missing}; update or reinstall the package that provides it"
                    )
                connector = kind(config)
                try:
                    await open_connector(connector)
                except ConnectorTimeout:
                    raise  # stuck: its close may be too, and the run has waited long enough
                except Exception:
                    with contextlib.suppress(Exception):  # what it holds; the failure to open is what matters
                        await close_connector(connector)
                    raise
                self._open[system] = connector
            return connector

    async def close(self) -> None:
        connectors, self._open = list(self._open.values()), {}
        await all_of(*(close_connector(connector) for connector in connectors))  # each waits for its server to hang up


async def _connector_class(kind: str) -> type[Connector]:
    """The class of connector ``kind``, its module imported in a thread where it is not yet: a database's
    driver and SQLAlchemy take tens of milliseconds to import, which the event loop spends meanwhile on
    the rest of the run (a sync's target is opened while its source answers the first request).

    One kind at a time (syncs of several kinds start together in a service): two threads importing packages
    that import each other's modules could each find the other's half done. A module that will not import
    in a thread (one setting a signal handler, say) is imported again here.
    """
    try:
        return await asyncio.to_thread(_imported_alone, kind)
    except KindError:
        return connector_class(kind)


_importing = threading.Lock()


def _imported_alone(kind: str) -> type[Connector]:
    with _importing:
        return connector_class(kind)


def _check_variables(project: Project, system: str) -> None:
    """A system is opened only with every variable of its connection set: never with ``${VAR}`` as its text.

    The commands load a project for what they use (:class:`~app.config.Needs`), so this holds already;
    it is checked again where a wrong guess would send a variable's name to a system as a password.

    :raises PermanentError: naming the first unset variable and its place
    """
    for issue in project.unset_in("systems", system):
        if issue.location[2:4] != ("webhook", "secret"):
            raise PermanentError(f"system {system}: {issue}")
