"""Open a project for work: read every file, compile every mapping, report all problems at once."""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from app.config import (
    DIRECTIONS,
    EVERYTHING,
    ConfigIssue,
    Direction,
    Needs,
    Project,
    SyncConfig,
    TwoWaySyncConfig,
    keep_warnings,
    read_project,
    report_issues,
    reverse_lookups,
)
from app.engine.key_look_ups import look_up_issues
from app.errors import ConfigError
from app.mapping import CompiledMapping, PathSyntaxError, compile_mapping, parse_path


@dataclass
class Workspace:
    """A validated project with its mappings compiled, ready to test, preview or run."""

    project: Project
    mappings: dict[str, CompiledMapping] = field(default_factory=dict)
    """One-way syncs' mappings, by sync name."""
    directions: dict[str, dict[Direction, CompiledMapping]] = field(default_factory=dict)
    """Two-way syncs' mappings, by sync name and direction."""


def open_workspace(path: Path, environ: Mapping[str, str] | None = None, needs: Needs = EVERYTHING) -> Workspace:
    """Read the project at ``path`` and compile its syncs' mappings, for a command that uses what
    ``needs`` names: an unset ``${VAR}`` elsewhere is no error (SPEC 6).

    :raises ConfigError: with every problem of every file, in file order
    """
    project, issues = read_project(path, os.environ if environ is None else environ, needs)
    mappings, compile_issues = compile_mappings(project)
    directions, direction_issues = compile_directions(project)
    found = issues + compile_issues + direction_issues + webhook_issues(project) + look_up_issues(project)
    reported = report_issues(found, project, needs)
    return Workspace(keep_warnings(project, reported), mappings, directions)


def compile_mappings(project: Project) -> tuple[dict[str, CompiledMapping], list[ConfigIssue]]:
    """Compile every sync whose source stream is known; collect the problems of all."""
    mappings: dict[str, CompiledMapping] = {}
    issues: list[ConfigIssue] = []
    for name, sync in project.syncs.items():
        if not isinstance(sync, SyncConfig):
            continue
        try:
            mappings[name] = _compile(project, sync)
        except ConfigError as exc:
            issues.extend(exc.issues)
    for block in project.broken_blocks:  # a sync that failed validation: its blocks' own errors, all at once
        try:
            compile_mapping(block, ())
        except ConfigError as exc:
            issues.extend(exc.issues)
    return mappings, issues


def compile_directions(project: Project) -> tuple[dict[str, dict[Direction, CompiledMapping]], list[ConfigIssue]]:
    """Compile both directions of every two-way sync; collect the problems of all."""
    compiled: dict[str, dict[Direction, CompiledMapping]] = {}
    issues: list[ConfigIssue] = []
    for name, sync in project.syncs.items():
        if not isinstance(sync, TwoWaySyncConfig):
            continue
        both: dict[Direction, CompiledMapping] = {}
        for direction in DIRECTIONS:
            try:
                reverse = reverse_lookups(sync, direction, project.syncs)
                both[direction] = _compile(project, sync.direction(direction), reverse)
            except ConfigError as exc:
                issues.extend(exc.issues)
        if len(both) == len(DIRECTIONS):
            compiled[name] = both
    return compiled, issues


def _compile(project: Project, sync: SyncConfig, reverse_lookups: Collection[str] = ()) -> CompiledMapping:
    system = project.systems.get(sync.source_system)
    stream = system.options.streams.get(sync.source_stream) if system is not None else None
    key = stream.key if stream is not None else ("id",)
    return compile_mapping(sync, key, reverse_lookups=reverse_lookups)


def webhook_issues(project: Project) -> list[ConfigIssue]:
    """Problems in the webhook blocks' ``records`` paths and ``delete_when`` expressions."""
    issues: list[ConfigIssue] = []
    for system in project.systems.values():
        webhook = system.webhook
        if webhook is None:
            continue
        where = system.origin
        if webhook.records is not None:
            try:
                parse_path(webhook.records)
            except PathSyntaxError as exc:
                issues.append(where.issue(("webhook", "records"), f"systems.{system.name}.webhook.records: {exc}"))
        if webhook.delete_when is not None:
            from app.mapping import ExpressionSyntaxError, compile_condition  # noqa: PLC0415 - Jinja2, for expressions only

            try:
                compile_condition(webhook.delete_when, variable="event")
            except ExpressionSyntaxError as exc:
                message = f"systems.{system.name}.webhook.delete_when: {exc}"
                issues.append(where.issue(("webhook", "delete_when"), message))
    return issues
