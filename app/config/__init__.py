"""Config loading: the project file, systems, syncs, and errors with FILE:LINE:COL.

Names are imported from their modules on first use (PEP 562), so ``from app.config import SecretValues``
costs the secrets module alone, not pydantic's models of every config file: the CLI prints its help
and scrubs secrets without building them. A new public name goes into ``_MODULES`` and the
``TYPE_CHECKING`` imports below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.lazy_names import lazy_names

__all__ = [
    "DIRECTIONS",
    "EVERYTHING",
    "REDACTED",
    "SIDES",
    "AnySync",
    "BrokenKindError",
    "ConfigIssue",
    "ConfigModel",
    "ConfigWarning",
    "Deprecated",
    "Direction",
    "Duration",
    "FieldMapping",
    "FieldType",
    "HttpUrl",
    "KeyFields",
    "Location",
    "Lookup",
    "Mark",
    "Mode",
    "Needs",
    "PathSyntaxError",
    "Problem",
    "Project",
    "ProjectFile",
    "RedactingFilter",
    "RetryPolicy",
    "SecretValues",
    "Side",
    "Step",
    "StreamOptions",
    "StringList",
    "SyncConfig",
    "SyncTest",
    "SystemConfig",
    "SystemOptions",
    "TargetProblem",
    "TwoWaySyncConfig",
    "UnknownKindError",
    "UnsetVariable",
    "WebhookConfig",
    "WholeNumber",
    "Winner",
    "bearer_token",
    "check_url_port",
    "closest",
    "cron_trigger",
    "dotted",
    "find_project_file",
    "format_duration",
    "format_path",
    "installed_kinds",
    "keep_warnings",
    "load_kind",
    "load_project",
    "old_dotted_form",
    "options_alone",
    "parse_duration",
    "parse_path",
    "project_schema",
    "read_project",
    "report_issues",
    "reverse_lookups",
    "sync_schema",
    "system_model",
]

if TYPE_CHECKING:
    from app.config.base import (
        ConfigModel,
        Deprecated,
        Duration,
        KeyFields,
        Location,
        Problem,
        StringList,
        WholeNumber,
        check_url_port,
        format_duration,
        parse_duration,
    )
    from app.config.credentials import bearer_token
    from app.config.cron import cron_trigger
    from app.config.issues import ConfigIssue, ConfigWarning, Mark, UnsetVariable
    from app.config.kinds import BrokenKindError, UnknownKindError, installed_kinds, load_kind, options_alone
    from app.config.loader import (
        Project,
        find_project_file,
        keep_warnings,
        load_project,
        read_project,
        report_issues,
        system_model,
    )
    from app.config.needs import EVERYTHING, Needs
    from app.config.paths import PathSyntaxError, Step, format_path, old_dotted_form, parse_path
    from app.config.project import HttpUrl, ProjectFile
    from app.config.schema import project_schema, sync_schema
    from app.config.secrets import REDACTED, RedactingFilter, SecretValues
    from app.config.sync import FieldMapping, FieldType, Lookup, Mode, RetryPolicy, SyncConfig, SyncTest
    from app.config.systems import StreamOptions, SystemConfig, SystemOptions, TargetProblem, WebhookConfig
    from app.config.two_way import (
        DIRECTIONS,
        SIDES,
        AnySync,
        Direction,
        Side,
        TwoWaySyncConfig,
        Winner,
        reverse_lookups,
    )
    from app.config.validation import closest, dotted

_MODULES = {
    "app.config.base": (
        "ConfigModel",
        "Deprecated",
        "Duration",
        "KeyFields",
        "Location",
        "Problem",
        "StringList",
        "WholeNumber",
        "check_url_port",
        "format_duration",
        "parse_duration",
    ),
    "app.config.credentials": ("bearer_token",),
    "app.config.cron": ("cron_trigger",),
    "app.config.issues": (
        "ConfigIssue",
        "ConfigWarning",
        "Mark",
        "UnsetVariable",
    ),
    "app.config.needs": (
        "EVERYTHING",
        "Needs",
    ),
    "app.config.paths": (
        "PathSyntaxError",
        "Step",
        "format_path",
        "old_dotted_form",
        "parse_path",
    ),
    "app.config.loader": (
        "Project",
        "find_project_file",
        "keep_warnings",
        "load_project",
        "read_project",
        "report_issues",
        "system_model",
    ),
    "app.config.project": (
        "HttpUrl",
        "ProjectFile",
    ),
    "app.config.secrets": (
        "REDACTED",
        "RedactingFilter",
        "SecretValues",
    ),
    "app.config.sync": (
        "FieldMapping",
        "FieldType",
        "Lookup",
        "Mode",
        "RetryPolicy",
        "SyncConfig",
        "SyncTest",
    ),
    "app.config.systems": (
        "StreamOptions",
        "SystemConfig",
        "SystemOptions",
        "TargetProblem",
        "WebhookConfig",
    ),
    "app.config.two_way": (
        "AnySync",
        "DIRECTIONS",
        "Direction",
        "SIDES",
        "Side",
        "TwoWaySyncConfig",
        "Winner",
        "reverse_lookups",
    ),
    "app.config.kinds": (
        "BrokenKindError",
        "UnknownKindError",
        "installed_kinds",
        "load_kind",
        "options_alone",
    ),
    "app.config.schema": (
        "project_schema",
        "sync_schema",
    ),
    "app.config.validation": (
        "closest",
        "dotted",
    ),
}
__getattr__, __dir__ = lazy_names(__name__, _MODULES, globals())
