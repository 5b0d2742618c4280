"""Compile a sync's ``fields`` and ``where`` into one plain Python callable.

Everything that can be decided from the YAML is decided here, once: paths
are parsed, templates compiled, transforms built, defaults converted. Per
record only the resulting closures run. Every problem found is reported
with its FILE:LINE:COL, all at once.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from app.config import ConfigIssue, FieldMapping, Location, SyncConfig
from app.config.validation import dotted
from app.errors import ConfigError, LookupPendingError, MappingError
from app.mapping.conversions import ConversionError, converter
from app.mapping.expressions import Expression, ExpressionSyntaxError, compile_condition, compile_template
from app.mapping.keys import KeyReader, format_key
from app.mapping.lookups import LookupResolver, NoLookups
from app.mapping.paths import PathSyntaxError, compile_path
from app.mapping.transforms import TransformError, TransformSpecError, build_transform

Step = Callable[[Any], Any]
FieldFunction = Callable[[Mapping[str, Any], LookupResolver], Any]
_MISSING = object()
_NO_LOOKUPS = NoLookups()


class _LookupMissing(Exception):
    """Raised inside a field when the parent record has no target key yet."""


class _RequiredMissing(Exception):
    """Raised inside a field when a required value is empty."""


class CompiledMapping:
    """A sync's mapping, ready to run on records.

    :param sync: the sync's name, for error messages
    :param key: reads the source record's key
    """

    def __init__(
        self, sync: str, key: KeyReader, fields: Sequence[tuple[str, FieldFunction]], where: Expression | None
    ) -> None:
        self.sync = sync
        self.key = key
        self._fields = tuple(fields)
        self._where = where

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self._fields)

    def source_key(self, record: Mapping[str, Any]) -> str | None:
        """The source record's key as text, or ``None`` when a key field is missing."""
        return self.key.text(record)

    def apply(self, record: Mapping[str, Any], lookups: LookupResolver = _NO_LOOKUPS) -> dict[str, Any] | None:
        """Map one record; ``None`` when ``where`` skips it.

        :raises LookupPendingError: when a lookup's parent record is not synced yet
        :raises MappingError: when a field cannot be mapped (names sync, key, field, cause)
        """
        if self._where is not None:
            try:
                keep = self._where(record)
            except Exception as exc:
                raise MappingError(self.sync, self.source_key(record), None, f"where: {_cause(exc)}") from exc
            if not keep:
                return None
        mapped: dict[str, Any] = {}
        name = None
        try:
            for name, compute in self._fields:
                mapped[name] = compute(record, lookups)
        except _LookupMissing as exc:
            raise LookupPendingError(self.sync, self.source_key(record), name, str(exc)) from None
        except Exception as exc:
            raise MappingError(self.sync, self.source_key(record), name, _cause(exc)) from exc
        return mapped


def _cause(exc: Exception) -> str:
    if isinstance(exc, ConversionError | TransformError | _RequiredMissing):
        return str(exc)
    return f"expression failed: {type(exc).__name__}: {exc}"


def compile_mapping(sync: SyncConfig, key_fields: Sequence[str]) -> CompiledMapping:
    """Compile ``sync`` for a source stream keyed by ``key_fields``.

    :raises ConfigError: with every problem found, each at its place in the sync's file
    """
    compiler = _Compiler(sync)
    fields = [(name, compiler.field(name, spec)) for name, spec in sync.fields.items()]
    where = compiler.where(sync.where) if sync.where is not None else None
    if compiler.issues:
        raise ConfigError(compiler.issues)
    return CompiledMapping(sync.name, KeyReader(key_fields), fields, where)


