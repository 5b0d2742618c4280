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
    shutdown_grace: timedelta = timedelta(seconds=6)
    """On SIGTERM, how long runs may take to finish their batch before they are abandoned."""
    header_timeout: timedelta = timedelta(seconds=10)
    """How long a client may take to send a request's headers (from its first byte): then 408, closed."""
    body_timeout: timedelta = timedelta(seconds=30)
    """How long a client may take to send a request's body (from its headers): then 408, closed."""
    max_connections: int = 1000
    """Connections held at once; beyond it the slowest request still arriving makes room (lowered to fit
    the process's open-files limit)."""
    allowed_hosts: tuple[str, ...] = ()
    """On a loopback address, the ``Host`` names answered besides the loopback ones (a reverse proxy's)."""
    log_level: str = "info"
    """The service log's least level; ``debug`` also shows the scheduler's line for each job it runs."""
    log_format: str = "text"
    """``text`` (a line for people) or ``json`` (an object per line, for log collectors)."""

    def __post_init__(self) -> None:
        for item in fields(self):
            problem = _problem(item.name, getattr(self, item.name))
            if problem is not None:
                raise ValueError(f"{item.name}: {problem}")

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None, **given: object) -> ServiceSettings:
        """The defaults, then ``BRYGGA_*`` variables, then ``given`` (command-line options).

        :raises ValueError: for a variable that does not parse or is out of range, naming it
        """
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for item in fields(cls):
            text = environ.get(f"BRYGGA_{item.name.upper()}")
            if text is None or item.name == "config":
                continue
            try:
                parsed = _parse(text, type(getattr(cls(), item.name)), item.name)
            except ValueError as exc:
                raise ValueError(f"BRYGGA_{item.name.upper()}: {exc}") from None
            problem = _problem(item.name, parsed)
            if problem is not None:
                raise ValueError(f"BRYGGA_{item.name.upper()}: {problem}")
            values[item.name] = parsed
        values.update({name: value for name, value in given.items() if value is not None})
        return replace(cls(), **values)  # type: ignore[arg-type]


CHOICES = {"log_level": ("debug", "info", "warning", "error"), "log_format": ("text", "json")}
"""The settings that are one of a few words (given in any case)."""


def _parse(text: str, kind: type, name: str) -> object:
    if name in CHOICES:
        return text.strip().lower()
    if kind is timedelta:
        return parse_duration(text)
    if kind is int:
        return int(text)
    if kind is tuple:  # a comma-separated list
        return tuple(item.strip() for item in text.split(",") if item.strip())
    return text


def _problem(name: str, value: object) -> str | None:
    """What is wrong with a setting's value, if anything: a zero interval or TTL would make the
    service spin (watch, renew) or hand every lease over at once; no failure at all is not failing."""
    if isinstance(value, timedelta) and value <= timedelta(0):
        return f"must be longer than 0s, not {value}"
    if name in ("failing_after", "max_connections") and isinstance(value, int) and value < 1:
        return f"must be 1 or more, not {value}"
    if name in CHOICES and value not in CHOICES[name]:
        *others, last = CHOICES[name]
        return f"must be {', '.join(others)} or {last}, not {value!r}"
    return None
