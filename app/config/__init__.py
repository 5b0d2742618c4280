"""Config loading: the project file, systems, syncs, and errors with FILE:LINE:COL.

Names are imported from their modules on first use (PEP 562), so ``from app.config import SecretValues``
costs the secrets module alone, not pydantic's models of every config file: the CLI prints its help
and scrubs secrets without building them. A new public name goes into ``_MODULES`` and the
``TYPE_CHECKING`` imports below.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__all__ = [
    "EVERYTHING",
    "AnySync",
    "ConfigIssue",
    "ConfigModel",
    "ConfigWarning",
    "Deprecated",
    "Duration",
    "FieldMapping",
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
    "RetryPolicy",
    "SecretValues",
    "Step",
    "StreamOptions",
    "StringList",
    "SyncConfig",
    "SyncTest",
    "SystemConfig",
    "SystemOptions",
    "TargetProblem",
    "TwoWaySyncConfig",
    "UnsetVariable",
    "WebhookConfig",
    "check_url_port",
    "find_project_file",
    "format_path",
    "keep_warnings",
    "load_project",
    "old_dotted_form",
    "parse_duration",
    "parse_path",
    "read_project",
    "report_issues",
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
        check_url_port,
        parse_duration,
    )
    from app.config.issues import ConfigIssue, ConfigWarning, Mark, UnsetVariable
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
    from app.config.secrets import SecretValues
    from app.config.sync import FieldMapping, Lookup, Mode, RetryPolicy, SyncConfig, SyncTest
    from app.config.systems import StreamOptions, SystemConfig, SystemOptions, TargetProblem, WebhookConfig
    from app.config.two_way import AnySync, TwoWaySyncConfig

_MODULES = {
    "app.config.base": (
        "ConfigModel",
        "Deprecated",
        "Duration",
        "KeyFields",
        "Location",
        "Problem",
        "StringList",
        "check_url_port",
        "parse_duration",
    ),
    "app.config.issues": ("ConfigIssue", "ConfigWarning", "Mark", "UnsetVariable"),
    "app.config.needs": ("EVERYTHING", "Needs"),
    "app.config.paths": ("PathSyntaxError", "Step", "format_path", "old_dotted_form", "parse_path"),
    "app.config.loader": (
        "Project",
        "find_project_file",
        "keep_warnings",
        "load_project",
        "read_project",
        "report_issues",
        "system_model",
    ),
    "app.config.project": ("HttpUrl", "ProjectFile"),
    "app.config.secrets": ("SecretValues",),
    "app.config.sync": ("FieldMapping", "Lookup", "Mode", "RetryPolicy", "SyncConfig", "SyncTest"),
    "app.config.systems": ("StreamOptions", "SystemConfig", "SystemOptions", "TargetProblem", "WebhookConfig"),
    "app.config.two_way": ("AnySync", "TwoWaySyncConfig"),
}
_HOME = {name: module for module, names in _MODULES.items() for name in names}


def __getattr__(name: str) -> Any:
    """A public name, imported from its module the first time it is asked for."""
    try:
        module = _HOME[name]
    except KeyError:
        raise AttributeError(f"module 'app.config' has no attribute '{name}'") from None
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOME))
