"""How the service behaves: defaults that suit production, each overridable by a ``BRYGGA_`` variable.

pydantic-settings reads the variables (``BRYGGA_<FIELD>``, any case) and pydantic checks them. Settings
made in code (``ServiceSettings(port=9000)``: tests, an embedding program) are exactly what they say:
only :meth:`ServiceSettings.from_environment` reads variables, once, when ``serve`` or ``status``
starts, from the environment or from a mapping a caller gives. A bad value fails with one line per
setting that names the variable (or the field, in code), what is wrong with the value and what to write.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Set
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator, BeforeValidator, ByteSize, TypeAdapter, ValidationError, field_validator
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, EnvSettingsSource, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from app.config import parse_duration
from app.errors import SettingsError
from app.messages import quoted

PREFIX = "BRYGGA_"

CHOICES = {"log_level": ("debug", "info", "warning", "error"), "log_format": ("text", "json")}
"""The settings that are one of a few words (given in any case)."""

MOST_DIGITS = 18
"""A whole number longer than this is no count or port anyone means (and ``int()`` of thousands of digits
is slow, then refused)."""


def _whole_number(value: object) -> object:
    """Text (from a variable) as a whole number, saying how to write one when it is not."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if len(text.lstrip("+-")) > MOST_DIGITS and text.lstrip("+-").isdigit():
        raise ValueError(f"{quoted(value)} is too large: write a whole number such as 3")
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"invalid literal {quoted(value)}: write a whole number such as 3") from None


def _between(low: int, high: int) -> Callable[[int], int]:
    def check(value: int) -> int:
        if value < low:
            raise ValueError(f"must be {low} or more, not {value}")
        if value > high:
            raise ValueError(f"must be {high} or less, not {value}")
        return value

    return check


def _longer_than_zero(value: timedelta) -> timedelta:
    """A zero interval or TTL would make the service spin (watch, renew) or hand every lease over at once."""
    if value <= timedelta(0):
        raise ValueError(f"must be longer than 0s, not {value}: write a duration such as 30s or 5m")
    return value


_SIZES = TypeAdapter(ByteSize)
MOST_BYTES = 1024**4
"""The largest size a setting takes (1 TiB): more is no limit anyone means."""


