"""Read a project: ``brygga.yaml``, its systems, and every sync file it names.

Every problem in every file is collected before anything is reported, so a
user sees them all at once. What validated is still returned, so later
checks (the mapping compiler) can add their problems to the same report.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, create_model

from app.config.base import MOST_NAME_CHARACTERS, NAME_HINT, Location, is_name
from app.config.broken_syncs import mapping_blocks
from app.config.files import read_config_text, sync_files
from app.config.interpolation import InterpolationError, UnsetVariableError, UnusableVariableError, interpolate
from app.config.issues import (
    START,
    ConfigIssue,
    ConfigWarning,
    Mark,
    RootCause,
    Unchecked,
    UnsetVariable,
    UnusableVariable,
    VariableIssue,
    shown_message,
)
from app.config.kinds import BrokenKindError, UnknownKindError, installed_kinds, options_model
from app.config.needs import EVERYTHING, Needs
from app.config.project import ProjectFile
from app.config.secrets import SecretValues
from app.config.sync import SYNC_NAME_HINT, Mode, SyncConfig, is_sync_name, stream_parts
from app.config.systems import SystemConfig, SystemOptions, WebhookConfig
from app.config.two_way import (
    DIRECTIONS,
    AnySync,
    Direction,
    TwoWaySyncConfig,
    lookup_way,
    other_side,
    sync_kind_problems,
    target_side,
)
from app.config.validation import choice_hint, closest, dotted, validate_node, with_path
from app.config.yaml_source import SourceMap, YamlDocument, parse_yaml
from app.errors import ConfigError

DEFAULT_PROJECT_FILE = "brygga.yaml"


@dataclass
class Project:
    """A loaded project: settings, systems and syncs, all validated."""

    file: Path
    settings: ProjectFile
    systems: dict[str, SystemConfig] = field(default_factory=dict)
    syncs: dict[str, AnySync] = field(default_factory=dict)
    secrets: SecretValues = field(default_factory=SecretValues)
    files: list[Path] = field(default_factory=list)
    origin: SourceMap = field(default_factory=lambda: SourceMap(Path("brygga.yaml")))
    """Where each node of the project file is, for problems found after loading."""
    sync_files: dict[Path, str] = field(default_factory=dict)
    """The name of the sync each sync file defines (its stem where the file could not be read)."""
    unset: list[UnsetVariable] = field(default_factory=list)
    """Every ``${VAR}`` whose variable is not set, left as its text: an error where a command uses it."""
    warnings: list[ConfigIssue] = field(default_factory=list)
    """Values written a deprecated way that still works (:class:`~app.config.issues.ConfigWarning`), for
    ``brygga validate`` to show."""
    broken_blocks: list[SyncConfig] = field(default_factory=list)
    """The sound mapping blocks of sync files that failed validation (:mod:`app.config.broken_syncs`): the
    mapping compiler checks them too, so that every error shows at once."""

    @property
    def root(self) -> Path:
        """The project file's folder: relative paths in the config start here."""
        return self.file.parent

    def unset_in(self, *location: Any) -> list[UnsetVariable]:
        """The unset variables at or under ``location`` in ``brygga.yaml`` (such as ``"systems", "crm"``)."""
        width = len(location)
        return [issue for issue in self.unset if issue.file == self.file and issue.location[:width] == location]

    def used_systems(self, needs: Needs) -> set[str]:
        """The systems the syncs that ``needs`` names read or write."""
        return {
            system
            for sync in self.syncs.values()
            if needs.uses_sync(sync.name)
            for system in (sync.source_system, sync.target_system)
        }

    def needs_variable(self, issue: VariableIssue, needs: Needs) -> bool:
        """Whether a command that uses what ``needs`` names uses the value at ``issue``'s place."""
        if issue.file != self.file:
            return needs.uses_sync(self.sync_files.get(issue.file))
        return needs.uses_project_location(issue.location, self.used_systems(needs))


