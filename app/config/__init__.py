"""Config loading: the project file, systems, syncs, and errors with FILE:LINE:COL."""

from app.config.base import (
    ConfigModel,
    Duration,
    KeyFields,
    Location,
    Problem,
    StringList,
    check_url_port,
    parse_duration,
)
from app.config.issues import ConfigIssue, Mark, UnsetVariable
from app.config.loader import Project, find_project_file, load_project, read_project, report_issues, system_model
from app.config.needs import EVERYTHING, Needs
from app.config.project import HttpUrl, ProjectFile
from app.config.secrets import SecretValues
from app.config.sync import FieldMapping, Lookup, Mode, RetryPolicy, SyncConfig, SyncTest
from app.config.systems import StreamOptions, SystemConfig, SystemOptions, TargetProblem, WebhookConfig

__all__ = [
    "EVERYTHING",
    "ConfigIssue",
    "ConfigModel",
    "Duration",
    "FieldMapping",
    "HttpUrl",
    "KeyFields",
    "Location",
    "Lookup",
    "Mark",
    "Mode",
    "Needs",
    "Problem",
    "Project",
    "ProjectFile",
    "RetryPolicy",
    "SecretValues",
    "StreamOptions",
    "StringList",
    "SyncConfig",
    "SyncTest",
    "SystemConfig",
    "SystemOptions",
    "TargetProblem",
    "UnsetVariable",
    "WebhookConfig",
    "check_url_port",
    "find_project_file",
    "load_project",
    "parse_duration",
    "read_project",
    "report_issues",
    "system_model",
]
