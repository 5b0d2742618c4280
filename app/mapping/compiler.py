"""Compile a sync's ``fields`` and ``where`` into one generated Python function.

Everything that can be decided from the YAML is decided here, once: paths
are parsed, expressions translated to Python (or compiled for the sandbox),
transforms built, defaults converted. What remains per record is one plain
function, generated as source: a ``.get`` per path, string methods called
directly, a dictionary look-up per ``map``, so a mapping runs close to the
speed of hand-written code. Every problem found is reported with its
FILE:LINE:COL, all at once.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal, DecimalException, InvalidOperation, getcontext
from typing import Any, Protocol

from app.config import ConfigIssue, FieldMapping, Location, SyncConfig, dotted
from app.errors import ConfigError, LookupPendingError, MappingError
from app.mapping.bounds import ExpressionTooCostly, NumberError
from app.mapping.conversions import ConversionError, condition_truth, converter
from app.mapping.keys import KeyReader
from app.mapping.lookups import LookupResolver, NoLookups
from app.mapping.paths import PathSyntaxError, Step, compile_steps, parse_path
from app.mapping.python_code import Namespace
from app.mapping.transforms import KINDS, TransformError, TransformSpecError, build_transform
from app.record_checks import UnfitKey, key_value_problem
from app.records import format_key


class MappingFunction(Protocol):
    def __call__(self, record: Mapping[str, Any], lookups: LookupResolver = ..., /) -> dict[str, Any] | None: ...


_MISSING = object()
_NO_LOOKUPS = NoLookups()
_ISO_TEXT: dict[str, Callable[[str], Any]] = {"datetime": datetime.fromisoformat, "date": date.fromisoformat}
"""The first reading of text that the types' converters try (:func:`~app.mapping.conversions.to_datetime`)."""


class _LookupKey:
    """Where one lookup field finds its key in a record, and which sync's ID map it asks."""

    def __init__(
        self,
        sync: str,
        getters: tuple[Callable[[Mapping[str, Any]], Any], ...],
        paths: Sequence[str] = (),
        *,
        reverse: bool = False,
    ) -> None:
        self.sync = sync
        self.getters = getters
        self.paths = tuple(paths)
        """The paths the getters read, for a message."""
        self.reverse = reverse
        """Whether it reads the ID map backwards: the source key linked with the target key found here."""

    def key(self, record: Mapping[str, Any]) -> str | None:
        """The key to look up, or ``None`` where a part is missing; an :class:`UnfitKey` where a part is no key
        (a boolean, a list, an object, ``NaN``: see :func:`key_value_problem`), as a record's own key would
        be: ``true`` was looked up as the key ``"true"``."""
        values = [get(record) for get in self.getters]
        if any(value is None for value in values):
            return None
        for path, value in zip(self.paths, values, strict=True):
            if (problem := key_value_problem(value)) is not None:
                return UnfitKey(path, problem)
        return format_key(values)


class _UnfitLookup(Exception):
    """Raised inside a field when the value a lookup finds is no key."""


class _LookupMissing(Exception):
    """Raised inside a field when the parent record has no target key yet."""


class _RequiredMissing(Exception):
    """Raised inside a field when a required value is empty."""


