"""A two-way sync file (SPEC 3.1): two streams, each read and written, kept true to each other.

A two-way sync is two directions over one ID map: ``to_b`` maps a record of
``a`` into ``b``'s fields, ``to_a`` the other way. Each direction is checked,
compiled and tested as a one-way sync would be (:meth:`TwoWaySyncConfig.direction`
gives it as one), so every field form of section 3 works in both blocks.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, PrivateAttr

from app.config.base import ConfigModel, Problem
from app.config.sync import (
    FieldMapping,
    RetryPolicy,
    Schedule,
    StreamRef,
    SyncConfig,
    SyncName,
    SyncTest,
    _field_shorthand,
)
from app.config.yaml_source import SourceMap

Side = Literal["a", "b"]
Winner = Literal["a", "b", "newest"]
Direction = Literal["to_a", "to_b"]
LookupWay = Literal["forward", "reverse"]
DIRECTIONS: tuple[Direction, Direction] = ("to_a", "to_b")
SIDES: tuple[Side, Side] = ("a", "b")
ONE_WAY_KEYS = ("source", "target", "fields", "mode")
TWO_WAY_KEYS = ("two_way", "to_a", "to_b")


def target_side(direction: Direction) -> Side:
    """The side a direction writes: ``to_a`` writes ``a``."""
    return "a" if direction == "to_a" else "b"


def other_side(side: Side) -> Side:
    return "b" if side == "a" else "a"


class TwoWayField(FieldMapping):
    """A field of ``to_a`` or ``to_b``: any field form, plus whose value stands in a conflict on it."""

    wins: Winner | None = Field(None, description="a, b or newest: overrides the sync's `wins` for this field.")


TwoWayFieldSpec = Annotated[
    TwoWayField,
    BeforeValidator(_field_shorthand, json_schema_input_type=str | TwoWayField),
]


class Newest(ConfigModel):
    """Each side's change-time field, compared when ``wins: newest``."""

    a: str = Field(description="The field of a's records that holds when the record last changed.")
    b: str = Field(description="The field of b's records that holds when the record last changed.")


class TwoWayBlock(ConfigModel):
    """The two streams and how they are kept true to each other."""

    a: StreamRef = Field(description="SYSTEM.STREAM of one side; read and written.")
    b: StreamRef = Field(description="SYSTEM.STREAM of the other side; read and written.")
    wins: Winner = Field("a", description="Whose value stands when a field changed on both sides: a, b or newest.")
    newest: Newest | None = Field(None, description="With wins: newest, each side's change-time field.")
    create_in: list[Side] = Field(
        default_factory=lambda: list[Side](("a", "b")), description="Where records new on the other side are created."
    )
    delete_in: list[Side] = Field(
        default_factory=list, description="Where deletes on the other side are carried out (default none)."
    )

    def own_problems(self) -> Iterator[Problem]:
        if self.a == self.b:
            yield Problem(("b",), f"a and b are the same stream ({self.a}): a two-way sync joins two streams")
        for key in ("create_in", "delete_in"):
            sides: list[str] = getattr(self, key)
            if len(set(sides)) < len(sides):
                yield Problem((key,), "a side is named twice")


class SidesWhere(ConfigModel):
    """Which records of each side take part; the others are left alone."""

    a: str | None = Field(None, description="An expression over a's record: false leaves it out.")
    b: str | None = Field(None, description="An expression over b's record: false leaves it out.")


class TwoWayTest(SyncTest):
    """A mapping test of one direction."""

    direction: Direction = Field(description="to_b: input is a record of a; to_a: input is a record of b.")


