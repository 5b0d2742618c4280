"""The database families of the ``sql`` connector, and a database URL read without SQLAlchemy.

``brygga validate`` checks a ``sql`` system's URL and queries without importing SQLAlchemy (a third of
a second): the URL is split with the pattern SQLAlchemy's ``make_url`` uses, so what passes here parses
there. Engines (``connectors.sql.databases``) use SQLAlchemy's own URL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Backend(StrEnum):
    """The database families the ``sql`` connector speaks, each with its own SQL dialect."""

    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"
    MYSQL = "mysql"


BACKENDS = {
    "sqlite": Backend.SQLITE,
    "postgresql": Backend.POSTGRESQL,
    "mysql": Backend.MYSQL,
    "mariadb": Backend.MYSQL,
}
"""A URL's backend name (the part before ``+driver``) → its family."""

_URL = re.compile(
    r"""
        (?P<name>[\w\+]+)://
        (?:
            (?P<username>[^:/]*)
            (?::(?P<password>[^@]*))?
        @)?
        (?:
            (?:
                \[(?P<ipv6host>[^/\?]+)\] |
                (?P<ipv4host>[^/:\?]+)
            )?
            (?::(?P<port>[^/\?]*))?
        )?
        (?:/(?P<database>[^\?]*))?
        (?:\?(?P<query>.*))?
    """,
    re.X,
)
"""SQLAlchemy's ``_parse_url`` pattern (sqlalchemy/engine/url.py)."""


@dataclass(frozen=True)
class UrlParts:
    """What validation needs of a database URL: its backend name and whether it names a server."""

    backend: str
    username: str | None
    password: str | None
    host: str | None
    port: int | None


def split_url(text: str) -> UrlParts:
    """``text`` read as SQLAlchemy reads a database URL.

    :raises ValueError: when it is no database URL (SQLAlchemy's ``make_url`` would refuse it too)
    """
    match = _URL.match(text)
    if match is None:
        raise ValueError(f"not a database URL: {text!r}")
    parts = match.groupdict()
    port = parts["port"]
    return UrlParts(
        backend=parts["name"].split("+", 1)[0],
        username=parts["username"],
        password=parts["password"],
        host=parts["ipv6host"] or parts["ipv4host"],
        port=int(port) if port else None,
    )