def find_project_file(explicit: str | os.PathLike[str] | None, environ: Mapping[str, str] | None = None) -> Path:
    """``-c PATH``, else ``$BRYGGA_CONFIG``, else ``./brygga.yaml`` (SPEC 2)."""
    environ = os.environ if environ is None else environ
    chosen = explicit or environ.get("BRYGGA_CONFIG") or DEFAULT_PROJECT_FILE
    return Path(chosen).absolute()


def load_project(path: Path, environ: Mapping[str, str] | None = None, needs: Needs = EVERYTHING) -> Project:
    """Read and validate a project, for a command that uses what ``needs`` names.

    :raises ConfigError: with every problem of every file
    """
    project, issues = read_project(path, environ, needs)
    reported = report_issues(issues, project, needs)
    return keep_warnings(project, reported)


def keep_warnings(project: Project, reported: list[ConfigIssue]) -> Project:
    """``project`` with the warnings among ``reported`` kept on it, when no other issue is there.

    :raises ConfigError: with the issues that are not warnings
    """
    errors = [issue for issue in reported if not isinstance(issue, ConfigWarning)]
    if errors:
        raise ConfigError(errors)
    project.warnings = [issue for issue in reported if isinstance(issue, ConfigWarning)]
    return project


def report_issues(issues: list[ConfigIssue], project: Project, needs: Needs = EVERYTHING) -> list[ConfigIssue]:
    """Issues ready to show: echoes and the unset variables ``needs`` does not use dropped, in file order
    (the project file first), by position, secrets scrubbed, each
    message one line of at most a screenful."""
    kept = [
        issue
        for issue in _without_echoes(issues)
        if not isinstance(issue, VariableIssue) or project.needs_variable(issue, needs)
    ]
    kept = [
        issue for issue in kept if not isinstance(issue, Unchecked) or _shown_in_system(issue.system, kept, project)
    ]
    order = {file: index for index, file in enumerate(project.files)}
    ordered = sorted(kept, key=lambda issue: (order.get(issue.file, len(order)), issue.mark))
    return [
        (ConfigWarning if isinstance(issue, ConfigWarning) else ConfigIssue)(
            issue.file, issue.mark, shown_message(project.secrets.redact(issue.message))
        )
        for issue in ordered
    ]


def _shown_in_system(system: str, issues: list[ConfigIssue], project: Project) -> bool:
    """Whether an issue in ``issues`` is at a place inside ``system``'s block of ``brygga.yaml``."""
    prefix = ("systems", system)
    places = {
        mark
        for location, marks in project.origin.marks.items()
        if location[:2] == prefix
        for mark in (marks.value, marks.key)
        if mark is not None
    }
    return any(issue.file == project.file and issue.mark in places for issue in issues)


def read_project(
    path: Path, environ: Mapping[str, str] | None = None, needs: Needs = EVERYTHING
) -> tuple[Project, list[ConfigIssue]]:
    """Read a project, returning whatever validated and every problem found.

    Every unset variable is among the problems (see :func:`report_issues` for those ``needs`` uses); a
    section of ``brygga.yaml`` that ``needs`` does not use and that has one (``api`` for a run) is left out.
    """
    reader = _ProjectReader(path.absolute(), os.environ if environ is None else environ, needs)
    return reader.read(), reader.issues