class CompiledMapping:
    """A sync's mapping, ready to run on records.

    :param sync: the sync's name, for error messages
    :param key: reads the source record's key
    :param fields: the target fields, in order
    :param function: the generated function, which becomes :meth:`apply`
    :param source: its source code, for debugging
    """

    apply: MappingFunction
    """Map one record: ``apply(record, lookups=NoLookups())``; ``None`` when ``where`` skips it. A mapping
    that copies every field under its own name gives a record of just those fields back itself: neither
    is ever changed in place.

    :raises LookupPendingError: when a lookup's parent record is not synced yet
    :raises MappingError: when a field cannot be mapped (names sync, key, field, cause)
    """

    def __init__(
        self,
        sync: str,
        key: KeyReader,
        fields: Sequence[str],
        function: MappingFunction,
        source: str,
        *,
        lookups: Sequence[_LookupKey] = (),
        copies: Mapping[str, str] | None = None,
        types: Mapping[str, Callable[[Any], Any]] | None = None,
    ) -> None:
        self.sync = sync
        self.key = key
        self.field_names = tuple(fields)
        self.apply = function  # the generated function itself: no wrapper call per record
        self.source = source
        self._lookups = tuple(lookups)
        self.copies: Mapping[str, str] = dict(copies or {})
        """Target field → the source path it is a plain copy of (no transform, map, type or default)."""
        self.types: Mapping[str, Callable[[Any], Any]] = dict(types or {})
        """Target field → the conversion of its ``type:``, as the mapping applies it (``brygga test`` reads
        expected values through it, so that they compare by meaning)."""

    @property
    def has_lookups(self) -> bool:
        return bool(self._lookups)

    @property
    def has_reverse_lookups(self) -> bool:
        return any(lookup.reverse for lookup in self._lookups)

    def lookup_requests(self, record: Mapping[str, Any], *, reverse: bool = False) -> list[tuple[str, str]]:
        """The (sync, key) pairs mapping this record will ask about, so they can be fetched at once: of its
        forward lookups (source keys), or with ``reverse`` of its reverse ones (target keys)."""
        requests = []
        for lookup in self._lookups:
            key = lookup.key(record) if lookup.reverse is reverse else None
            if key is not None and key.__class__ is not UnfitKey:  # its record fails as it is mapped
                requests.append((lookup.sync, key))
        return requests

    def source_key(self, record: Mapping[str, Any]) -> str | None:
        """The source record's key as text, or ``None`` when a key field is missing."""
        return self.key.text(record)

    def source_keys(self, records: Sequence[Mapping[str, Any]]) -> list[str | None]:
        """:meth:`source_key` of each record, a batch at once."""
        return self.key.texts(records)


def compile_mapping(
    sync: SyncConfig, key_fields: Sequence[str], *, reverse_lookups: Collection[str] = ()
) -> CompiledMapping:
    """Compile ``sync`` for a source stream keyed by ``key_fields``.

    :param reverse_lookups: the syncs whose ID maps this mapping's lookups read backwards (a two-way
        sync's lookups carrying a key back, see :func:`app.config.two_way.lookup_way`)
    :raises ConfigError: with every problem found, each at its place in the sync's file
    """
    key = KeyReader(key_fields)
    compiler = _Compiler(sync, frozenset(reverse_lookups))
    passthrough = _passthrough(sync)
    prologue = []
    if passthrough:
        prologue = [f"    if tuple(record) == {compiler.add(passthrough, 'fields')}:", "        return record"]
    body_start = _BODY_START + len(prologue)
    body: list[str] = []
    if sync.where is not None:
        body += compiler.where(sync.where)
    field_of_line: dict[int, str] = {}  # which field a failing line computes, without per-record bookkeeping
    results = []
    for index, (name, spec) in enumerate(sync.fields.items()):
        variable = f"v{index}"
        field_lines = compiler.field(variable, name, spec)
        first_line = len(body) + body_start
        field_of_line.update(dict.fromkeys(range(first_line, first_line + len(field_lines)), name))
        body += field_lines
        results.append(f"{name!r}: {variable}")
    if compiler.issues:
        raise ConfigError(compiler.issues)
    fail = compiler.namespace.add(_failure(sync.name, key, field_of_line), "fail")
    no_lookups = compiler.namespace.add(_NO_LOOKUPS, "no_lookups")
    lines = [
        f"def _map(record, lookups={no_lookups}, /):",
        *prologue,
        "    try:",
        *(f"        {line}" for line in body),
        f"        return {{{', '.join(results)}}}",
        "    except Exception as exc:",
        f"        raise {fail}(exc, record) from exc",
    ]
    source = "\n".join(lines) + "\n"
    function = compiler.namespace.compile_function(source, "_map", f"<mapping {sync.name}>")
    copies = {name: spec.from_ for name, spec in sync.fields.items() if spec.from_ is not None and _copies(spec)}
    types = {name: converter(spec.type, spec.decimal_mark or ".") for name, spec in sync.fields.items() if spec.type}
    return CompiledMapping(
        sync.name, key, list(sync.fields), function, source, lookups=compiler.lookups, copies=copies, types=types
    )


