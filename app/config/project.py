"""The project file, ``brygga.yaml`` (SPEC 2)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated, Any, Literal
from urllib.parse import unquote

from pydantic import AfterValidator, Field, SecretStr

from app.config.base import Caution, ConfigModel, Duration, Problem, check_url_port, format_duration
from app.config.credentials import header_problems, secret_cautions, secret_problems

Role = Literal["viewer", "operator"]
AlertEvent = Literal["failing", "recovered", "stalled"]
ALERT_EVENTS: tuple[AlertEvent, ...] = ("failing", "recovered", "stalled")

_STATE_SCHEMES = re.compile(r"^(sqlite|postgresql)(\+\w+)?://")
_HTTP_URL = re.compile(r"^https?://[^\s/]+")


def _state_url(value: str) -> str:
    if not _STATE_SCHEMES.match(value):
        raise ValueError("the state database must be sqlite:///FILE or postgresql://USER@HOST/DB")
    check_url_port(value)
    rest = value.split("://", 1)[1]
    if value.startswith("sqlite") and rest and not rest.startswith("/"):
        raise ValueError(
            f"a SQLite state database is sqlite:/// and its file, with three slashes (sqlite:///{rest} for a path"
            f" relative to this file, sqlite:////abs/path.db for an absolute one): with two, '{rest.split('/')[0]}'"
            " is taken for a host name and the database is kept in memory, lost at each start"
        )
    if value.startswith("sqlite") and _in_memory(rest):
        raise ValueError(
            "this is an in-memory SQLite database, forgotten when the process ends: the ID map, cursors and"
            " dead letters would be lost at each start (and records created again); name a file, such as"
            " sqlite:///brygga.db"
        )
    if value.startswith("sqlite"):
        _check_lock_wait(rest)
    return value


def _check_lock_wait(rest: str) -> None:
    """A SQLite state URL's ``?timeout=`` is the seconds to wait for another process's lock: a number."""
    for part in re.split(r"[&;]", rest.partition("?")[2]):
        name, _, given = part.partition("=")
        if unquote(name) != "timeout":
            continue
        try:
            seconds = float(unquote(given))
        except ValueError:
            seconds = -1.0
        if not 0 <= seconds <= 86_400:
            raise ValueError(
                f"timeout={unquote(given)!r} in the state URL is not a number of seconds between 0 and 86400: it is"
                " how long Brygga waits for another process's lock on the state database (30 when left out)"
            )


def _in_memory(rest: str) -> bool:
    """Whether a SQLite URL (``rest``, what follows its ``://``) names no file: ``sqlite://``, ``sqlite:///``,
    ``:memory:``, or a URI form (``file::memory:``, ``mode=memory``) that SQLite keeps in memory."""
    path, _, query = rest.partition("?")
    database = unquote(path.removeprefix("/"))
    if not database.strip() or database == ":memory:" or database.startswith("file::memory:"):
        return True
    parameters = [unquote(part).lower().replace(" ", "") for part in re.split(r"[?&;]", f"{database}?{query}")]
    return "mode=memory" in parameters


def _http_url(value: str) -> str:
    if not _HTTP_URL.match(value):
        raise ValueError("expected an http:// or https:// URL")
    check_url_port(value)  # port 99999 passed, and the first request was a traceback (OverflowError)
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]


class ApiToken(ConfigModel):
    """A bearer token for the HTTP API and the role it grants."""

    name: str = Field(description="Who holds the token; shown in logs instead of the token.")
    token: SecretStr = Field(description="The token itself; use ${VAR} to keep it out of the file.")
    role: Role = Field(description="viewer reads; operator also triggers, pauses, retries and discards.")

    def own_problems(self) -> Iterator[Problem]:
        token = self.token.get_secret_value()
        for message in (*secret_problems(token, "token"), *header_problems(token, "token")):
            yield Problem(("token",), message)
        for message in secret_cautions(token, "token"):
            yield Caution(("token",), message)


class ApiConfig(ConfigModel):
    """The HTTP API's settings."""

    tokens: list[ApiToken] = Field(default_factory=list, description="When present, every /api route needs a token.")

    def own_problems(self) -> Iterator[Problem]:
        names: set[str] = set()
        values: dict[str, int] = {}
        for index, token in enumerate(self.tokens):
            if token.name in names:
                yield Problem(
                    ("tokens", index, "name"), f"duplicate token name '{token.name}': give each token its own name"
                )
            names.add(token.name)
            value = token.token.get_secret_value()
            if value in values:
                first = self.tokens[values[value]]
                yield Problem(
                    ("tokens", index, "token"),
                    f"the same token as api.tokens[{values[value]}] ('{first.name}', {first.role}):"
                    " a token stands for one holder with one role, so give each entry its own",
                )
            values.setdefault(value, index)


LEAST_RETENTION = timedelta(hours=1)
"""The shortest ``retention``: ``0s`` purged a running sync's own record log as it was written (and, once it
ended, its run), so its story, counts and diffs were gone before anyone could read them. An hour outlasts
the runs a service checks on by hand; the most is :data:`~app.config.base.MAX_DURATION`, as for every
duration."""


def _kept_long_enough(value: timedelta) -> timedelta:
    if value < LEAST_RETENTION:
        raise ValueError(
            f"{format_duration(value) if value else '0s'} is shorter than the least retention,"
            f" {format_duration(LEAST_RETENTION)}: a running sync's own runs and record log would be purged as they"
            f" are written; keep them {format_duration(LEAST_RETENTION)} or longer (30d is the default)"
        )
    return value


RetentionPeriod = Annotated[Duration, AfterValidator(_kept_long_enough)]


class Retention(ConfigModel):
    """How long run and record-log entries are kept: at least :data:`LEAST_RETENTION`."""

    runs: RetentionPeriod = Field(timedelta(days=30), description="Keep runs this long (at least 1h).")
    records: RetentionPeriod = Field(timedelta(days=30), description="Keep record-log entries this long (at least 1h).")


class RecordLogConfig(ConfigModel):
    """What the record log keeps besides each record's action.

    The values written are records' data (names, emails: maybe personal data) kept in the state
    database as long as ``retention.records``; a project that must not keep them there turns them off,
    and a record's story then tells what happened without which fields changed.
    """

    values: bool = Field(
        True, description="Keep the values written with each created or updated record, for field diffs."
    )


class Alert(ConfigModel):
    """A JSON POST (Slack-compatible ``text``) sent once per change of a sync's status."""

    url: HttpUrl = Field(description="Where to POST the notice.")
    on: list[AlertEvent] = Field(default_factory=lambda: list(ALERT_EVENTS), description="Which changes to send.")


class ProjectFile(ConfigModel):
    """The project-wide settings of ``brygga.yaml``; systems are validated per connector kind."""

    version: Literal[1] = Field(1, description="The config format version.")
    state: Annotated[str, AfterValidator(_state_url)] = Field(
        "sqlite:///brygga.db", description="The state database: sqlite:///FILE or postgresql://…"
    )
    api: ApiConfig = Field(default_factory=ApiConfig)
    systems: dict[str, dict[str, Any]] = Field(description="The business systems, by name.")
    mappings: list[str] = Field(
        default_factory=lambda: ["mappings/*.yaml"], description="Glob patterns of sync files, relative to this file."
    )
    retention: Retention = Field(default_factory=Retention)
    record_log: RecordLogConfig = Field(default_factory=RecordLogConfig)
    alerts: list[Alert] = Field(default_factory=list)