class _ProjectReader:
    def __init__(self, file: Path, environ: Mapping[str, str], needs: Needs) -> None:
        self.file = file
        self.environ = environ
        self.needs = needs
        self.secrets = SecretValues()
        self.issues: list[ConfigIssue] = []
        self.files: list[Path] = [file]

    def read(self) -> Project:
        document = self._parse(self.file)
        data = document.data if document is not None and isinstance(document.data, dict) else {}
        origin = document.source_map if document is not None else SourceMap(self.file)
        settings = None
        if document is not None:
            settings = validate_node(ProjectFile, self._used(data), origin, (), self.issues)
        systems_data = data.get("systems")
        systems = self._systems(systems_data, origin) if isinstance(systems_data, dict) else {}
        if settings is not None:
            self.issues.extend(_webhook_secrets_that_are_tokens(settings, systems, origin))
        project = Project(
            self.file,
            settings or ProjectFile.model_construct(systems={}),
            systems,
            {},
            self.secrets,
            self.files,
            origin,
            unset=[issue for issue in self.issues if isinstance(issue, UnsetVariable)],
        )
        system_names = set(systems_data) if isinstance(systems_data, dict) else set()
        patterns = data.get("mappings", ProjectFile.model_fields["mappings"].get_default(call_default_factory=True))
        sync_paths = sync_files(self.file, patterns, origin, self.issues)
        project.syncs = _SyncReader(self, project, system_names).read(sync_paths)
        self.issues[:] = _without_echoes(self.issues)
        project.unset = [issue for issue in self.issues if isinstance(issue, UnsetVariable)]
        return project

    def _used(self, data: dict[Any, Any]) -> dict[Any, Any]:
        """The project file's data less the sections the command does not use that have an unset variable:
        their text in its place could fail their checks, and then the whole file's settings."""
        unused = {
            issue.location[0]
            for issue in self.issues
            if isinstance(issue, VariableIssue) and issue.file == self.file and issue.location
        }
        unused = {key for key in unused if key != "systems" and not self.needs.uses_section(key)}
        return {key: value for key, value in data.items() if key not in unused}

    # --- files ------------------------------------------------------------

    def _parse(self, file: Path) -> YamlDocument | None:
        text = read_config_text(file, self.issues)
        if text is None:
            return None

        def on_string(value: str, mark: Mark, location: Location) -> str:
            try:
                return interpolate(value, self.environ, self.secrets)
            except UnsetVariableError as exc:
                self.issues.append(UnsetVariable(file, mark, str(exc), exc.name, location))
                return value
            except UnusableVariableError as exc:
                self.issues.append(UnusableVariable(file, mark, str(exc), exc.name, location))
                return value
            except InterpolationError as exc:
                self.issues.append(RootCause(file, mark, str(exc)))
                return value

        document = parse_yaml(file, text, self.issues, on_string)
        if document is not None and document.data is not None and not isinstance(document.data, dict):
            self.issues.append(ConfigIssue(file, START, "expected a mapping of keys at the top of the file"))
            return None
        return document

    # --- systems ----------------------------------------------------------

    def _systems(self, systems: dict[Any, Any], origin: SourceMap) -> dict[str, SystemConfig]:
        loaded: dict[str, SystemConfig] = {}
        for name, raw in systems.items():
            location: Location = ("systems", name)
            if not isinstance(name, str):
                continue  # the project model reported it
            if not is_name(name):
                problem = (
                    f"a system name has {MOST_NAME_CHARACTERS} characters at most, this one {len(name):,}"
                    if len(name) > MOST_NAME_CHARACTERS
                    else f"'{name}' is not a system name: {NAME_HINT}"
                )
                self.issues.append(origin.issue(location, f"systems: {problem}", at_key=True))
                continue
            if not isinstance(raw, dict):
                continue  # the project model reported it
            system = self._system(name, raw, origin, location)
            if system is not None:
                loaded[name] = system
        return loaded

    def _system(self, name: str, raw: dict[str, Any], origin: SourceMap, location: Location) -> SystemConfig | None:
        kind = raw.get("connector")
        model = self._system_model(kind, origin, location)
        if model is None:
            return None
        options = validate_node(model, raw, origin, location, self.issues)
        if options is None:
            return None
        webhook: WebhookConfig | None = getattr(options, "webhook", None)
        for stream in options.streams:
            if not is_name(stream):
                stream_location = (*location, "streams", stream)
                self.issues.append(
                    origin.issue(
                        stream_location, with_path(stream_location, f"not a stream name: {NAME_HINT}"), at_key=True
                    )
                )
        if webhook is not None and webhook.stream not in options.streams:
            where = (*location, "webhook", "stream")
            hint = choice_hint(webhook.stream, sorted(options.streams))
            self.issues.append(
                origin.issue(where, with_path(where, f"no stream '{webhook.stream}' in system {name}: {hint}"))
            )
        if webhook is not None and webhook.fetch and webhook.stream in options.streams:
            problem = options.streams[webhook.stream].fetch_problem()
            if problem is not None:
                where = (*location, "webhook", "fetch")
                self.issues.append(origin.issue(where, with_path(where, f"{webhook.stream}: {problem}")))
        if kind == "webhook" and webhook is not None and webhook.fetch:
            where = (*location, "webhook", "fetch")
            message = "a webhook system cannot fetch records: use fetch with a system that can (rest, sql)"
            self.issues.append(origin.issue(where, with_path(where, message)))
        if kind == "webhook" and webhook is None:
            self.issues.append(
                origin.issue(location, with_path(location, "a webhook system needs a webhook block"), at_key=True)
            )
        return SystemConfig(name, str(kind), options, webhook, origin.prefixed(location), self.file.parent)

    def _system_model(self, kind: Any, origin: SourceMap, location: Location) -> type[SystemOptions] | None:
        where = (*location, "connector")
        installed = installed_kinds()
        if kind is None:
            self.issues.append(
                origin.issue(
                    location, with_path(location, f"missing required key 'connector' (one of: {', '.join(installed)})")
                )
            )
            return None
        if not isinstance(kind, str) or kind not in installed:
            message = f"unknown connector kind '{kind}': {choice_hint(str(kind), installed)}"
            self.issues.append(origin.issue(where, with_path(where, message)))
            return None
        try:
            return system_model(kind)
        except (UnknownKindError, BrokenKindError) as exc:
            self.issues.append(origin.issue(where, with_path(where, str(exc))))
            return None


