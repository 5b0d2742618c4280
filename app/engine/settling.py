"""Settling one two-way pair, field by field: a three-way comparison against what was last synchronised.

For each field written into a side, three values meet: the **base** (what
Brygga last synchronised on that side), the **current** value there, and the
**proposed** one (the other side's record mapped through ``to_a``/``to_b``).
The other side changed it when proposed differs from base; this side changed
it when current does. Changed on one side: carried. Changed on both, to the
same value: nothing to write. Changed on both, to different values: a
conflict, settled by ``wins``.

After settling, a side's base is the value it holds then: what was written
there, or what it had. So reading back what Brygga wrote is no change (no
echoes), and a side that rewrites a value on save (lower-cases an email)
shows that once as its own change, which is carried back once, and then
stands: one settling write, never a loop.

Pure functions over records: no I/O, so the rules are tested on their own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any
from uuid import UUID

from app.config import Direction, Side, TwoWaySyncConfig, Winner
from app.mapping import values_match
from app.records import key_text

_MISSING = object()


def same(one: Any, other: Any) -> bool:
    """Whether two values are the same by meaning: ``7`` and ``"7"``, a date and its ISO text, 1.50 and 1.5;
    and as a side stores them (:func:`_same_as_stored`)."""
    if one is _MISSING or other is _MISSING:
        return one is other
    return values_match(one, other) or values_match(other, one) or _same_as_stored(one, other)


def _same_as_stored(one: Any, other: Any) -> bool:
    """Values a database keeps one way and reads back another: a boolean as 1 or 0 (MariaDB's BOOLEAN is a
    TINYINT), a moment in a column without time zones as its UTC time (how a SQL target writes it), a date
    as midnight (MariaDB's DATETIME) and midnight as a date (PostgreSQL's DATE), a value of a type a text
    column lacks as its text (:func:`_same_as_text`). Told apart, each read back would look like a change on
    that side, carried across, written back: a loop."""
    if isinstance(one, str) and isinstance(other, str):  # a UUID kept in a base is its text, as it was read
        return one.lower() == other.lower() and _as_uuid(one) is not None and _as_uuid(one) == _as_uuid(other)
    for this, that in ((one, other), (other, one)):
        if isinstance(this, bool) and type(that) is int and that in (0, 1):
            return this is bool(that)
        if isinstance(this, datetime) and isinstance(that, datetime) and this.tzinfo and that.tzinfo is None:
            return this == that.replace(tzinfo=UTC)
        if type(this) is date and type(that) is datetime and that.tzinfo is None:
            return that == datetime.combine(this, time())
        if isinstance(that, str) and not isinstance(this, str):
            return _same_as_text(this, that)
    return False


def _same_as_text(value: Any, text: str) -> bool:
    """Whether ``text`` is ``value`` as a text column keeps it (``True`` as ``"true"``, a UUID, a time of day
    as its ISO text), or as a typed column reads ``text`` written into it (``"10:00"`` as 10 o'clock)."""
    if isinstance(value, bool):
        return text.strip().lower() == key_text(value)
    if isinstance(value, UUID):
        return value == _as_uuid(text)
    if isinstance(value, time):
        try:
            return value == time.fromisoformat(text.strip())
        except ValueError:
            return False
    return False


def _as_uuid(text: str) -> UUID | None:
    try:
        return UUID(text.strip())
    except ValueError:
        return None


@dataclass(frozen=True)
class Conflict:
    """A field changed on both sides to different values, and whose value stood."""

    field: str
    a: Any
    b: Any
    winner: Side

    @property
    def direction(self) -> Direction:
        """The direction the winning value went: ``to_b`` when a won."""
        return "to_b" if self.winner == "a" else "to_a"

    def detail(self) -> dict[str, Any]:
        return {"field": self.field, "a": self.a, "b": self.b, "winner": self.winner}


@dataclass
class Settlement:
    """What settling one pair decided: the values to write into each side, its new bases, its conflicts."""

    into_a: dict[str, Any] = field(default_factory=dict)
    into_b: dict[str, Any] = field(default_factory=dict)
    base_a: dict[str, Any] = field(default_factory=dict)
    base_b: dict[str, Any] = field(default_factory=dict)
    conflicts: list[Conflict] = field(default_factory=list)


class Settler:
    """Settles pairs of one two-way sync.

    :param key_a: a's key fields (never updated: a pair is linked by them)
    :param key_b: b's key fields

    A side's base also holds, for each of its key fields that the other side's block fills, the value that
    block last gave it: never written (a linked record keeps its key), it tells an edit of the field the
    key is made from (:class:`~app.engine.two_way_keys.LinkedKeys`).
    """

    def __init__(self, sync: TwoWaySyncConfig, key_a: Sequence[str], key_b: Sequence[str]) -> None:
        self.sync = sync
        self.fields_b = [name for name in sync.to_b if name not in key_b]
        self.fields_a = [name for name in sync.to_a if name not in key_a]
        self.keys_b = [name for name in key_b if name in sync.to_b]
        self.keys_a = [name for name in key_a if name in sync.to_a]
        self.logged_a = [name for name in self.fields_a if sync.partner("to_a", name) is None]
        """a's fields whose conflicts are logged from a's side: the others are logged once, as their partner's."""

    def settle(
        self,
        a: Mapping[str, Any],
        b: Mapping[str, Any],
        proposed_b: Mapping[str, Any] | None,
        proposed_a: Mapping[str, Any] | None,
        base: Mapping[str, Any],
    ) -> Settlement:
        """Settle one pair: ``a`` and ``b`` as they are now, each mapped for the other (``None`` where its
        ``where`` leaves it out), and the pair's base (``{"a": {...}, "b": {...}}``)."""
        settled = Settlement()
        winner = _Winner(self.sync, a, b)
        base_a, base_b = base.get("a", {}), base.get("b", {})
        if proposed_b is not None:
            settled.into_b, settled.base_b = self._side(
                direction="to_b",
                fields=self.fields_b,
                current=b,
                proposed=proposed_b,
                base=base_b,
                winner=winner,
                conflicts=settled.conflicts,
                logged=set(self.fields_b),
            )
        else:
            settled.base_b = dict(base_b)
        if proposed_a is not None:
            settled.into_a, settled.base_a = self._side(
                direction="to_a",
                fields=self.fields_a,
                current=a,
                proposed=proposed_a,
                base=base_a,
                winner=winner,
                conflicts=settled.conflicts,
                logged=set(self.logged_a),
            )
        else:
            settled.base_a = dict(base_a)
        if proposed_a is None or proposed_b is None:
            # one side's record is left out by `where`: nothing goes its way, so neither side is in sync;
            # the old base stays whole, else a value not carried across would later look like a change
            settled.base_a, settled.base_b = dict(base_a), dict(base_b)
        else:
            settled.base_b.update({name: proposed_b.get(name) for name in self.keys_b})
            settled.base_a.update({name: proposed_a.get(name) for name in self.keys_a})
        return settled

    def _side(
        self,
        *,
        direction: Direction,
        fields: list[str],
        current: Mapping[str, Any],
        proposed: Mapping[str, Any],
        base: Mapping[str, Any],
        winner: _Winner,
        conflicts: list[Conflict],
        logged: set[str],
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The values to write into one side, and its new base."""
        writes: dict[str, Any] = {}
        new_base: dict[str, Any] = dict(base)
        this: Side = "b" if direction == "to_b" else "a"
        other: Side = "a" if this == "b" else "b"
        for name in fields:
            now, wanted, was = current.get(name), proposed.get(name), base.get(name, _MISSING)
            other_changed, this_changed = not same(wanted, was), not same(now, was)
            if other_changed and (not this_changed or not same(wanted, now)):
                chosen = other if not this_changed else winner.of(direction, name)
                if this_changed and name in logged:
                    values = (wanted, now) if this == "b" else (now, wanted)
                    conflicts.append(Conflict(name, values[0], values[1], chosen))
                if chosen != this:
                    writes[name] = wanted
            new_base[name] = writes.get(name, now)
        return writes, new_base

    def edits(
        self, side: Side, record: Mapping[str, Any], proposed: Mapping[str, Any] | None, base: Mapping[str, Any]
    ) -> dict[str, Any]:
        """What changed in ``side``'s record since its pair was last settled (``base``), by field, with the
        values now: the fields written into it that differ from its base, and the fields it fills on the
        other side (``proposed``: the record mapped for it; ``None`` where ``where`` leaves it out or it does
        not map) that differ from the other side's base. How an edit is told from a record that only waits to
        be deleted."""
        own, filled = (self.fields_a, self.fields_b) if side == "a" else (self.fields_b, self.fields_a)
        own_base, other_base = base.get(side, {}), base.get("b" if side == "a" else "a", {})
        changed = {name: record.get(name) for name in own if not same(record.get(name), own_base.get(name, _MISSING))}
        if proposed is not None:
            for name in filled:
                if not same(proposed.get(name), other_base.get(name, _MISSING)):
                    changed.setdefault(name, proposed.get(name))
        return changed

    def seen(
        self, side: Side, record: Mapping[str, Any], proposed: Mapping[str, Any] | None, base: Mapping[str, Any]
    ) -> dict[str, Any]:
        """``base`` once a record of ``side`` that nothing is carried from or to has been looked at (its partner
        was deleted, a delete ``delete_in`` does not carry): its fields as they are now, and the fields it
        fills on the other side as it fills them now, so that :meth:`edits` tells its next edit from a re-read."""
        own, filled = (self.fields_a, self.fields_b) if side == "a" else (self.fields_b, self.fields_a)
        other: Side = "b" if side == "a" else "a"
        seen: dict[str, Any] = {name: dict(values) for name, values in base.items()}
        seen.setdefault(side, {}).update({name: record.get(name) for name in own})
        if proposed is not None:
            seen.setdefault(other, {}).update({name: proposed.get(name) for name in filled})
        return seen

    def first_base(self, a: Mapping[str, Any], b: Mapping[str, Any], created_in: Side) -> dict[str, Any]:
        """The base of a pair just linked by a create in ``created_in``: each side's values as they now are,
        and the key the create gave the record it made (the other side's key, as the other block gives it,
        is noted when the pair is next settled)."""
        base = {
            "a": {name: a.get(name) for name in self.fields_a},
            "b": {name: b.get(name) for name in self.fields_b},
        }
        created, keys = (a, self.keys_a) if created_in == "a" else (b, self.keys_b)
        base[created_in].update({name: created.get(name) for name in keys})
        return base


class _Winner:
    """Whose value stands in a conflict on a field: the field's ``wins`` (or its partner's), else the
    sync's; for ``newest``, the side whose change-time field is later (a on a tie, or where either side
    has none)."""

    def __init__(self, sync: TwoWaySyncConfig, a: Mapping[str, Any], b: Mapping[str, Any]) -> None:
        self.sync = sync
        self.a = a
        self.b = b
        self._newest: Side | None = None

    def of(self, direction: Direction, field_name: str) -> Side:
        rule: Winner = self.sync.wins_for(direction, field_name)
        if rule != "newest":
            return rule
        if self._newest is None:
            self._newest = self._compare()
        return self._newest

    def _compare(self) -> Side:
        newest = self.sync.two_way.newest
        if newest is None:
            return "a"
        a_time, b_time = _moment(self.a.get(newest.a)), _moment(self.b.get(newest.b))
        if a_time is None or b_time is None:
            return "a"  # a change time missing on either side tells nothing: as on a tie (docs/two-way.md)
        return "b" if b_time > a_time else "a"


def _moment(value: Any) -> datetime | None:
    """A change time as an aware datetime (naive ones taken as UTC), from a datetime, date or ISO text."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    return None
