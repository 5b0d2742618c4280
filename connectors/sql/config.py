"""Options of a ``sql`` system and its streams (SPEC 4)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema

from connectors.base import (
    ConfigModel,
    Duration,
    Mode,
    Problem,
    StreamOptions,
    SystemOptions,
    TargetProblem,
    check_url_port,
)
from connectors.sql.backends import BACKENDS, Backend, split_url
from connectors.sql.query_text import QueryError, one_select
from connectors.sql.table_names import parse_table, sqlite_problem

_URL_HINT = "write sqlite:///crm.db, postgresql://user@host/db or mysql+pymysql://user@host/db"


def _database_url(value: str) -> str:
    check_url_port(value)
    try:
        url = split_url(value)
    except ValueError:
        raise ValueError(f"not a database URL: {_URL_HINT}") from None
    if url.backend not in BACKENDS:
        raise ValueError(f"database '{url.backend}' is not supported: {_URL_HINT}")
    if url.backend == "sqlite" and (url.username or url.password or url.host or url.port):
        raise ValueError("a SQLite database is a file: write sqlite:///PATH, without user, password or host")
    return value


def _table_name(value: str) -> str:
    parse_table(value)
    return value


def _delete_form(value: Any) -> Any:
    if value == "hard":
        return {"hard": True}
    if isinstance(value, str):
        raise ValueError(f"'{value}' is not a delete mode: write 'hard' or {{soft: COLUMN}}")
    return value


class DeleteMode(ConfigModel):
    """How a ``mirror`` sync deletes: remove the row, or set a column."""

    hard: bool = False
    soft: str | None = Field(None, description="Set this column to the deletion time instead of deleting.")

    def own_problems(self) -> Iterator[Problem]:
        if self.hard == (self.soft is not None):
            yield Problem((), "write 'hard' or {soft: COLUMN}")


DeleteSpec = Annotated[
    DeleteMode,
    BeforeValidator(_delete_form),
    WithJsonSchema(
        {
            "anyOf": [
                {"const": "hard"},
                {
                    "type": "object",
                    "properties": {"soft": {"type": "string"}},
                    "required": ["soft"],
                    "additionalProperties": False,
                },
            ]
        }
    ),
]


class SqlStream(StreamOptions):
    """A table (or a read-only query) in a SQL database."""

    table: Annotated[str, AfterValidator(_table_name)] | None = Field(
        None, description='The table to read and write: NAME or SCHEMA.NAME, a name holding a dot quoted ("a.b").'
    )
    cursor: str | None = Field(None, description="A column that grows on every change, for incremental reads.")
    lookback: Duration | None = Field(None, description="Re-read this much before the stored cursor.")
    query: str | None = Field(None, description="A read-only SELECT used for reads instead of the table.")
    delete: DeleteSpec | None = Field(None, description="hard, or {soft: COLUMN}.")

    def own_problems(self) -> Iterator[Problem]:
        if self.table is None and self.query is None:
            yield Problem((), "missing required key 'table' (or 'query' for a stream that is only read)")
        if self.lookback is not None and self.cursor is None:
            yield Problem(("lookback",), "lookback needs a cursor column")

    def target_problems(self, mode: Mode) -> Iterator[TargetProblem]:
        if self.table is None:
            yield TargetProblem("the stream is a read-only query: give it a table to write to")
        elif mode == "mirror" and self.delete is None:
            yield TargetProblem(
                "mirror deletes the rows whose source record is gone, but the target stream has no delete option:"
                " add delete: hard or delete: {soft: COLUMN} to it",
                about_mode=True,
            )


class SqlSystem(SystemOptions):
    """A SQL database."""

    url: Annotated[str, AfterValidator(_database_url)] = Field(description="A SQLAlchemy database URL.")
    streams: dict[str, SqlStream]  # type: ignore[assignment]

    def own_problems(self) -> Iterator[Problem]:
        """Each stream's query read as the system's database reads SQL: exactly one SELECT."""
        yield from super().own_problems()
        backend = BACKENDS[split_url(self.url).backend]
        for name, stream in self.streams.items():
            problem = sqlite_problem(stream.table) if stream.table and backend is Backend.SQLITE else None
            if problem is not None:
                yield Problem(("streams", name, "table"), problem)
            if stream.query is not None:
                try:
                    one_select(stream.query, backend)
                except QueryError as exc:
                    yield Problem(("streams", name, "query"), str(exc))