def _copies(spec: FieldMapping) -> bool:
    """Whether the field's value is its source value as it is."""
    return not spec.transform and spec.map is None and spec.type is None and spec.default is None


def _passthrough(sync: SyncConfig) -> tuple[str, ...] | None:
    """The fields, where each is the source field of the same name as it is: a record with just these
    fields, in this order, maps to itself (a copy would be equal, and half of the record's mapping time).

    Mapped records are therefore never changed in place, by the engine or a connector.
    """
    if sync.where is not None:
        return None
    for name, spec in sync.fields.items():
        if spec.from_ is None or not _copies(spec) or spec.required:
            return None
        try:
            if parse_path(spec.from_) != (name,):
                return None
        except PathSyntaxError:
            return None  # reported with the field
    return tuple(sync.fields)


_BODY_START = 3  # the generated function's first body line: after ``def`` and ``try:`` (and any prologue)


def _failure(
    sync: str, key: KeyReader, field_of_line: dict[int, str]
) -> Callable[[Exception, Mapping[str, Any]], MappingError]:
    """Turns an exception raised inside the generated function into a :class:`MappingError`.

    The field is found from the line that raised, so the happy path keeps no
    record of which field it is on.
    """

    def failure(exc: Exception, record: Mapping[str, Any]) -> MappingError:
        traceback = exc.__traceback__
        field = field_of_line.get(traceback.tb_lineno) if traceback is not None else None
        source_key = key.text(record) if isinstance(record, Mapping) else None
        if isinstance(exc, MappingError):
            return exc
        if isinstance(exc, _LookupMissing):
            return LookupPendingError(sync, source_key, field, str(exc))
        cause = _cause(exc)
        if field is None:
            return MappingError(sync, source_key, None, f"where: {cause}")
        return MappingError(sync, source_key, field, cause)

    return failure


def _listed(args: tuple[Any, ...]) -> list[Any]:
    return list(args[0]) if len(args) == 1 and isinstance(args[0], list) else list(args)


def _cause(exc: Exception) -> str:
    if isinstance(exc, ConversionError | TransformError | _RequiredMissing | _UnfitLookup):
        return str(exc)
    if isinstance(exc, ExpressionTooCostly):
        return f"expression refused: {exc}"
    if isinstance(exc, NumberError):
        return f"expression failed: {exc}"
    if isinstance(exc, DecimalException):  # its text is a list of classes: [<class 'decimal.DivisionImpossible'>]
        conditions = ", ".join(getattr(condition, "__name__", str(condition)) for condition in _listed(exc.args))
        return (
            f"expression failed: decimal arithmetic ({conditions}): the result is undefined, or has more digits "
            f"than a decimal is computed with ({getcontext().prec}), or an exponent past its range"
        )
    return f"expression failed: {type(exc).__name__}: {exc}"


