"""The base of every config model, and the small value types they share."""

from __future__ import annotations

import math
import re
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema

Location = tuple[Hashable, ...]


def dotted(location: Sequence[Hashable]) -> str:
    """``("fields", "email", "transform", 1)`` → ``fields.email.transform[1]``."""
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def with_path(location: Location, message: str) -> str:
    return f"{dotted(location)}: {message}" if location else message


@dataclass(frozen=True)
class Problem:
    """A semantic problem found in a validated model, relative to that model."""

    location: Location
    message: str
    at_key: bool = False

    def under(self, prefix: Location) -> Problem:
        return type(self)((*prefix, *self.location), self.message, self.at_key)


class Caution(Problem):
    """A value that works but is unwise (a short token): ``brygga validate`` shows it as a warning at its
    place, and ``brygga serve`` logs it as it starts; no command fails for it."""


class Deprecated(Caution):
    """A value written a way that still works but is on its way out: ``brygga validate`` shows it as a
    warning at its place, saying how to write it now; no command fails for it."""


class ConfigModel(BaseModel):
    """A part of a config file: unknown keys are errors; cross-field checks yield :class:`Problem`."""

    # defer_build: a model's validator is built when the model is first used, not as its module is imported.
    # A parent's validator holds its children's, so most children never need one of their own: 47 models
    # were built at every `brygga run` (~80 ms of CPU), of which the run's project used a few (issue 22).
    model_config = ConfigDict(extra="forbid", populate_by_name=True, validate_default=False, defer_build=True)

    def own_problems(self) -> Iterator[Problem]:
        """Problems that need several fields at once; positions relative to this model."""
        return iter(())

    def problems(self) -> Iterator[Problem]:
        """Every problem in this model and the models inside it."""
        yield from self.own_problems()
        for name, info in type(self).model_fields.items():
            key = info.alias or name
            for location, child in child_models(getattr(self, name), (key,)):
                for problem in child.problems():
                    yield problem.under(location)


def child_models(value: Any, location: Location) -> Iterator[tuple[Location, ConfigModel]]:
    """The config models in ``value`` (itself, or in its mappings and lists), each with its place under ``location``."""
    if isinstance(value, ConfigModel):
        yield location, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from child_models(item, (*location, key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from child_models(item, (*location, index))


_PLAIN_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
DURATION_HINT = "write a number with a unit, such as 500ms, 30s, 5m, 2h, 1d or 1h30m"


MAX_DURATION = timedelta(days=36500)
"""A hundred years: longer is no schedule, wait or retention, and would overflow dates."""


def parse_duration(value: Any) -> timedelta:
    """``"1h30m"`` → ``timedelta(hours=1, minutes=30)``; plain numbers are seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError(f"expected a duration: {DURATION_HINT}")
    if isinstance(value, int | float):
        seconds = value
    elif isinstance(value, str) and _PLAIN_NUMBER.fullmatch(value.strip()):
        seconds = float(value)  # from ${VAR}, where every value is text
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        parts = list(_DURATION_PART.finditer(text))
        if not parts or "".join(p.group(0) for p in parts) != text:
            raise ValueError(f"'{value}' is not a duration: {DURATION_HINT}")
        seconds = sum(float(p.group(1)) * _DURATION_UNITS[p.group(2)] for p in parts)
    else:
        raise ValueError(f"expected a duration: {DURATION_HINT}")
    return timedelta(seconds=_bounded(seconds))


def _bounded(seconds: float) -> float:
    """``seconds`` as a float, when it is a duration that a timedelta, and a date that far ahead, can hold."""
    if isinstance(seconds, float) and math.isnan(seconds):  # from .nan
        raise ValueError(f".nan is not a duration: {DURATION_HINT}")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    if seconds > MAX_DURATION.total_seconds():  # compared before float(), which big integers overflow
        raise ValueError(f"a duration can be at most {MAX_DURATION.days}d (a hundred years)")
    return float(seconds)


def format_duration(value: timedelta) -> str:
    """The shortest duration text that reads back to ``value``."""
    seconds = value.total_seconds()
    for unit in ("w", "d", "h", "m", "s"):
        size = _DURATION_UNITS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{round(seconds * 1000)}ms" if seconds < 1 else f"{seconds:g}s"


_DURATION_SCHEMA = {
    "anyOf": [
        {"type": "string", "pattern": r"^\s*(\d+(\.\d+)?\s*(ms|s|m|h|d|w)\s*)+$"},
        {"type": "number", "minimum": 0},
    ],
    "description": "A duration: 500ms, 30s, 5m, 2h, 1d, 1h30m, or a number of seconds.",
}

Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(_DURATION_SCHEMA),
]


def _no_boolean(value: Any) -> Any:
    if isinstance(value, bool):  # a boolean is an int in Python: ``attempts: true`` would be 1
        raise ValueError(f"expected a whole number, got {str(value).lower()}")
    return value


WholeNumber = Annotated[int, BeforeValidator(_no_boolean)]
"""A count or a number of things in a config (``attempts``, ``batch_size``): ``true`` is none of them."""


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


KeyFields = Annotated[
    tuple[str, ...],
    BeforeValidator(_as_list),
    Field(min_length=1),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}],
            "description": "The field (or list of fields) that identifies a record.",
        }
    ),
]
"""A stream's key: one field name, or a list of them for a composite key."""

StringList = Annotated[
    list[str],
    BeforeValidator(_as_list),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}),
]
"""A list of strings where a single string also does."""