def _byte_size(value: object) -> object:
    """Text (from a variable) as a size in bytes (``16MiB``, ``500kB``, ``1048576``), saying how to write one."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        return value
    text = str(value).strip()
    try:
        size = _SIZES.validate_python(text[:40])
    except (ValidationError, ArithmeticError):
        size = None
    if size is None or len(text) > 40:
        raise ValueError(f"{quoted(str(value))} is not a size: write a number of bytes with a unit, such as 16MiB")
    if not 0 < size <= MOST_BYTES:
        raise ValueError(f"must be more than 0 bytes and at most 1TiB, not {quoted(str(value))}")
    return ByteSize(size)


def _one_of(name: str) -> Callable[[str], str]:
    choices = CHOICES[name]

    def check(value: str) -> str:
        word = value.strip().lower()
        if word not in choices:
            *others, last = choices
            raise ValueError(f"must be {', '.join(others)} or {last}, not {quoted(value)}")
        return word

    return check


def _host(value: str) -> str:
    if not value.strip():
        raise ValueError("is empty: write an address to listen on, such as 127.0.0.1")
    return value


def _comma_list(value: object) -> object:
    """``"a.example, b.example:8443"`` → ``("a.example", "b.example:8443")``; empty items dropped."""
    if isinstance(value, str):
        return tuple(item.strip() for item in value.split(",") if item.strip())
    return value


Count = Annotated[int, BeforeValidator(_whole_number), AfterValidator(_between(1, 1_000_000_000))]
Interval = Annotated[timedelta, BeforeValidator(parse_duration), AfterValidator(_longer_than_zero)]


class ServiceSettings(BaseSettings):
    """The service's timings and thresholds.

    Every field can be set from the environment as ``BRYGGA_<FIELD>`` (``BRYGGA_STALLED_AFTER=2m``), read
    by :meth:`from_environment`.
    """

    model_config = SettingsConfigDict(env_prefix=PREFIX, frozen=True, extra="forbid", validate_default=False)

    config: Path = Path("brygga.yaml")
    host: Annotated[str, AfterValidator(_host)] = "127.0.0.1"
    port: Annotated[int, BeforeValidator(_whole_number), AfterValidator(_between(0, 65535))] = 8000
    lease_ttl: Interval = timedelta(seconds=60)
    """How long a run's lease lasts unrenewed: how soon another process takes over a dead one's work."""
    failing_after: Count = 3
    """Runs in a row that cannot reach a system before the sync is ``failing`` (no failure at all is not
    failing: at least 1)."""
    backoff: Interval = timedelta(minutes=1)
    """A failing sync's first pause between scheduled runs; doubled each failure."""
    max_backoff: Interval = timedelta(minutes=30)
    stalled_after: Interval = timedelta(minutes=5)
    """A run that makes no progress this long is ``stalled``."""
    watch_every: Interval = timedelta(seconds=15)
    """How often running syncs are checked for stalls."""
    retention_every: Interval = timedelta(hours=1)
    shutdown_grace: Interval = timedelta(seconds=6)
    """On SIGTERM, how long runs may take to finish their batch before they are abandoned."""
    header_timeout: Interval = timedelta(seconds=10)
    """How long a client may take to send a request's headers (from its first byte): then 408, closed."""
    body_timeout: Interval = timedelta(seconds=30)
    """How long a client may take to send a request's body (from its headers): then 408, closed."""
    max_connections: Count = 1000
    """Connections held at once; beyond it the slowest request still arriving makes room (lowered to fit
    the process's open-files limit)."""
    max_webhook_bytes: Annotated[ByteSize, BeforeValidator(_byte_size)] = ByteSize(16 * 1024 * 1024)
    """Bytes of webhook deliveries taken in at once (being read, checked and committed; each counts the
    bytes of its body that have arrived); a delivery beyond it is answered 503 with ``Retry-After``."""
    allowed_hosts: Annotated[tuple[str, ...], NoDecode, BeforeValidator(_comma_list)] = ()
    """On a loopback address, the ``Host`` names answered besides the loopback ones (a reverse proxy's);
    a variable lists them comma-separated."""
    log_level: Annotated[str, AfterValidator(_one_of("log_level"))] = "info"
    """The service log's least level; ``debug`` also shows the scheduler's line for each job it runs."""
    log_format: Annotated[str, AfterValidator(_one_of("log_format"))] = "text"
    """``text`` (a line for people) or ``json`` (an object per line, for log collectors)."""

    @field_validator("*", mode="before")
    @classmethod
    def _typed_text(cls, value: object) -> object:
        """A NUL, a line break or a lone surrogate is no setting: refused before it reaches a log or a socket."""
        if isinstance(value, str) and not value.isprintable():
            raise ValueError(f"{quoted(value)} has a character that is not printable: write plain text")
        return value

    if not TYPE_CHECKING:  # at run time only, so that type checkers keep the fields' own signature

        def __init__(self, **values: Any) -> None:
            try:
                super().__init__(**values)
            except ValidationError as exc:
                raise InvalidSettings(exc.errors(include_url=False)) from None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Settings made in code read no variable: :meth:`from_environment` does."""
        return (init_settings,)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None, **given: object) -> ServiceSettings:
        """The defaults, then ``BRYGGA_*`` variables, then ``given`` (command-line options; ``None``: not given).

        ``BRYGGA_CONFIG`` is not read here: the project file is found with the command's ``-c`` first
        (:func:`app.config.find_project_file`).

        :raises ValueError: for a variable that does not parse or is out of range, naming it
        """
        variables = _Variables(cls, os.environ if environ is None else environ)()
        variables.pop("config", None)
        chosen = {name: value for name, value in given.items() if value is not None}
        try:
            return cls(**{**variables, **chosen})
        except InvalidSettings as exc:
            raise InvalidSettings(exc.errors, set(variables) - set(chosen)) from None


class _Variables(EnvSettingsSource):
    """pydantic-settings' reading of ``BRYGGA_*`` variables, from a given mapping (``os.environ`` or a test's)."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        """The variables named ``BRYGGA_`` and a field's name in capitals, keyed as pydantic-settings looks
        them up (in lower case): the same variables as ever, ``brygga_port`` is not one."""
        return {
            name.lower(): value for name, value in self._environ.items() if name.startswith(PREFIX) and name.isupper()
        }


class InvalidSettings(SettingsError, ValueError):
    """Settings that do not parse or are out of range: one line per setting, ``BRYGGA_PORT: …`` for a
    variable's value, ``port: …`` for one given in code. A ``ValueError`` too, as settings were before.

    :param errors: pydantic's errors
    :param from_variables: the settings whose value came from a variable
    """

    def __init__(self, errors: list[ErrorDetails], from_variables: Set[str] = frozenset()) -> None:
        self.errors = errors
        lines = []
        for error in errors:
            name = str(error["loc"][0]) if error["loc"] else "settings"
            shown = PREFIX + name.upper() if name in from_variables else name
            lines.append(f"{shown}: {_problem(error)}")
        super().__init__("\n".join(lines))


def _problem(error: ErrorDetails) -> str:
    if error["type"] == "value_error":
        return str(error.get("ctx", {}).get("error", error["msg"]))
    if error["type"] == "extra_forbidden":
        return "no such setting: see the settings in docs/operations.md"
    message = error["msg"]
    return message[:1].lower() + message[1:]
