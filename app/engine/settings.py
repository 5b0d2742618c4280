"""How the service behaves: defaults that suit production, each overridable by a ``BRYGGA_`` variable."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import timedelta
from pathlib import Path

from app.config import parse_duration


@dataclass(frozen=True)
class ServiceSettings:
    """The service's timings and thresholds.

    Every field can be set from the environment as ``BRYGGA_<FIELD>`` (``BRYGGA_STALLED_AFTER=2m``).
    """

    config: Path = Path("brygga.yaml")
    host: str = "127.0.0.1"
    port: int = 8000
    lease_ttl: timedelta = timedelta(seconds=60)
    """How long a run's lease lasts unrenewed: how soon another process takes over a dead one's work."""
    failing_after: int = 3
    """Runs in a row that cannot reach a system before the sync is ``failing``."""
    backoff: timedelta = timedelta(minutes=1)
    """A failing sync's first pause between scheduled runs; doubled each failure."""
    max_backoff: timedelta = timedelta(minutes=30)
    stalled_after: timedelta = timedelta(minutes=5)
    """A run that makes no progress this long is ``stalled``."""
    watch_every: timedelta = timedelta(seconds=15)
    """How often running syncs are checked for stalls."""
    retention_every: timedelta = timedelta(hours=1)
    shutdown_grace: timedelta = timedelta(seconds=8)
    """On SIGTERM, how long runs may take to finish their batch before they are abandoned."""

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None, **given: object) -> ServiceSettings:
        """The defaults, then ``BRYGGA_*`` variables, then ``given`` (command-line options).

        :raises ValueError: for a variable that does not parse, naming it
        """
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for item in fields(cls):
            text = environ.get(f"BRYGGA_{item.name.upper()}")
            if text is None or item.name == "config":
                continue
            try:
                values[item.name] = _parse(text, type(getattr(cls(), item.name)))
            except ValueError as exc:
                raise ValueError(f"BRYGGA_{item.name.upper()}: {exc}") from None
        values.update({name: value for name, value in given.items() if value is not None})
        return replace(cls(), **values)  # type: ignore[arg-type]


def _parse(text: str, kind: type) -> object:
    if kind is timedelta:
        return parse_duration(text)
    if kind is int:
        return int(text)
    return text