class TwoWaySyncConfig(ConfigModel):
    """One two-way sync: two streams, each edited by people, both kept true (SPEC 3.1)."""

    name: SyncName = Field("", description="The sync's name; default the file's stem.")
    description: str = Field("", description="What the sync is for, in words.")
    two_way: TwoWayBlock = Field(description="The two streams, and who wins a conflict.")
    schedule: Schedule | None = Field(None, description="When to run by itself; none: manual and webhook runs only.")
    webhook: bool = Field(False, description="Also process either stream's webhook events at once.")
    after: str | None = Field(None, description="Run right after this sync's run succeeds.")
    where: SidesWhere = Field(default_factory=SidesWhere, description="Per side, which records take part.")
    to_b: dict[str, TwoWayFieldSpec] = Field(min_length=1, description="b's field → how to fill it from a's record.")
    to_a: dict[str, TwoWayFieldSpec] = Field(min_length=1, description="a's field → how to fill it from b's record.")
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    tests: list[TwoWayTest] = Field(default_factory=list)

    _origin: SourceMap | None = PrivateAttr(None)

    def own_problems(self) -> Iterator[Problem]:
        block = self.two_way
        uses_newest = block.wins == "newest" or any(
            spec.wins == "newest" for spec in (*self.to_a.values(), *self.to_b.values())
        )
        if uses_newest and block.newest is None:
            yield Problem(
                ("two_way", "wins") if block.wins == "newest" else ("two_way",),
                "newest needs each side's change-time field: add newest: {a: FIELD, b: FIELD} to two_way",
            )
        for direction in DIRECTIONS:
            for field, spec in self.fields_of(direction).items():
                partner = self.partner(direction, field)
                other = self.fields_of("to_a" if direction == "to_b" else "to_b").get(partner or "")
                if spec.wins and other is not None and other.wins and other.wins != spec.wins and direction == "to_b":
                    yield Problem(
                        (direction, field, "wins"),
                        f"{spec.wins} here, but {other.wins} at to_a.{partner}, the same field the other way:"
                        " give one wins",
                    )

    @property
    def origin(self) -> SourceMap:
        assert self._origin is not None, "a TwoWaySyncConfig is given its origin by the loader"
        return self._origin

    @property
    def mode(self) -> str:
        """How the API and status name the kind of sync."""
        return "two_way"

    # The names a one-way sync has, so that faces listing syncs show a as source and b as target.
    @property
    def source(self) -> str:
        return self.two_way.a

    @property
    def target(self) -> str:
        return self.two_way.b

    @property
    def source_system(self) -> str:
        return self.two_way.a.partition(".")[0]

    @property
    def source_stream(self) -> str:
        return self.two_way.a.partition(".")[2]

    @property
    def target_system(self) -> str:
        return self.two_way.b.partition(".")[0]

    @property
    def target_stream(self) -> str:
        return self.two_way.b.partition(".")[2]

    def stream(self, side: Side) -> str:
        """SYSTEM.STREAM of ``side``."""
        return self.two_way.a if side == "a" else self.two_way.b

    def fields_of(self, direction: Direction) -> dict[str, TwoWayField]:
        return self.to_a if direction == "to_a" else self.to_b

    def partner(self, direction: Direction, field: str) -> str | None:
        """The field of the other block that carries the same value back: ``to_b.phone: phone`` and
        ``to_a.phone: phone`` are partners, and so are two lookups through one sync, each from the other's
        field (``to_b.account_no`` from ``company_id``, ``to_a.company_id`` from ``account_no``). A conflict on
        one is a conflict on both, settled once."""
        spec = self.fields_of(direction).get(field)
        other = self.fields_of("to_a" if direction == "to_b" else "to_b")
        carried = _carried_from(spec) if spec is not None else None
        if carried is None:
            return None
        back = other.get(carried[0])
        return carried[0] if back is not None and _carried_from(back) == (field, carried[1]) else None

    def wins_for(self, direction: Direction, field: str) -> Winner:
        """Whose value stands in a conflict on ``field`` of ``direction``: its own ``wins``, its partner's,
        else the sync's."""
        spec = self.fields_of(direction)[field]
        if spec.wins is not None:
            return spec.wins
        partner = self.partner(direction, field)
        if partner is not None:
            back = self.fields_of("to_a" if direction == "to_b" else "to_b")[partner]
            if back.wins is not None:
                return back.wins
        return self.two_way.wins

    def direction(self, direction: Direction) -> SyncConfig:
        """One direction as a one-way sync (same name): what the mapping compiler, ``brygga test`` and
        the writing code take. Its problems are reported at this file's ``to_a``/``to_b`` and ``where``."""
        side = other_side(target_side(direction))
        fields: dict[str, FieldMapping] = dict(self.fields_of(direction))
        one_way = SyncConfig.model_construct(
            name=self.name,
            description=self.description,
            source=self.stream(side),
            target=self.stream(target_side(direction)),
            mode="upsert",
            schedule=None,
            webhook=False,
            after=None,
            where=getattr(self.where, side),
            fields=fields,
            retry=self.retry,
            tests=[test for test in self.tests if test.direction == direction],
        )
        one_way._origin = self._origin
        one_way._fields_at = direction
        one_way._where_at = ("where", side)
        return one_way


