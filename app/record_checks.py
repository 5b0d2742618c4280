"""What no system and no state database can hold, found before it breaks a whole batch (SPEC 8).

Records come from other systems and are hostile until proven otherwise. A
record with text that is not valid Unicode (a lone surrogate, which JSON's
``\\ud800`` escape can carry), or nested deeper than :data:`MAX_DEPTH`, cannot
be hashed, stored or sent anywhere: it fails alone into the dead letters. A
key or an error text with a NUL byte or a lone surrogate cannot go into a
PostgreSQL text column: :func:`storable_text` spells those characters out.

These checks run only where the fast way (orjson) has already refused a
record, or once per batch over all its keys at C speed: the common record
pays nothing for them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Set
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from itertools import chain
from operator import countOf
from typing import Any

MAX_DEPTH = 254
"""The deepest nesting of objects and lists a record may have: as deep as orjson (which hashes and sends
records) goes, so that the check below runs only for records orjson has refused."""


MAX_WRITTEN = 1 << 26
"""The most characters and items a record may come to written out in full (:func:`written_size`): 64 Mi, far
more than any system takes in one record, far less than exhausts memory or keeps a JSON encoder busy for
long (orjson writes about that in a second; it crashed the process on a text of 2 GiB)."""


class UnreadableValue:
    """A value that the source system holds but cannot hand over: an error, not a value (an Excel cell showing
    ``#DIV/0!``), or a value no Python type holds (a PostgreSQL date before year 1, ``infinity``).

    A connector puts one in a record where it read such a value, so the record still comes through (the
    rest of its file or table is fine) and fails alone where a sync maps that field: no system can be
    written with it. A sync that does not map the field is not stopped by it.

    :param text: the value as the source shows it (``#DIV/0!``, ``0044-03-15 BC``)
    :param where: where it is, in the user's words (``prices.xlsx, Prices!H2``, ``erp.people, column born``)
    :param why: what it is and what to do, where that is not "an error to correct in the source"
        (``a date before year 1, which Brygga cannot hold: read the column as text in the stream's query``)
    """

    __slots__ = ("text", "where", "why")

    def __init__(self, text: str, where: str, why: str | None = None) -> None:
        self.text = text
        self.where = where
        self.why = why

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:  # how a failed conversion (``type: decimal``) shows it to the user
        if self.why is not None:
            return f"{self.text} ({self.where}: {self.why})"
        return f"the error {self.text} ({self.where})"

    @property
    def parts(self) -> list[str]:
        """What it is made with, in order: how a record keeps it when stored."""
        return [self.text, self.where] if self.why is None else [self.text, self.where, self.why]

    def reason(self) -> str:
        """Why a record holding it cannot be written, after the field's name (``holds …``)."""
        if self.why is not None:
            return f"holds {self.text} ({self.where}): {self.why}"
        return f"holds the error {self.text} ({self.where}), not a value: correct it in the source"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UnreadableValue) and self.parts == other.parts

    def __hash__(self) -> int:
        return hash(tuple(self.parts))


NOT_A_RECORD_FIELD = "(not a record)"
"""The one field of the stand-in for a value a connector read in place of a record."""


class NotARecord(dict[str, Any]):
    """Stands in for a value handed over as a record that is not a mapping (an int, a list, ``null``): it
    has no key, so it fails alone, and its dead letter keeps what the value was.

    A connector puts one where its system gave such a value in a list of records (the rest of the list is
    fine); the engine puts one where a connector itself handed one over.

    :param why: what the value is and where it was, for the dead letter
    """

    def __init__(self, value: object, why: str) -> None:
        super().__init__({NOT_A_RECORD_FIELD: shown_value(value)})
        self.why = why


def shown_value(value: object) -> str:
    """``value`` as a message shows it, kept short (it comes from outside: its repr may fail, or be huge)."""
    try:
        text = repr(value)
    except Exception:  # an int of more digits than Python prints, a repr that raises
        return f"a {type(value).__name__} that cannot be shown"
    return text if len(text) <= 200 else text[:200] + "…"


def valid_unicode(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8 (it holds no lone surrogate)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def storable_text(text: str) -> str:
    """``text`` with NUL bytes and lone surrogates spelt out (``\\x00``, ``\\ud800``): fit for any database."""
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    if valid_unicode(text):
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def all_storable(texts: Iterable[str | None]) -> bool:
    """Whether every one of ``texts`` is fit for a database as it is: one pass at C speed for a whole batch."""
    joined = "".join(text for text in texts if text is not None)
    return "\x00" not in joined and valid_unicode(joined)


def holds_non_finite(value: Any) -> bool:
    """Whether ``value`` holds a float that is infinite or not a number, however deep (to :data:`MAX_DEPTH`).

    orjson writes such a float as ``null``: a record's hash, its dead letter's copy and its logged values
    could not tell ``inf`` from a null. Asked only of JSON that holds a ``null``, so the common record pays
    one C-speed search.
    """
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, float):
            if item - item != 0.0:  # inf - inf and nan - nan are nan; every finite float gives 0.0
                return True
        elif isinstance(item, dict) and depth < MAX_DEPTH:
            pending.extend((inner, depth + 1) for inner in item.values())
        elif isinstance(item, list | tuple) and depth < MAX_DEPTH:
            pending.extend((inner, depth + 1) for inner in item)
    return False


_NONE_TYPE = type(None)


def non_finite_as_null(data: bytes, value: Any) -> bool:
    """Whether orjson's ``data`` of ``value`` wrote a float that is infinite or not a number as ``null``.

    A record's nulls are counted first, at C speed: where ``data`` holds as many ``null`` as the record has
    ``None`` values, it holds no such float, and the common record (some nulls, no such float) is not walked.
    """
    nulls = data.count(b"null")
    if not nulls:
        return False
    # None values counted by their type, with no list made: ``item == None`` asks each value's own __eq__ first
    if isinstance(value, dict) and nulls == countOf(map(type, value.values()), _NONE_TYPE):
        return False
    return holds_non_finite(value)


def unfit_reason(record: Any) -> str | None:
    """Why no system could take ``record`` (a lone surrogate, nesting beyond :data:`MAX_DEPTH`, an
    :class:`UnreadableValue`), or ``None``.

    Walks the record without recursion, so no depth can exhaust the stack.
    """
    pending: list[tuple[Any, int, str | None]] = [(record, 0, None)]
    while pending:
        value, depth, field = pending.pop()
        if isinstance(value, UnreadableValue):
            return f"{_where(field)}{value.reason()}"
        if isinstance(value, str):
            if not valid_unicode(value):
                return f"{_where(field)}holds text that is not valid Unicode (a lone surrogate)"
            continue
        if isinstance(value, dict):
            items: Iterable[tuple[Any, Any]] = value.items()
        elif isinstance(value, list | tuple | set | frozenset):
            items = ((None, item) for item in value)
        else:
            continue
        if depth >= MAX_DEPTH:
            return f"{_where(field)}is nested deeper than {MAX_DEPTH} levels"
        for key, item in items:
            if isinstance(key, str) and not valid_unicode(key):
                return f"{_where(field)}has a field name that is not valid Unicode (a lone surrogate)"
            pending.append((item, depth + 1, field if depth else (None if key is None else str(key))))
    return None


def _where(field: str | None) -> str:
    return "the record " if field is None else f"field {storable_text(field)!r} "


MOST_KEY_BYTES = 2000
"""The longest key Brygga keeps, in bytes of UTF-8: the state database indexes keys, and PostgreSQL holds at
most 2,704 bytes in an index row (the sync's name included); a longer key failed the whole batch's store
write. No system's identifier comes near it."""

_SURELY_SHORT = MOST_KEY_BYTES // 4
"""A key of at most this many characters is within :data:`MOST_KEY_BYTES` whatever they are."""


class UnfitKey(str):
    """A key read from a record that no state database can keep (a NUL byte, a lone surrogate, a length past
    :data:`MOST_KEY_BYTES`), as :func:`shown_key` writes it: safe to look up and store. Its record fails
    alone (no system could be written by it).

    :param why: what is wrong with it, after "its key" (``holds a NUL byte``)
    """

    why: str

    def __new__(cls, text: str, why: str) -> UnfitKey:
        key = super().__new__(cls, text)
        key.why = why
        return key


def key_problem(key: str) -> str | None:
    """Why no state database can keep ``key`` (``holds a NUL byte``), or ``None``."""
    if "\x00" in key:
        return "holds a NUL byte"
    if not valid_unicode(key):
        return "holds text that is not valid Unicode (a lone surrogate)"
    if len(key) > _SURELY_SHORT and (size := len(key.encode("utf-8"))) > MOST_KEY_BYTES:
        return f"is {size:,} bytes long, more than the {MOST_KEY_BYTES:,} a key may have"
    return None


def shown_key(key: str) -> str:
    """``key`` fit for a database and a message: NUL bytes and lone surrogates spelt out, and one past
    :data:`MOST_KEY_BYTES` cut, with a digest of the whole so that two long keys stay two."""
    if len(key) <= _SURELY_SHORT:
        return storable_text(key)
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()
    return f"{storable_text(key[:100])}… ({len(key):,} characters, {digest})"


def key_value_problem(value: Any) -> str | None:
    """Why ``value`` cannot be (part of) a record's key, or ``None``: a boolean (``true`` was taken as the key
    ``"true"``: a record keyed by the text ``true`` and one by the boolean were one record), a list or an
    object (their JSON text is no identity anyone can correct), a number that is not finite (every ``NaN``
    one key). Text and integers are keys, and so are the exact values a database keys by (decimals, dates,
    UUIDs) and finite floats (a ``REAL`` column; ``7.0`` is the key ``7``)."""
    if value.__class__ is str or value.__class__ is int:
        return None
    if isinstance(value, bool):
        return f"is a boolean ({'true' if value else 'false'}), not text or a number"
    if isinstance(value, Mapping):
        return "is an object, not text or a number"
    if isinstance(value, list | tuple | Set):
        return "is a list, not text or a number"
    if isinstance(value, float) and value - value != 0.0:
        return f"is {value}, not a finite number"
    return None


def fit_keys(keys: list[str | None]) -> list[str | None]:
    """``keys``, with each key unfit for a database as an :class:`UnfitKey` (a batch's check at C speed)."""
    if all_storable(keys) and max(map(len, filter(None, keys)), default=0) <= _SURELY_SHORT:
        return keys
    return [fit_key(key) for key in keys]


def fit_key(key: str | None) -> str | None:
    """``key``, or an :class:`UnfitKey` when no state database can keep it (see :func:`key_problem`)."""
    if key is None or (problem := key_problem(key)) is None:
        return key
    return UnfitKey(shown_key(key), problem)


FLAT_TYPES = frozenset({str, bytes, int, float, bool, type(None), Decimal, date, datetime, time, timedelta})
"""Types that hold no other value: a value of one is passed by its class alone (an ``isinstance`` against
``Mapping`` costs several times more)."""

_NESTED = (list, tuple, Mapping, Set)


def written_size(value: Any) -> int:
    """How many characters or items ``value`` comes to written out in full: as text, JSON, or a hash's input.

    A list may hold one list many times over: ``[[1] * 99999] * 99999`` is 99,999 items in memory, each the
    same list, yet ten billion numbers written out, which ``str`` or a JSON encoder makes in C for hours,
    where no step is counted. Each list, tuple, set or mapping counts one, plus what it holds; a text its
    length; anything else one. Every part is measured once (by identity) however often it occurs, so this
    costs no more than the value's size in memory; it walks without recursion, so no depth exhausts the stack.
    """
    if isinstance(value, str | bytes):
        return len(value)
    if not isinstance(value, _NESTED):
        return 1
    sizes: dict[int, int] = {}
    pending: list[tuple[Any, bool]] = [(value, False)]
    while pending:
        item, parts_measured = pending.pop()
        if parts_measured:
            sizes[id(item)] = 1 + sum(_part_size(part, sizes) for part in _parts(item))
        elif id(item) not in sizes:  # measured already (a part met before), or open above (none can be)
            sizes[id(item)] = 1
            pending.append((item, True))
            pending += [(part, False) for part in _parts(item) if isinstance(part, _NESTED)]
    return sizes[id(value)]


def _parts(value: Any) -> Iterable[Any]:
    return chain.from_iterable(value.items()) if isinstance(value, Mapping) else value


def _part_size(part: Any, sizes: dict[int, int]) -> int:
    if isinstance(part, str | bytes):
        return len(part)
    return sizes[id(part)] if isinstance(part, _NESTED) else 1


def oversized_reason(record: Mapping[str, Any]) -> str | None:
    """Why ``record`` is too large to hash, keep or send (past :data:`MAX_WRITTEN` written out), or ``None``:
    ``comes to … written out``, to follow "a record that".

    A record of texts, numbers and dates alone (nearly every one) is passed at a glance.
    """
    if FLAT_TYPES.issuperset(map(type, record.values())):
        return None
    size = written_size(record)
    if size <= MAX_WRITTEN:
        return None
    return (
        f"comes to {size:,} characters and values written out (one list or object held in it many times "
        f"over, or simply that much); the most is {MAX_WRITTEN:,}"
    )