def _webhook_secrets_that_are_tokens(
    settings: ProjectFile, systems: dict[str, SystemConfig], origin: SourceMap
) -> Iterator[ConfigIssue]:
    """A webhook secret that is also an API token would let whoever sends the webhooks use the API too."""
    tokens = {token.token.get_secret_value(): index for index, token in reversed(list(enumerate(settings.api.tokens)))}
    for name, system in systems.items():
        secret = system.webhook.secret if system.webhook is not None else None
        value = secret.get_secret_value() if secret is not None else ""
        index = tokens.get(value) if value.strip() else None  # a blank one is reported as such
        if index is not None:
            token = settings.api.tokens[index]
            where: Location = ("systems", name, "webhook", "secret")
            message = (
                f"the same value as api.tokens[{index}].token ('{token.name}', {token.role}): whoever sends"
                f" {name}'s webhooks could use the API with it; give each its own"
            )
            yield origin.issue(where, with_path(where, message))


def _without_echoes(issues: list[ConfigIssue]) -> list[ConfigIssue]:
    """The issues, less those at the place of a :class:`RootCause` that would only echo it."""
    causes = {(issue.file, issue.mark) for issue in issues if isinstance(issue, RootCause)}
    return [issue for issue in issues if isinstance(issue, RootCause) or (issue.file, issue.mark) not in causes]


@cache
def system_model(kind: str) -> type[SystemOptions]:
    """The full model of a system of this kind: its options plus ``connector`` and ``webhook``."""
    base = options_model(kind)
    connector: Any = Literal[kind]
    return create_model(
        f"{kind.title().replace('_', '')}System",
        __base__=base,
        __doc__=base.__doc__,
        connector=(connector, Field(description="The connector kind.")),
        webhook=(WebhookConfig | None, Field(None, description="How this system pushes changes to Brygga.")),
    )


