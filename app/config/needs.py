"""What a command uses of a project, so that only those parts' ``${VAR}``s must be set (SPEC 6).

A project names variables for many jobs: the API's tokens and the alert
webhooks only ``brygga serve`` uses, each system's connection only the syncs
that read or write it. ``brygga run`` from cron must not stop because the
API's tokens are not exported in its environment. So loading keeps an unset
variable as an :class:`~app.config.issues.UnsetVariable` at its place, and
each command says what it needs; only the unset variables there are errors.
``validate`` and ``serve`` need everything.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from app.config.base import Location

SERVICE_SECTIONS = frozenset({"api", "alerts"})
"""Top-level sections of ``brygga.yaml`` that only the service (``brygga serve``) uses."""


@dataclass(frozen=True)
class Needs:
    """The parts of a project a command uses.

    :ivar syncs: the syncs it uses (their files, and with ``systems`` their source and target systems);
        ``None`` for every sync
    :ivar systems: whether it connects to those syncs' systems (``test`` does not: mapping tests
        connect nowhere); a lookup reads only the state database's ID map, never another system
    :ivar state: whether it opens the state database (``state:``)
    :ivar service: whether it is the service: ``api``, ``alerts``, every system (those no sync uses
        too) and the webhook blocks' secrets
    """

    syncs: frozenset[str] | None = None
    systems: bool = True
    state: bool = True
    service: bool = True

    @classmethod
    def running(cls, syncs: Iterable[str] | None) -> Needs:
        """``run`` and ``preview``: the syncs' files, their source and target systems, the state database."""
        return cls(_names(syncs), systems=True, state=True, service=False)

    @classmethod
    def testing(cls, syncs: Iterable[str] | None) -> Needs:
        """``test``: the syncs' files only."""
        return cls(_names(syncs), systems=False, state=False, service=False)

    @classmethod
    def checking(cls) -> Needs:
        """``check``: every sync's file and systems (to connect to them), and the state database."""
        return cls(None, systems=True, state=True, service=False)

    @classmethod
    def state_only(cls) -> Needs:
        """``status``: the state database only."""
        return cls(frozenset(), systems=False, state=True, service=False)

    def uses_sync(self, name: str | None) -> bool:
        return self.syncs is None or (name is not None and name in self.syncs)

    def uses_section(self, key: object) -> bool:
        """Whether a top-level section of ``brygga.yaml`` other than ``systems`` is used."""
        if key == "state":
            return self.state or self.service
        return self.service or key not in SERVICE_SECTIONS

    def uses_project_location(self, location: Location, used_systems: Collection[str]) -> bool:
        """Whether the value at ``location`` in ``brygga.yaml`` is used, ``used_systems`` being those of
        the syncs used."""
        if not location or location[0] != "systems":
            return self.uses_section(location[0] if location else None)
        if self.service or len(location) < 2:
            return True
        if location[2:4] == ("webhook", "secret"):
            return False  # it checks the webhooks the service receives; a run never does
        return self.systems and location[1] in used_systems


EVERYTHING = Needs()
"""``validate`` and ``serve``: every variable must be set."""


def _names(syncs: Iterable[str] | None) -> frozenset[str] | None:
    return None if syncs is None else frozenset(syncs)
