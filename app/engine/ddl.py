"""The CREATE TABLE a sync's SQL target needs (``brygga ddl``), for the admin to review and run.

The columns come from the sync: each mapped field with its ``type:``, the
target stream's key (its primary key), its ``cursor`` column and its
soft-delete column. A ``lookup`` field takes the type of the key the other sync
writes. Brygga never runs the statement: tables in business systems are the
admin's (SPEC 4). SQLAlchemy is imported only when a statement is asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.config import FieldMapping, FieldType, Project, SyncConfig
from app.errors import UsageError

if TYPE_CHECKING:
    from connectors.sql.config import SqlStream
    from connectors.sql.ddl import ColumnPlan


class NoTableToDescribe(UsageError):
    """The sync's target is not a table of an ``sql`` system: there is no CREATE TABLE to give."""


def create_table_statement(project: Project, sync: str) -> str:
    """The CREATE TABLE for the target of ``sync`` (a sync of ``project``), headed by comments saying what it is.

    :raises NoTableToDescribe: when the target is not an ``sql`` system, or is a read-only query
    """
    from connectors.sql.config import SqlSystem  # noqa: PLC0415 (SQLAlchemy only for this command)
    from connectors.sql.ddl import create_table  # noqa: PLC0415

    chosen = project.syncs[sync]
    if not isinstance(chosen, SyncConfig):
        raise NoTableToDescribe(
            f"sync '{sync}' is a two-way sync: both its tables exist already, so there is nothing to describe"
        )
    system = project.systems[chosen.target_system]
    if not isinstance(system.options, SqlSystem):
        raise NoTableToDescribe(
            f"sync '{sync}' writes to {chosen.target}, a {system.connector} system: `brygga ddl` describes"
            " tables of sql systems only"
        )
    stream = system.options.streams[chosen.target_stream]
    if stream.table is None:
        raise NoTableToDescribe(
            f"{chosen.target} is a read-only query, not a table: give the stream a table to write to"
        )
    return (
        f"-- The table that sync '{sync}' writes to ({chosen.target}), for {system.connector} system"
        f" '{system.name}'.\n-- Review it (types, lengths, NOT NULL), then run it yourself: Brygga never creates"
        " tables.\n" + create_table(system.options.url, stream.table, columns(project, chosen, stream)).rstrip("\n")
    )


def _field_type(project: Project, field: FieldMapping) -> FieldType | None:
    """The field's type word; for a lookup, the type of the target key the other sync writes."""
    if field.lookup is None or field.type is not None:
        return field.type
    other = project.syncs.get(field.lookup.sync)
    if not isinstance(other, SyncConfig):
        return None
    key = project.systems[other.target_system].stream(other.target_stream).key
    return other.fields[key[0]].type if len(key) == 1 and key[0] in other.fields else None


def columns(project: Project, sync: SyncConfig, stream: SqlStream) -> list[ColumnPlan]:
    """The target table's columns: key fields first, then the mapped fields, then cursor and soft delete."""
    from connectors.sql.ddl import ColumnPlan  # noqa: PLC0415 (SQLAlchemy only for this command)

    types = {name: _field_type(project, field) for name, field in sync.fields.items()}
    plans = [ColumnPlan(name, types.get(name), key=True) for name in stream.key]
    plans += [
        ColumnPlan(name, kind, required=sync.fields[name].required)
        for name, kind in types.items()
        if name not in stream.key
    ]
    named = {plan.name for plan in plans}
    extra = [stream.cursor, stream.delete.soft if stream.delete is not None else None]
    plans += [ColumnPlan(name, "datetime") for name in dict.fromkeys(extra) if name is not None and name not in named]
    return plans