class _SyncReader:
    """Reads sync files and checks what they name: systems, streams, other syncs."""

    def __init__(self, reader: _ProjectReader, project: Project, system_names: set[Any]) -> None:
        self.reader = reader
        self.project = project
        self.system_names = system_names
        self.issues = reader.issues

    def read(self, files: list[tuple[Path, Location]]) -> dict[str, AnySync]:
        syncs: dict[str, AnySync] = {}
        all_names: set[str] = set()
        for file, _ in files:
            self.reader.files.append(file)
            self.project.sync_files[file] = file.stem
            document = self.reader._parse(file)
            if document is None:
                all_names.add(file.stem)
                continue
            data = document.data if isinstance(document.data, dict) else {}
            if "name" not in data:
                data["name"] = self._name_of_file(file)
            all_names.add(str(data["name"]))
            self.project.sync_files[file] = str(data["name"])
            for key, message in sync_kind_problems(data):
                self.issues.append(document.source_map.issue((key,), message, at_key=True))
                del data[key]
            model: type[SyncConfig] | type[TwoWaySyncConfig] = TwoWaySyncConfig if "two_way" in data else SyncConfig
            sync = validate_node(model, data, document.source_map, (), self.issues)
            if sync is None:
                self.project.broken_blocks += mapping_blocks(data, document.source_map)
                self._check_broken_streams(data, document.source_map)
                continue
            sync._origin = document.source_map
            if sync.name in syncs:
                self._duplicate(sync, syncs[sync.name])
                continue
            syncs[sync.name] = sync
        for sync in syncs.values():
            self._check_references(sync, syncs, all_names)
        return syncs

    def _name_of_file(self, file: Path) -> str:
        """The name of a sync without ``name:``: its file's stem, made valid (with an issue) if it is not."""
        if is_sync_name(file.stem):
            return file.stem
        message = (
            f"the file name '{file.stem}' is no sync name, and a sync without name: is named after its file:"
            f" rename the file, or add a name: line ({SYNC_NAME_HINT})"
        )
        self.issues.append(ConfigIssue(file, START, message))
        return ("unnamed-" + re.sub(r"[^A-Za-z0-9_.-]", "-", file.stem))[:MOST_NAME_CHARACTERS]

    def _duplicate(self, sync: AnySync, first: AnySync) -> None:
        other = os.path.relpath(first.origin.file, self.project.root)
        if first.origin.has(("name",)):
            mark = first.origin.value_mark(("name",))
            where = f"also {other}:{mark.line}:{mark.col}"
        else:
            where = f"also {other}, named after its file"
        self.issues.append(
            sync.origin.issue(("name",), f"name: duplicate sync name '{sync.name}' ({where}): rename one")
        )

    def _check_references(self, sync: AnySync, syncs: dict[str, AnySync], all_names: set[str]) -> None:
        if isinstance(sync, TwoWaySyncConfig):
            self._check_two_way(sync, syncs)
        else:
            self._check_one_way(sync, all_names)
        if sync.after is not None:
            self._check_sync_name(sync, ("after",), sync.after, all_names)
            if sync.after == sync.name:
                self.issues.append(sync.origin.issue(("after",), "after: a sync cannot run after itself"))
            elif _after_cycle(sync, syncs):
                self.issues.append(
                    sync.origin.issue(("after",), f"after: '{sync.after}' leads back to {sync.name}: break the cycle")
                )
        if sync.webhook:
            self._check_webhook(sync)

    def _check_one_way(self, sync: SyncConfig, all_names: set[str]) -> None:
        self._check_stream(sync.origin, "source", sync.source_system, sync.source_stream)
        if self._check_stream(sync.origin, "target", sync.target_system, sync.target_stream):
            self._check_target(sync)
        for field_name, mapping in sync.fields.items():
            if mapping.lookup is not None:
                self._check_sync_name(sync, ("fields", field_name, "lookup", "sync"), mapping.lookup.sync, all_names)
        for index, test in enumerate(sync.tests):
            for name in test.lookups:
                self._check_sync_name(sync, ("tests", index, "lookups", name), str(name), all_names)

    def _check_two_way(self, sync: TwoWaySyncConfig, syncs: dict[str, AnySync]) -> None:
        """Both streams exist and can be written by key; each block's fields are its stream's own."""
        block = sync.two_way
        for direction in DIRECTIONS:
            side = target_side(direction)
            stream_ref = sync.stream(side)
            system_name, _, stream = stream_ref.partition(".")
            where: Location = ("two_way", side)
            if not self._check_stream(sync.origin, "two_way", system_name, stream, where):
                continue
            options = self.project.systems[system_name].options
            fields = list(sync.fields_of(direction))
            for problem in options.field_problems(stream, fields):
                self.issues.append(sync.origin.issue(where, f"two_way.{side}: {stream_ref}: {problem.message}"))
            fetch = options.streams[stream].fetch_problem()
            if fetch is not None:  # each touched pair's records are fetched by key from both sides
                self.issues.append(sync.origin.issue(where, f"two_way.{side}: {stream_ref}: {fetch}"))
            mode: Mode = "mirror" if side in block.delete_in else "upsert"
            for problem in options.target_problems(stream, mode):
                self.issues.append(sync.origin.issue(where, f"two_way.{side}: {stream_ref}: {problem.message}"))
            key = options.streams[stream].key
            for field_name in (name for name in fields if name not in key):  # keys are only written on create
                for other in _writers_of(syncs, stream_ref, field_name, sync.name):
                    message = (
                        f"{direction}.{field_name}: sync {other} writes {field_name} into {stream_ref} too: two syncs"
                        " writing one field overwrite each other; leave it to one"
                    )
                    self.issues.append(sync.origin.issue((direction, field_name), message, at_key=True))
        for direction in DIRECTIONS:
            for field_name, mapping in sync.fields_of(direction).items():
                if mapping.lookup is not None:
                    self._check_two_way_lookup(sync, direction, field_name, mapping.lookup.sync, syncs)

    def _check_two_way_lookup(
        self, sync: TwoWaySyncConfig, direction: Direction, field_name: str, name: str, syncs: dict[str, AnySync]
    ) -> None:
        """A lookup of a two-way sync asks a sync that links the two systems, one way or the other: forward it
        gives the target key of the key found here, in reverse the source key linked with it."""
        location: Location = (direction, field_name, "lookup", "sync")
        other = syncs.get(name)
        if other is None:
            self._check_sync_name(sync, location, name, set(syncs))
            return
        if lookup_way(sync, direction, other) is not None:
            return
        reads = sync.stream(other_side(target_side(direction))).partition(".")[0]
        writes = sync.stream(target_side(direction)).partition(".")[0]
        message = (
            f"{dotted(location)}: sync {name} links {other.source_system} to {other.target_system}, but"
            f" {direction} reads {reads} and writes {writes}: a lookup here needs a sync between {reads} and"
            f" {writes} (either way; a lookup in {direction} gives a key of {writes})"
        )
        self.issues.append(sync.origin.issue(location, message))

    def _check_stream(
        self, origin: SourceMap, key: str, system_name: str, stream: str, where: Location | None = None
    ) -> bool:
        """Whether the system and its stream exist; an issue (in ``origin``'s file) where not."""
        location: Location = where or (key,)
        key = dotted(location)
        if system_name not in self.system_names:
            known = sorted(str(name) for name in self.system_names)
            message = (
                f"no system '{system_name}': {choice_hint(system_name, known)}"
                if known
                else f"no system '{system_name}' in the project"
            )
            self.issues.append(origin.issue(location, f"{key}: {message}"))
            return False
        system = self.project.systems.get(system_name)
        if system is None:
            message = f"{key}: system '{system_name}' has errors (above); its stream '{stream}' could not be checked"
            self.issues.append(Unchecked(origin.file, origin.value_mark(location), message, system_name))
            return False
        if stream not in system.options.streams:
            hint = choice_hint(stream, sorted(system.options.streams))
            self.issues.append(origin.issue(location, f"{key}: system {system_name} has no stream '{stream}': {hint}"))
            return False
        return True

    def _check_broken_streams(self, data: dict[str, Any], origin: SourceMap) -> None:
        """The ``source`` and ``target`` of a one-way sync file that failed validation (a misspelt ``mode``),
        where each is written soundly: SPEC 2 wants every error at once, not this one once the rest is mended."""
        if "two_way" in data:
            return
        for key in ("source", "target"):
            if (parts := stream_parts(data.get(key))) is not None:
                self._check_stream(origin, key, *parts)

    def _check_target(self, sync: SyncConfig) -> None:
        """What the target stream's config says it cannot take from this sync."""
        system = self.project.systems[sync.target_system]
        for problem in system.options.field_problems(sync.target_stream, list(sync.fields)):
            self.issues.append(sync.origin.issue(("target",), f"target: {sync.target}: {problem.message}"))
        for problem in system.options.target_problems(sync.target_stream, sync.mode):
            if problem.about_mode and sync.origin.has(("mode",)):
                issue = sync.origin.issue(("mode",), f"mode: {sync.mode}: {problem.message}")
            else:
                issue = sync.origin.issue(("target",), f"target: {sync.target}: {problem.message}")
            self.issues.append(issue)

    def _check_sync_name(self, sync: AnySync, location: Location, name: str, all_names: set[str]) -> None:
        if name not in all_names:
            guess = closest(name, sorted(all_names))
            hint = f" (did you mean '{guess}'?)" if guess else ""
            self.issues.append(sync.origin.issue(location, f"{dotted(location)}: no sync named '{name}'{hint}"))

    def _check_webhook(self, sync: AnySync) -> None:
        if isinstance(sync, TwoWaySyncConfig):
            self._check_two_way_webhook(sync)
            return
        system = self.project.systems.get(sync.source_system)
        if system is None:
            return
        if system.webhook is None or system.webhook.stream != sync.source_stream:
            message = (
                f"webhook: system {sync.source_system} has no webhook block for stream {sync.source_stream}:"
                " add one, or remove webhook: true"
            )
            self.issues.append(sync.origin.issue(("webhook",), message))

    def _check_two_way_webhook(self, sync: TwoWaySyncConfig) -> None:
        """``webhook: true`` needs a webhook block on at least one side's stream."""
        for side in ("a", "b"):
            system_name, _, stream = sync.stream(side).partition(".")
            system = self.project.systems.get(system_name)
            if system is None or (system.webhook is not None and system.webhook.stream == stream):
                return
        message = (
            f"webhook: neither {sync.two_way.a} nor {sync.two_way.b} has a webhook block for its stream:"
            " add one, or remove webhook: true"
        )
        self.issues.append(sync.origin.issue(("webhook",), message))


def _writers_of(syncs: dict[str, AnySync], stream: str, field_name: str, besides: str) -> Iterator[str]:
    """The other syncs that write ``field_name`` into ``stream``."""
    for name, other in syncs.items():
        if name == besides:
            continue
        if isinstance(other, TwoWaySyncConfig):
            written = [
                other.fields_of(direction) for direction in DIRECTIONS if other.stream(target_side(direction)) == stream
            ]
            if any(field_name in fields for fields in written):
                yield name
        elif other.target == stream and field_name in other.fields:
            yield name


def _after_cycle(sync: AnySync, syncs: dict[str, AnySync]) -> bool:
    seen = {sync.name}
    current = syncs.get(sync.after or "")
    while current is not None and current.after is not None:
        if current.after in seen:
            return current.after == sync.name
        seen.add(current.after)
        current = syncs.get(current.after)
    return False
