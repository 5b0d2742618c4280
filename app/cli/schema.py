"""Commands that describe Brygga itself, with no project: schema, connectors."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from typing import Annotated

import typer

from app.cli.app import ConfigOption, cli
from app.cli.output import output
from app.config import installed_kinds, project_schema, sync_schema


class SchemaKind(StrEnum):
    project = "project"
    sync = "sync"


@cli.command()
def schema(
    kind: Annotated[
        SchemaKind, typer.Argument(help="project (brygga.yaml) or sync (a mappings/ file).")
    ] = SchemaKind.project,
    config: ConfigOption = None,  # taken as by every command (SPEC 6); the schema is the same
) -> None:
    """Print the JSON Schema of brygga.yaml or of a sync file, for editor completion."""
    document = project_schema() if kind is SchemaKind.project else sync_schema()
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


@cli.command("connectors")
def list_connectors(
    config: ConfigOption = None,  # taken as by every command (SPEC 6); the kinds installed
) -> None:
    """List the installed connector kinds."""
    for kind in installed_kinds():
        output.say(kind)
