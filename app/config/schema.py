"""JSON Schemas of ``brygga.yaml`` and of a sync file, for editor completion (``brygga schema``)."""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import BaseModel, Field, create_model

from app.config.kinds import BrokenKindError, installed_kinds
from app.config.loader import system_model
from app.config.project import ProjectFile
from app.config.sync import SyncConfig
from app.config.two_way import TwoWaySyncConfig

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def project_schema() -> dict[str, Any]:
    """The schema of ``brygga.yaml``, with each installed connector kind's options."""
    models = []
    for kind in installed_kinds():
        try:
            models.append(system_model(kind))
        except BrokenKindError:
            continue  # `brygga validate` reports it where a project uses it
    system: Any = Annotated[Union[tuple(models)], Field(discriminator="connector")]  # noqa: UP007
    project: type[BaseModel] = create_model(
        "BryggaProject",
        __base__=ProjectFile,
        __doc__="A Brygga project file (brygga.yaml).",
        systems=(dict[str, system], Field(description="The business systems, by name.")),
    )
    return _finish(project.model_json_schema(by_alias=True), "Brygga project (brygga.yaml)")


def sync_schema() -> dict[str, Any]:
    """The schema of one sync file in ``mappings/``."""
    one_way = SyncConfig.model_json_schema(by_alias=True)
    two_way = TwoWaySyncConfig.model_json_schema(by_alias=True)
    definitions = {**one_way.pop("$defs", {}), **two_way.pop("$defs", {})}
    both = {
        "description": "A sync: one-way (source, target, fields) or two-way (two_way, to_a, to_b).",
        "anyOf": [one_way, two_way],
        "$defs": definitions,
    }
    return _finish(both, "Brygga sync (mappings/*.yaml)")


def _finish(schema: dict[str, Any], title: str) -> dict[str, Any]:
    return {"$schema": DIALECT, **schema, "title": title}
