"""A sync file, ``mappings/<name>.yaml`` (SPEC 3).

The models check shape only; paths, expressions and transforms are checked
by the mapping compiler, which owns their grammar.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, PrivateAttr

from app.config.base import MOST_NAME_CHARACTERS, ConfigModel, Duration, Problem, StringList, WholeNumber
from app.config.cron import cron_trigger
from app.config.yaml_source import SourceMap

Mode = Literal["upsert", "insert", "update", "mirror"]
FieldType = Literal["string", "integer", "number", "decimal", "boolean", "date", "datetime"]
FIELD_SOURCES = ("from", "value", "template", "lookup")


def stream_parts(value: object) -> tuple[str, str] | None:
    """``(system, stream)`` of ``SYSTEM.STREAM`` text; ``None`` for anything else."""
    if not isinstance(value, str):
        return None
    system, dot, stream = value.partition(".")
    return (system, stream) if system and dot and stream and "." not in stream else None


def _stream_ref(value: str) -> str:
    if stream_parts(value) is None:
        raise ValueError(f"'{value}' is not a stream: write SYSTEM.STREAM, such as crm.contacts")
    return value


StreamRef = Annotated[str, AfterValidator(_stream_ref)]

_SYNC_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


SYNC_NAME_HINT = (
    f"use letters, digits, '-', '_' and '.', starting with a letter or digit, {MOST_NAME_CHARACTERS} at most"
)


def is_sync_name(value: str) -> bool:
    return len(value) <= MOST_NAME_CHARACTERS and _SYNC_NAME.fullmatch(value) is not None


def _sync_name(value: str) -> str:
    if len(value) > MOST_NAME_CHARACTERS:
        raise ValueError(f"a sync name has {MOST_NAME_CHARACTERS} characters at most, this one {len(value):,}")
    if not is_sync_name(value):
        raise ValueError(f"'{value}' is not a sync name: {SYNC_NAME_HINT}")
    return value


SyncName = Annotated[str, AfterValidator(_sync_name)]


def _field_shorthand(value: Any) -> Any:
    """``name: id`` is a path, ``name: "{{ … }}"`` an expression: both short for a mapping."""
    if isinstance(value, str):
        return {"template": value} if ("{{" in value or "{%" in value) else {"from": value}
    if not isinstance(value, dict):
        shown = json.dumps(value, ensure_ascii=False, default=str)  # JSON is YAML: null, true, [1, 2]
        raise ValueError(
            'a field is a source path (name: id), an expression (name: "{{ … }}") or a mapping with'
            f" from, value, template or lookup; for a constant write {{value: {shown}}}"
        )
    return value


class Lookup(ConfigModel):
    """The target key another sync gave the source key found at ``from``."""

    sync: str = Field(description="The sync whose ID map is asked.")
    from_: StringList = Field(alias="from", description="Path(s) to the source key in this record.")


class FieldMapping(ConfigModel):
    """How one target field gets its value: a source, then transform, map, type, default, required."""

    from_: str | None = Field(None, alias="from", description="A path in the source record: a.b, items[0].sku.")
    value: Any = Field(None, description="A constant.")
    template: str | None = Field(None, description="A Jinja2 expression or template over `record`.")
    lookup: Lookup | None = Field(None, description="A key from another sync's ID map.")
    transform: StringList = Field(default_factory=list, description="Transforms applied in order: strip, lower, …")
    map: dict[Any, Any] | None = Field(None, description='Value translation; "*" catches everything else.')
    type: FieldType | None = Field(None, description="Convert the value to this type.")
    decimal_mark: Literal[".", ","] | None = Field(
        None,
        description="With type decimal, number or integer: the decimal mark of numbers in text, '.' (the "
        "default; a comma then separates thousands) or ','.",
    )
    default: Any = Field(None, description="Used where the value is null or missing.")
    required: bool = Field(False, description="Fail the record when the value is null or empty.")

    def own_problems(self) -> Iterator[Problem]:
        given = [name for name in FIELD_SOURCES if name in self.given_keys()]
        if len(given) != 1:
            found = f"found {' and '.join(given)}" if given else "found none"
            yield Problem((), f"give exactly one of from, value, template, lookup ({found})")
        if self.decimal_mark is not None and self.type not in ("decimal", "number", "integer"):
            yield Problem(
                ("decimal_mark",), f"only for type decimal, number or integer (the type is {self.type or 'not given'})"
            )

    def given_keys(self) -> set[str]:
        return {type(self).model_fields[name].alias or name for name in self.model_fields_set}


FieldSpec = Annotated[
    FieldMapping,
    BeforeValidator(_field_shorthand, json_schema_input_type=str | FieldMapping),
]


class Schedule(ConfigModel):
    """When a sync runs by itself: every so often, or on a cron expression."""

    every: Duration | None = Field(None, description="Run at this interval: 30s, 5m, 1h.")
    cron: str | None = Field(None, description="Run on this cron expression: '*/5 * * * *'.")

    def own_problems(self) -> Iterator[Problem]:
        if (self.every is None) == (self.cron is None):
            yield Problem((), "give exactly one of every and cron")
        if self.every is not None and self.every < timedelta(seconds=1):
            yield Problem(("every",), "run at most once a second: use 1s or more")
        if self.cron is not None:
            try:
                cron_trigger(self.cron)
            except ValueError as exc:
                yield Problem(
                    ("cron",), f"'{self.cron}' is not a cron expression ({exc}): use five fields such as '*/5 * * * *'"
                )


class RetryPolicy(ConfigModel):
    """How a failing write is retried within a run."""

    attempts: WholeNumber = Field(5, ge=1, le=100, description="Tries in all, the first included.")
    backoff: Duration = Field(timedelta(seconds=1), description="Wait before the first retry; doubles each time.")
    max_backoff: Duration = Field(timedelta(minutes=5), description="The longest wait between tries.")
    later_runs: WholeNumber = Field(
        3, ge=0, le=1000, description="Dead letters are tried again at this many later runs (lookups: until resolved)."
    )


class SyncTest(ConfigModel):
    """A mapping test: an input record and what it must become."""

    name: str = Field(description="What the case shows.")
    input: dict[str, Any] = Field(description="A source record.")
    output: dict[str, Any] | None = Field(None, description="Fields the mapped record must have (others unchecked).")
    skip: bool = Field(False, description="The record must be skipped by `where`.")
    error: str | None = Field(None, description="Mapping must fail, on this field or with this text.")
    lookups: dict[str, dict[Any, Any]] = Field(
        default_factory=dict, description="Stand-in ID maps: {SYNC: {SOURCE_KEY: TARGET_KEY}}."
    )

    def own_problems(self) -> Iterator[Problem]:
        expectations = [self.output is not None, self.skip, self.error is not None]
        if sum(expectations) != 1:
            yield Problem((), "a test expects exactly one of output, skip: true, error")
        if self.error is not None and not self.error.strip():  # it is found in every message
            yield Problem(
                ("error",),
                "an empty error matches every error, so the test could not fail: name the field that must fail,"
                " or a part of the message, such as error: email",
            )


class SyncConfig(ConfigModel):
    """One sync: which records flow from a source stream to a target stream, and how."""

    name: SyncName = Field("", description="The sync's name; default the file's stem.")
    description: str = Field("", description="What the sync is for, in words.")
    source: StreamRef = Field(description="SYSTEM.STREAM to read.")
    target: StreamRef = Field(description="SYSTEM.STREAM to write.")
    mode: Mode = Field("upsert", description="upsert, insert, update or mirror.")
    schedule: Schedule | None = Field(None, description="When to run by itself; none: manual and webhook runs only.")
    webhook: bool = Field(False, description="Also process the source stream's webhook events at once.")
    after: str | None = Field(None, description="Run right after this sync's run succeeds.")
    where: str | None = Field(None, description="An expression: records for which it is false are skipped.")
    fields: dict[str, FieldSpec] = Field(min_length=1, description="Target field → how to fill it.")
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    tests: list[SyncTest] = Field(default_factory=list)

    _origin: SourceMap | None = PrivateAttr(None)
    _fields_at: str = PrivateAttr("fields")
    """The key of the fields block in the file: ``to_a`` or ``to_b`` for a direction of a two-way sync."""
    _where_at: tuple[str, ...] = PrivateAttr(("where",))

    @property
    def fields_at(self) -> str:
        return self._fields_at

    @property
    def where_at(self) -> tuple[str, ...]:
        return self._where_at

    @property
    def origin(self) -> SourceMap:
        """Where this sync's file and its nodes are."""
        assert self._origin is not None, "a SyncConfig is given its origin by the loader"
        return self._origin

    @property
    def source_system(self) -> str:
        return self.source.partition(".")[0]

    @property
    def source_stream(self) -> str:
        return self.source.partition(".")[2]

    @property
    def target_system(self) -> str:
        return self.target.partition(".")[0]

    @property
    def target_stream(self) -> str:
        return self.target.partition(".")[2]
