"""What every system and stream has, whatever its connector kind.

Each connector kind subclasses :class:`SystemOptions` and
:class:`StreamOptions` with its own options (see ``connectors/*/config.py``);
the ``connector`` and ``webhook`` keys of a system belong to Brygga itself.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, ByteSize, Field, SecretStr

from app.config.base import Caution, ConfigModel, Duration, KeyFields, Problem, WholeNumber
from app.config.credentials import (
    header_problems,
    secret_cautions,
    secret_problems,
    standard_secret_cautions,
    standard_secret_problems,
)
from app.config.sync import Mode
from app.config.yaml_source import SourceMap


class StreamOptions(ConfigModel):
    """One collection of records in a system."""

    key: KeyFields = Field(description="The field(s) that identify a record in this stream.")

    def target_problems(self, mode: Mode) -> Iterator[TargetProblem]:
        """Why a sync in ``mode`` could not write to this stream, known from the config alone.

        Found when the project is loaded, so ``brygga validate`` says it instead of every record
        failing at run time. A connector kind that cannot tell says nothing (the default).
        """
        return iter(())

    def fetch_problem(self) -> str | None:
        """Why records of this stream cannot be fetched by key (for a webhook with ``fetch: true``), known
        from the config alone; ``None`` when they can, or when the kind cannot tell (the default)."""
        return None

    def field_problems(self, fields: Collection[str]) -> Iterator[TargetProblem]:
        """Why a sync that writes exactly ``fields`` to this stream could not work as configured, known from
        the config alone (an option naming a field the sync never writes). The default says nothing."""
        return iter(())


@dataclass(frozen=True)
class TargetProblem:
    """A reason a sync cannot write to a stream; ``about_mode`` when another ``mode`` would not have it."""

    message: str
    about_mode: bool = False


CALL_TIMEOUT = timedelta(hours=1)
"""The default ``call_timeout``: long, as it is a backstop, not a system's own timeout (a REST system's
``timeout`` bounds each request). A batch of writes to an API at one request a second takes 17 minutes,
and a request retried under the sync's policy several more: a deadline cut that short would fail every
run at the same batch."""


class SystemOptions(ConfigModel):
    """A connector kind's options for one system; ``streams`` is always there."""

    streams: dict[str, StreamOptions] = Field(description="The streams of this system, by name.")
    batch_size: WholeNumber = Field(1000, ge=1, le=100_000, description="Records per read and write batch.")
    call_timeout: Duration = Field(
        CALL_TIMEOUT,
        gt=timedelta(0),
        description="The longest one call into the connector may take (a page read, a batch written, a look-up,"
        " connecting) before the run fails: a backstop for a connector that hangs.",
    )

    def own_problems(self) -> Iterator[Problem]:
        if not self.streams:
            yield Problem(("streams",), "a system needs at least one stream")

    def target_problems(self, stream: str, mode: Mode) -> Iterator[TargetProblem]:
        """Why a sync in ``mode`` could not write to ``stream`` (see :meth:`StreamOptions.target_problems`)."""
        options = self.streams.get(stream)
        return options.target_problems(mode) if options is not None else iter(())

    def field_problems(self, stream: str, fields: Collection[str]) -> Iterator[TargetProblem]:
        """See :meth:`StreamOptions.field_problems`."""
        options = self.streams.get(stream)
        return options.field_problems(fields) if options is not None else iter(())


WebhookVerify = Literal["standard", "github", "token", "none"]

LEAST_BODY = ByteSize(1024)
"""The smallest ``max_body``: below it, a delivery of a record or two would be refused (413)."""
MOST_BODY = ByteSize(64 * 1024 * 1024)
"""The largest ``max_body``. The service holds a delivery's body whole while it checks it, and its parsed
records take up to ~50 times its size (349,000 tiny records in 1 MiB took ~50 MB): ``max_body: 100GiB`` let one
sender make it buffer that much. 64 MiB is above what senders send (GitHub's deliveries are at most 25 MB)."""


def _body_limit(value: ByteSize) -> ByteSize:
    if value < LEAST_BODY:
        raise ValueError(
            f"{_size_text(value)} is less than the least max_body, 1KiB: every delivery but the tiniest would"
            " be refused (413); allow 1KiB or more (1MiB is the default)"
        )
    if value > MOST_BODY:
        raise ValueError(
            f"{_size_text(value)} is more than the most max_body, 64MiB: the service holds each body whole"
            " while it checks it, so one sender could take its memory; allow 64MiB or less (1MiB is the default)"
        )
    return value


def _size_text(value: ByteSize) -> str:
    """``100GiB`` where a binary unit says it exactly, else the bytes: ``64.0MiB`` was one byte more than 64 MiB."""
    for unit, size in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if value >= size and value % size == 0:
            return f"{value // size}{unit}"
    return f"{int(value):,} bytes"


BodyLimit = Annotated[ByteSize, AfterValidator(_body_limit)]


class WebhookConfig(ConfigModel):
    """How a system pushes its changes to ``POST /webhooks/{system}``."""

    verify: WebhookVerify = Field(description="How a delivery proves where it came from.")
    secret: SecretStr | None = Field(None, description="The signing secret or bearer token.")
    stream: str = Field(description="The stream the events carry records of.")
    records: str | None = Field(None, description="Path to the record or list of records in the body.")
    max_body: BodyLimit = Field(
        ByteSize(1024 * 1024), description="Largest accepted body, e.g. 1MiB; from 1KiB to 64MiB."
    )
    delete_when: str | None = Field(None, description="An expression over `event`: true means delete.")
    fetch: bool = Field(False, description="Events carry keys only: fetch each record with the stream's get.")

    def own_problems(self) -> Iterator[Problem]:
        if self.verify == "none":
            if self.secret is not None:
                message = "verify: none checks no secret: remove it, or choose standard, github or token"
                yield Problem(("secret",), message)
            return
        if self.secret is None:
            yield Problem(("verify",), f"{self.verify} needs a secret: add 'secret: ${{YOUR_SECRET}}'")
            return
        secret = self.secret.get_secret_value()
        standard = self.verify == "standard"
        for message in standard_secret_problems(secret) if standard else secret_problems(secret, "secret"):
            yield Problem(("secret",), message)
        if self.verify == "token":  # sent as a bearer token; a signing key (standard, github) is never sent
            for message in header_problems(secret, "secret"):
                yield Problem(("secret",), message)
        for message in standard_secret_cautions(secret) if standard else secret_cautions(secret, "secret"):
            yield Caution(("secret",), message)


@dataclass
class SystemConfig:
    """A configured system: its connector kind, that kind's options, and its webhook block."""

    name: str
    connector: str
    options: SystemOptions
    webhook: WebhookConfig | None
    origin: SourceMap
    root: Path
    """The project's folder: relative paths in this system's options start here."""

    def stream(self, name: str) -> StreamOptions:
        return self.options.streams[name]
