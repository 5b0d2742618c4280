"""Whether each system answers, as a run would find it: ``brygga check``.

``validate`` looks at the project without connecting; a wrong password, a firewall or a table renamed
shows only when a sync first runs, often at night. This connects to each system the syncs use, asks it
to answer (:meth:`Connector.check`) and looks at every stream the syncs read or write there
(:meth:`Connector.prepare`: a table's columns, a file's header), reading and writing no record.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy.engine import make_url

from app.config import DIRECTIONS, Project, SyncConfig, TwoWaySyncConfig
from app.engine.connections import Connections
from app.engine.connector_calls import check_connector, prepare_stream
from app.engine.retry import ONE_TRY
from app.errors import BryggaError, StoreError
from app.store import Store
from connectors.base import retrying_as


@dataclass(frozen=True)
class SystemCheck:
    """What checking one system found.

    :param streams: the streams looked at, each with the fields the syncs write into it (``None``: read only)
    :param error: why it does not answer, or lacks a stream or field; ``None`` when all is well
    """

    system: str
    kind: str
    streams: dict[str, list[str] | None] = field(default_factory=dict)
    error: str | None = None
    state: bool = False
    """The state database's check, not a system's (a system may be named ``state`` too)."""
    unmade: bool = False
    """The state database is not made yet (a SQLite file the first run makes)."""


def streams_used(project: Project) -> dict[str, dict[str, list[str] | None]]:
    """Each system's streams that some sync reads or writes, by system; a written stream with the fields
    written into it (from every sync writing it), a read one with ``None``."""
    used: dict[str, dict[str, list[str] | None]] = {}
    for sync in project.syncs.values():
        ways = [sync.direction(direction) for direction in DIRECTIONS] if isinstance(sync, TwoWaySyncConfig) else [sync]
        for way in ways:
            _use(used, way)
    return used


def _use(used: dict[str, dict[str, list[str] | None]], sync: SyncConfig) -> None:
    source = used.setdefault(sync.source_system, {})
    source.setdefault(sync.source_stream, None)
    target = used.setdefault(sync.target_system, {})
    written = target.get(sync.target_stream) or []
    target[sync.target_stream] = written + [name for name in sync.fields if name not in written]


async def check_systems(project: Project, systems: Iterable[str]) -> list[SystemCheck]:
    """Check ``systems`` one after the other (each opened, checked and closed before the next)."""
    used = streams_used(project)
    with retrying_as(ONE_TRY):
        return [await _check(project, name, used.get(name, {})) for name in systems]


async def _check(project: Project, name: str, streams: dict[str, list[str] | None]) -> SystemCheck:
    connections = Connections(project)
    error = None
    try:
        connector = await connections.get(name)
        await check_connector(connector)
        for stream, fields in streams.items():
            await prepare_stream(connector, stream, fields)
    except Exception as exc:  # a connector's defect too: this system fails its check, the others go on
        error = _reason(exc)
    finally:
        try:
            await connections.close()
        except Exception as exc:
            error = error or _reason(exc)
    return SystemCheck(name, project.systems[name].connector, streams, error)


async def check_state(project: Project) -> SystemCheck:
    """Whether the state database answers and has this Brygga's schema, opened only to read it: nothing is
    created or upgraded (a SQLite file not made yet is fine: the first run makes it)."""
    error, found = None, True
    try:
        store = await Store.open_to_read(project.settings.state, project.root, project.secrets.redact)
        found = store.found
        await store.close()
    except StoreError as exc:
        error = str(exc)
    backend = make_url(project.settings.state).get_backend_name()
    return SystemCheck("state", backend, {}, error, state=True, unmade=not found)


def _reason(exc: Exception) -> str:
    if isinstance(exc, BryggaError):
        return str(exc)
    return f"an unexpected error ({type(exc).__name__}: {exc}): the connector needs fixing"