MOST_NAME_CHARACTERS = 200
"""The longest name of a system, stream or sync. The state database indexes sync names with each record's
key (PostgreSQL holds at most 2,704 bytes in an index row, 2,000 of them for the key): a sync named with
9,000 characters validated, then failed every run at its first record."""

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
NAME_HINT = (
    f"use letters, digits, '-' and '_' (no dots or spaces), starting with a letter or digit,"
    f" {MOST_NAME_CHARACTERS} at most"
)


def is_name(value: str) -> bool:
    """Whether ``value`` is a system or stream name. Matched whole: a ``$`` would let a line end follow."""
    return len(value) <= MOST_NAME_CHARACTERS and _NAME.fullmatch(value) is not None


def check_url_port(url: str) -> None:
    """:raises ValueError: when ``url`` has a port that is not a number from 0 to 65535 (which would pass
    for a URL until the first connection, and then fail with a traceback), or a password with a character
    URLs reserve that makes it read two ways"""
    try:
        urlsplit(url).port  # noqa: B018 - read for its check
    except ValueError:
        raise ValueError(
            _password_problem(url, port_failed=True) or "the port in this URL is not a number from 0 to 65535"
        ) from None
    problem = _password_problem(url, port_failed=False)
    if problem is not None:
        raise ValueError(problem)


_AUTHORITY = re.compile(r"^[\w+]+://(?:[^:/]*(?::(?P<password>[^@]*))?@)?(?P<host>[^/:?]*)")
"""The user, password and host of a database URL as SQLAlchemy reads them: the password ends at the
first ``@``, where :func:`urlsplit` takes the last."""

_RESERVED_IN_PASSWORD = (
    "the password in this URL holds a character URLs reserve (@, /, ?, #), so the URL reads two ways and the"
    " host is taken from the middle of the password: percent-encode those characters in it (@ as %40, / as %2F,"
    " ? as %3F, # as %23, % as %25)"
)


def _password_problem(url: str, *, port_failed: bool) -> str | None:
    """Why ``url``'s password cannot be read as written, if it cannot (never showing the password)."""
    found = _AUTHORITY.match(url)
    if found is None:
        return None
    if "@" in found.group("host"):  # no host holds an @: it was the password's
        return _RESERVED_IN_PASSWORD
    password = found.group("password") or ""
    if port_failed and any(character in password for character in "/?#"):
        return _RESERVED_IN_PASSWORD
    return None