class _Compiler:
    """Checks each part of a sync's mapping and emits the source lines that compute it."""

    def __init__(self, sync: SyncConfig, reverse_lookups: frozenset[str] = frozenset()) -> None:
        self.reverse_lookups = reverse_lookups
        self.sync = sync
        self.issues: list[ConfigIssue] = []
        self.namespace = Namespace()
        self._shared_parents = _shared_parents(sync)
        self._parent_variables: dict[str, str] = {}
        self.lookups: list[_LookupKey] = []

    def add(self, value: Any, hint: str = "v") -> str:
        return self.namespace.add(value, hint)

    def problem(self, location: Location, message: str) -> None:
        origin = self.sync.origin
        self.issues.append(origin.issue(location, f"{dotted(origin.nearest(location))}: {message}"))

    def where(self, text: str) -> list[str]:
        # Jinja2 (~15 ms to import) only for a mapping that has an expression: here and in _source.
        from app.mapping.expressions import ExpressionSyntaxError, condition_source  # noqa: PLC0415

        try:
            condition = condition_source(text, self.namespace)
        except ExpressionSyntaxError as exc:
            self.problem(self.sync.where_at, str(exc))
            return []
        truth = self.add(condition_truth, "truth")
        return [f"_where = {condition}", f"if _where is not True and not {truth}(_where):", "    return None"]

    def field(self, v: str, name: str, spec: FieldMapping) -> list[str]:
        at: Location = (self.sync.fields_at, name)
        lines = self._source(v, at, spec)
        lines += self._transforms(v, at, spec.transform)
        if spec.map is not None:
            lines += self._map(v, spec.map)
        if spec.type is not None:
            lines += self._type(v, spec.type, spec.decimal_mark or ".")
        lines += self._default(v, at, spec)
        if spec.required:
            what = f"'{spec.from_}' is missing or empty" if spec.from_ is not None else "the value is empty"
            missing = self.add(_RequiredMissing, "required")
            lines += [
                f"if {v} is None or ({v}.__class__ is str and not {v}.strip()):",
                f"    raise {missing}({f'required, but {what}'!r})",
            ]
        return lines

    def _source(self, v: str, at: Location, spec: FieldMapping) -> list[str]:
        if spec.lookup is not None:
            return [f"{v} = {self.add(self._lookup(at, spec), 'lookup')}(record, lookups)"]
        if spec.template is not None:
            from app.mapping.expressions import ExpressionSyntaxError, template_source  # noqa: PLC0415

            try:
                return [f"{v} = {template_source(spec.template, self.namespace)}"]
            except ExpressionSyntaxError as exc:
                self.problem((*at, "template"), str(exc))
                return [f"{v} = None"]
        if spec.from_ is not None:
            try:
                return self._path(v, parse_path(spec.from_))
            except PathSyntaxError as exc:
                self.problem((*at, "from"), str(exc))
                return [f"{v} = None"]
        if isinstance(spec.value, dict | list):
            return [f"{v} = {self.add(copy.deepcopy, 'copy')}({self.add(spec.value, 'constant')})"]
        return [f"{v} = {self.add(spec.value, 'constant')}"]

    def _path(self, v: str, steps: tuple[Step, ...]) -> list[str]:
        if not isinstance(steps[0], str):
            return [f"{v} = {self.add(compile_steps(steps), 'path')}(record)"]
        lines = [f"{v} = record.get({steps[0]!r})"]
        if len(steps) > 1 and steps[0] in self._shared_parents:
            # several fields read below this key: read it from the record once
            parent = self._parent_variables.get(steps[0])
            if parent is None:
                parent = self._parent_variables[steps[0]] = f"_p{len(self._parent_variables)}"
                lines = [f"{parent} = record.get({steps[0]!r})", f"{v} = {parent}"]
            else:
                lines = [f"{v} = {parent}"]
        for step in steps[1:]:
            step_function = self.add(_step, "step")
            fast = f"{v}.get({step!r}) if {v}.__class__ is dict else " if isinstance(step, str) else ""
            lines += [f"if {v} is not None:", f"    {v} = {fast}{step_function}({v}, {step!r})"]
        return lines

    def _lookup(self, at: Location, spec: FieldMapping) -> Callable[[Mapping[str, Any], LookupResolver], Any]:
        assert spec.lookup is not None
        getters = []
        for index, text in enumerate(spec.lookup.from_):
            try:
                getters.append(compile_steps(parse_path(text)))
            except PathSyntaxError as exc:
                self.problem((*at, "lookup", "from", index), str(exc))
        reverse = spec.lookup.sync in self.reverse_lookups
        lookup_key = _LookupKey(spec.lookup.sync, tuple(getters), spec.lookup.from_, reverse=reverse)
        self.lookups.append(lookup_key)
        shown = " + ".join(spec.lookup.from_)

        def unfit(key: UnfitKey) -> _UnfitLookup:
            return _UnfitLookup(
                f"lookup: {key} {key.why}, so it is no key of a record in sync {lookup_key.sync}: look it up by a "
                "field holding the parent's key (text or a whole number)"
            )

        def lookup(record: Mapping[str, Any], lookups: LookupResolver) -> Any:
            source_key = lookup_key.key(record)
            if source_key is None:
                return None
            if isinstance(source_key, UnfitKey):
                raise unfit(source_key)
            target = lookups.target_key(lookup_key.sync, source_key)
            if target is None:
                raise _LookupMissing(f"lookup: {shown} {source_key} has no target key in sync {lookup_key.sync} yet")
            return target

        def reverse_lookup(record: Mapping[str, Any], lookups: LookupResolver) -> Any:
            target_key = lookup_key.key(record)
            if target_key is None:
                return None
            if isinstance(target_key, UnfitKey):
                raise unfit(target_key)
            source = lookups.source_key(lookup_key.sync, target_key)
            if source is None:
                raise _LookupMissing(
                    f"lookup: {shown} {target_key} is not linked with a record in sync {lookup_key.sync} yet"
                )
            return source

        if reverse:
            return reverse_lookup

        return lookup

    def _transforms(self, v: str, at: Location, texts: Sequence[str]) -> list[str]:
        """One line per run of transforms; a run of str methods is one chained call on text."""
        lines: list[str] = []
        methods: list[str] = []
        general = v
        for index, text in enumerate(texts):
            try:
                transform = build_transform(text)
            except TransformSpecError as exc:
                self.problem((*at, "transform", index), str(exc))
                continue
            name = self.add(_named(transform, text), "transform")
            method = KINDS[text.partition(":")[0].strip()].str_method
            if method is None:
                if methods:
                    lines.append(self._method_chain(v, methods, general))
                    methods, general = [], v
                lines.append(f"{v} = {name}({v})")
                continue
            methods.append(method)
            general = f"{name}({general})"
        if methods:
            lines.append(self._method_chain(v, methods, general))
        return lines

    @staticmethod
    def _method_chain(v: str, methods: list[str], general: str) -> str:
        chain = "".join(f".{method}()" for method in methods)
        return f"{v} = {v}{chain} if {v}.__class__ is str else {general}"

    def _map(self, v: str, table: Mapping[Any, Any]) -> list[str]:
        text_index, translate = _map_function(table)
        index = self.add(text_index, "map")
        general = self.add(translate, "translate")
        fallback = self.add(table["*"], "fallback") if "*" in table else v
        null = self.add(table.get(None), "null")
        return [
            f"{v} = {index}.get({v}, {fallback}) if {v}.__class__ is str else {null} if {v} is None else {general}({v})"
        ]

    def _type(self, v: str, type_name: str, decimal_mark: str) -> list[str]:
        convert = self.add(converter(type_name, decimal_mark), "type")
        if type_name in _ISO_TEXT:  # ISO text is the common case, read inline at C speed: the rest converted
            parse, invalid = self.add(_ISO_TEXT[type_name], "fromisoformat"), self.add(ValueError, "ValueError")
            return [
                f"if {v}.__class__ is str:",
                "    try:",
                f"        {v} = {parse}({v})",
                f"    except {invalid}:",
                f"        {v} = {convert}({v})",
                f"elif {v} is not None:",
                f"    {v} = {convert}({v})",
            ]
        if type_name != "decimal" or decimal_mark != ".":  # Decimal("1.234") is 1234 with the mark ","
            return [f"if {v} is not None:", f"    {v} = {convert}({v})"]
        # Plain decimal text is the common case: read it inline at C speed; anything
        # else (decimal commas, blanks, NaN, underscores) goes to the full converter.
        decimal, invalid = self.add(Decimal, "Decimal"), self.add(InvalidOperation, "InvalidOperation")
        return [
            f"if {v}.__class__ is str:",
            "    try:",
            f"        _n = {decimal}({v})",
            f"        {v} = _n if _n.is_finite() and '_' not in {v} else {convert}({v})",
            f"    except {invalid}:",
            f"        {v} = {convert}({v})",
            f"elif {v} is not None:",
            f"    {v} = {convert}({v})",
        ]

    def _default(self, v: str, at: Location, spec: FieldMapping) -> list[str]:
        default = spec.default
        if default is None:
            return []
        if spec.type is not None:
            try:
                default = converter(spec.type, spec.decimal_mark or ".")(default)
            except ConversionError as exc:
                self.problem((*at, "default"), f"the default does not fit type {spec.type}: {exc}")
                return []
        value = self.add(default, "default")
        if isinstance(default, dict | list):
            value = f"{self.add(copy.deepcopy, 'copy')}({value})"
        return [f"if {v} is None:", f"    {v} = {value}"]