class _Compiler:
    def __init__(self, sync: SyncConfig) -> None:
        self.sync = sync
        self.issues: list[ConfigIssue] = []

    def problem(self, location: Location, message: str) -> None:
        origin = self.sync.origin
        shown = origin.nearest(location)
        self.issues.append(origin.issue(location, f"{dotted(shown)}: {message}"))

    def where(self, text: str) -> Expression | None:
        try:
            return compile_condition(text)
        except ExpressionSyntaxError as exc:
            self.problem(("where",), str(exc))
            return None

    def field(self, name: str, spec: FieldMapping) -> FieldFunction:
        at: Location = ("fields", name)
        source = self._source(at, spec)
        steps = [
            step
            for index, text in enumerate(spec.transform)
            if (step := self._transform((*at, "transform", index), text))
        ]
        if spec.map is not None:
            steps.append(_map_step(spec.map))
        if spec.type is not None:
            steps.append(_type_step(spec.type))
        default = self._default(at, spec)
        if default is not None:
            steps.append(_default_step(default))
        if spec.required:
            steps.append(_required_step(spec.from_))
        return _chain(source, tuple(steps))

    def _source(self, at: Location, spec: FieldMapping) -> FieldFunction:
        if spec.lookup is not None:
            return self._lookup(at, spec)
        if spec.template is not None:
            try:
                expression = compile_template(spec.template)
            except ExpressionSyntaxError as exc:
                self.problem((*at, "template"), str(exc))
                return _constant(None)
            return lambda record, _lookups: expression(record)
        if spec.from_ is not None:
            try:
                get = compile_path(spec.from_)
            except PathSyntaxError as exc:
                self.problem((*at, "from"), str(exc))
                return _constant(None)
            return lambda record, _lookups: get(record)
        return _constant(spec.value)

    def _lookup(self, at: Location, spec: FieldMapping) -> FieldFunction:
        assert spec.lookup is not None
        other = spec.lookup.sync
        paths = spec.lookup.from_
        getters = []
        for index, text in enumerate(paths):
            try:
                getters.append(compile_path(text))
            except PathSyntaxError as exc:
                self.problem((*at, "lookup", "from", index), str(exc))
        shown = " + ".join(paths)

        def lookup(record: Mapping[str, Any], lookups: LookupResolver) -> Any:
            values = [get(record) for get in getters]
            if any(value is None for value in values):
                return None
            source_key = format_key(values)
            target = lookups.target_key(other, source_key)
            if target is None:
                raise _LookupMissing(f"lookup: {shown} {source_key} has no target key in sync {other} yet")
            return target

        return lookup

    def _transform(self, location: Location, text: str) -> Step | None:
        try:
            return _named(build_transform(text), text)
        except TransformSpecError as exc:
            self.problem(location, str(exc))
            return None

    def _default(self, at: Location, spec: FieldMapping) -> Any:
        if spec.default is None or spec.type is None:
            return spec.default
        try:
            return converter(spec.type)(spec.default)
        except ConversionError as exc:
            self.problem((*at, "default"), f"the default does not fit type {spec.type}: {exc}")
            return None


def _chain(source: FieldFunction, steps: tuple[Step, ...]) -> FieldFunction:
    if not steps:
        return source

    def compute(record: Mapping[str, Any], lookups: LookupResolver) -> Any:
        value = source(record, lookups)
        for step in steps:
            value = step(value)
        return value

    return compute


def _constant(value: Any) -> FieldFunction:
    if isinstance(value, dict | list):
        return lambda _record, _lookups: copy.deepcopy(value)
    return lambda _record, _lookups: value


def _named(transform: Step, text: str) -> Step:
    def apply(value: Any) -> Any:
        try:
            return transform(value)
        except TransformError as exc:
            raise TransformError(f"transform {text}: {exc}") from None

    return apply


def _map_step(table: Mapping[Any, Any]) -> Step:
    fallback = table.get("*", _MISSING)
    index: dict[Any, Any] = {}
    for key, value in table.items():
        if key != "*":
            index[key] = value
    for key, value in list(index.items()):
        if key is not None and not isinstance(key, str):
            index.setdefault(str(key).lower() if isinstance(key, bool) else str(key), value)

    def translate(value: Any) -> Any:
        if isinstance(value, list):
            return [translate(item) for item in value]
        if value is None:
            return index.get(None)
        found = index.get(value, _MISSING) if not isinstance(value, dict) else _MISSING
        if found is _MISSING and not isinstance(value, str | dict):
            found = index.get(str(value), _MISSING)
        if found is _MISSING:
            return value if fallback is _MISSING else fallback
        return found

    return translate


def _type_step(type_name: str) -> Step:
    return converter(type_name)


def _default_step(default: Any) -> Step:
    if isinstance(default, dict | list):
        return lambda value: copy.deepcopy(default) if value is None else value
    return lambda value: default if value is None else value


def _required_step(path: str | None) -> Step:
    what = f"'{path}' is missing or empty" if path is not None else "the value is empty"

    def require(value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            raise _RequiredMissing(f"required, but {what}")
        return value

    return require
