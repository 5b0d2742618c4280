"""The mapping blocks of a sync file that failed validation, kept for the mapping compiler to check.

A misspelt ``mode`` leaves no :class:`SyncConfig`, and the compiler, which finds
unknown transforms and broken expressions, had nothing to compile: those errors
showed only once the rest was mended. SPEC 2 wants every error at once, so each
``fields`` (or ``to_a``/``to_b``) block that is sound by itself is kept as a
stand-in sync holding just that block and its ``where``.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import TypeAdapter, ValidationError

from app.config.sync import FieldSpec, SyncConfig
from app.config.two_way import DIRECTIONS, TwoWayFieldSpec, other_side, target_side
from app.config.yaml_source import SourceMap


@cache
def _fields_adapter(two_way: bool) -> TypeAdapter[Any]:
    """A validator of a mapping block's fields, made when a sync file first fails (~20 ms, which every
    command that loads the project paid as this module was imported; issue 22)."""
    return TypeAdapter(dict[str, TwoWayFieldSpec] if two_way else dict[str, FieldSpec])


def mapping_blocks(data: dict[str, Any], origin: SourceMap) -> list[SyncConfig]:
    """Stand-ins for the sound mapping blocks of sync file ``data`` (one that failed validation as a
    whole); a block that is not sound is left out: validation reported it."""
    name = data.get("name")
    name = name if isinstance(name, str) else origin.file.stem
    if "two_way" not in data:
        where = data.get("where")
        block = _stand_in(
            name,
            data.get("fields"),
            where,
            origin,
            adapter=_fields_adapter(two_way=False),
            fields_at="fields",
            where_at=("where",),
        )
        return [block] if block is not None else []
    blocks = []
    found = data.get("where")
    sides_where: dict[str, Any] = found if isinstance(found, dict) else {}
    for direction in DIRECTIONS:
        side = other_side(target_side(direction))
        where = sides_where.get(side)
        block = _stand_in(
            name,
            data.get(direction),
            where,
            origin,
            adapter=_fields_adapter(two_way=True),
            fields_at=direction,
            where_at=("where", side),
        )
        if block is not None:
            blocks.append(block)
    return blocks


def _stand_in(
    name: str, fields: Any, where: Any, origin: SourceMap, *,
    adapter: TypeAdapter[Any], fields_at: str, where_at: tuple[str, ...],
) -> SyncConfig | None:  # fmt: skip
    if not isinstance(fields, dict) or not fields:
        return None
    try:
        sound = adapter.validate_python(fields)
    except ValidationError:
        return None
    stand_in = SyncConfig.model_construct(
        name=name, source="?.?", target="?.?", mode="upsert", where=where if isinstance(where, str) else None,
        fields=dict(sound), tests=[], schedule=None, webhook=False, after=None, description="",
    )  # fmt: skip
    stand_in._origin = origin
    stand_in._fields_at = fields_at
    stand_in._where_at = where_at
    return stand_in