def _shared_parents(sync: SyncConfig) -> set[str]:
    """First keys of nested paths (``address`` of ``address.city``) that two or more fields read."""
    seen: set[str] = set()
    shared: set[str] = set()
    for spec in sync.fields.values():
        if spec.from_ is None:
            continue
        try:
            steps = parse_path(spec.from_)
        except PathSyntaxError:
            continue
        if len(steps) > 1 and isinstance(steps[0], str):
            (shared if steps[0] in seen else seen).add(steps[0])
    return shared


def _step(value: Any, step: Step) -> Any:
    """One path step on a value that is not a plain dict: a mapping key or a list index."""
    if isinstance(step, str):
        return value.get(step) if isinstance(value, Mapping) else None
    if isinstance(value, list) and -len(value) <= step < len(value):
        return value[step]
    return None


def _named(transform: Callable[[Any], Any], text: str) -> Callable[[Any], Any]:
    def apply(value: Any) -> Any:
        try:
            return transform(value)
        except TransformError as exc:
            raise TransformError(f"transform {text}: {exc}") from None

    return apply


def _map_function(table: Mapping[Any, Any]) -> tuple[dict[str, Any], Callable[[Any], Any]]:
    """Value translation: exact match, then the text of a number, then ``"*"``, else unchanged.

    Exact by type, not by Python's ``==``: a boolean matches only a boolean key (``True == 1``, so a source's
    ``true`` took the ``1:`` entry, and ``1`` the ``true:`` one); a number matches a number key of the same
    value (``1``, ``1.0`` and ``Decimal("1")`` alike), then the text of the number a text key. Text matches a
    text key, then the text of a number or boolean key (CSV's ``"1"``, ``"false"``). Built once per field.

    :returns: the table for text values (the common case, looked up inline) and
        the function for every other value
    """
    fallback = table.get("*", _MISSING)
    given = {key: value for key, value in table.items() if key != "*"}
    booleans = {key: value for key, value in given.items() if isinstance(key, bool)}
    others = {key: value for key, value in given.items() if key is not None and not isinstance(key, str | bool)}
    texts = {key: value for key, value in given.items() if isinstance(key, str)}
    for key, value in [*booleans.items(), *others.items()]:
        texts.setdefault(str(key).lower() if isinstance(key, bool) else str(key), value)

    def translate(value: Any) -> Any:
        if isinstance(value, list):
            return [translate(item) for item in value]
        if value is None:
            return given.get(None)
        if isinstance(value, str):
            found = texts.get(value, _MISSING)
        elif isinstance(value, bool):
            found = booleans.get(value, _MISSING)
        elif isinstance(value, dict | set):
            found = _MISSING
        else:
            try:
                found = others.get(value, _MISSING)
            except TypeError:  # no hash: a signalling NaN decimal
                found = _MISSING
            if found is _MISSING:
                found = texts.get(str(value), _MISSING)
        if found is _MISSING:
            return value if fallback is _MISSING else fallback
        return found

    return texts, translate