def _carried_from(spec: FieldMapping) -> tuple[str, str | None] | None:
    """The one field a field's value comes from (and the sync a lookup goes through), where it has one."""
    if spec.from_ is not None:
        return spec.from_, None
    if spec.lookup is not None and len(spec.lookup.from_) == 1:
        return spec.lookup.from_[0], spec.lookup.sync
    return None


AnySync = SyncConfig | TwoWaySyncConfig
"""A sync of either kind, as a project holds them."""


def lookup_way(sync: TwoWaySyncConfig, direction: Direction, other: AnySync) -> LookupWay | None:
    """How a ``lookup`` in ``direction`` of ``sync`` reads ``other``'s ID map, decided by the systems.

    A direction reads one side's system and writes the other's. Where ``other`` links them the same way
    (its source, or its a, on the system read; its target, or its b, on the system written), the lookup
    is forward: the target key ``other`` gave the key found here. Where ``other`` links them the other
    way, it is reverse: the source key linked with the key found here (``to_a`` carrying back a key that
    ``to_b`` looked up forward). A two-way ``other`` links its pairs both ways, so either applies. Where
    both sides are on one system, ``to_b`` looks up forward and ``to_a`` in reverse. ``None``: ``other``
    links neither way between the two systems, and the lookup cannot work.
    """
    reads = sync.stream(other_side(target_side(direction))).partition(".")[0]
    writes = sync.stream(target_side(direction)).partition(".")[0]
    links = (other.source_system, other.target_system)
    forward, reverse = links == (reads, writes), links == (writes, reads)
    if forward and reverse:
        return "forward" if direction == "to_b" else "reverse"
    return "forward" if forward else "reverse" if reverse else None


def reverse_lookups(sync: TwoWaySyncConfig, direction: Direction, syncs: Mapping[str, AnySync]) -> set[str]:
    """The syncs whose ID maps the lookups of ``direction`` read backwards (see :func:`lookup_way`)."""
    found = set()
    for spec in sync.fields_of(direction).values():
        other = syncs.get(spec.lookup.sync) if spec.lookup is not None else None
        if other is not None and lookup_way(sync, direction, other) == "reverse":
            found.add(other.name)
    return found


def sync_kind_problems(data: dict[Any, Any]) -> Iterator[tuple[str, str]]:
    """(key, message) for each key that does not belong to the kind of sync the file is: a file with a
    ``two_way`` block is two-way, and has no ``source``, ``target``, ``fields`` or ``mode``; a file
    without one is one-way, and has no ``to_a`` or ``to_b``."""
    if "two_way" in data:
        for key in ONE_WAY_KEYS:
            if key in data:
                yield (
                    key,
                    (
                        f"{key}: a sync file is either one-way (source, target, fields) or two-way (two_way, to_a,"
                        f" to_b), never both: remove {key}, or the two_way block"
                    ),
                )
        return
    for key in ("to_a", "to_b"):
        if key in data:
            yield (
                key,
                (
                    f"{key}: a sync file is either one-way (source, target, fields) or two-way (two_way, to_a,"
                    f" to_b), never both: add a two_way block, or write fields"
                ),
            )
