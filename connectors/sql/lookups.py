"""Looking rows up by key text: the text converted to the key columns' types, and back."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from connectors.base import Record, format_key, parse_key
from connectors.sql.coercion import Kind
from connectors.sql.databases import Backend
from connectors.sql.streams import StreamShape

LOOKUP_CHUNK = 1000
"""Keys per ``IN (…)`` list: far below every database's limit on parameters."""
SPREAD = 2
"""How much wider than the count of whole numbers asked their span may be, to be read as a range."""


class KeyLookup:
    """Keys asked for as text (:func:`app.records.format_key`), converted to their columns' types.

    A text that does not convert (``"abc"`` for an integer key) cannot be a
    key of the stream and is left out. Where the table's key columns ignore
    case or trailing spaces, a row answers every text asked that folds as its
    key does (see :mod:`connectors.sql.key_equality`).
    """

    def __init__(self, shape: StreamShape, texts: Sequence[str]) -> None:
        self.key = shape.key
        self.asked = set(texts)
        self.by_values: dict[tuple[Any, ...], list[str]] = {}
        self.as_stored: list[str] = []
        """Texts that are no value of the key column's type, asked of a database that keeps any text in any
        column (SQLite): looked up as the very text stored (see :meth:`_one_column`)."""
        self._any_text = shape.backend is Backend.SQLITE and len(self.key) == 1
        self.by_number: dict[int, str] | None = None
        """The common integer key's texts by number (:meth:`_numbered`), instead of :attr:`by_values`."""
        if len(self.key) == 1 and self.key[0] in shape.types:
            column = shape.types[self.key[0]]
            numbers = _whole_numbers(texts) if column.kind is Kind.INTEGER else None
            if numbers is not None and shape.key_equality is None:
                self._numbered(numbers, texts, column.whole)
                self.equality = None
                self.by_folded: dict[tuple[Any, ...], list[str]] = {}
                return
            if numbers is not None:
                self.by_values = {(value,): [text] for text, value in zip(texts, numbers, strict=True)}
            else:
                self._one_column(column.key_value, texts)
        else:
            for text in dict.fromkeys(texts):
                try:
                    parts = parse_key(text, len(self.key))
                    values = tuple(
                        shape.types[name].key_value(part) if name in shape.types else part
                        for name, part in zip(self.key, parts, strict=True)
                    )
                except ValueError:
                    continue
                self.by_values.setdefault(values, []).append(text)
        self._leave_out_unbindable(shape)
        self.equality = shape.key_equality
        self.by_folded = {}
        if self.equality is not None:
            for values, found in self.by_values.items():
                self.by_folded.setdefault(self.equality.values(values), []).extend(found)

    def _numbered(self, numbers: list[int], texts: Sequence[str], whole: range) -> None:
        """Distinct whole numbers from distinct texts (a first load asks thousands a batch): one dict made at C
        speed, not a tuple and a list per key; numbers beyond what the column holds are left out (see
        :meth:`_leave_out_unbindable`), looked for one by one only where the least or greatest is."""
        by_number = dict(zip(numbers, texts, strict=True))
        if by_number and (min(numbers) not in whole or max(numbers) not in whole):
            by_number = {number: text for number, text in by_number.items() if number in whole}
        self.by_number = by_number

    def _leave_out_unbindable(self, shape: StreamShape) -> None:
        """Leave out whole numbers beyond what an integer key column holds: no row has them, and a driver
        refuses to send them (SQLite beyond 64 bits, PostgreSQL beyond the column's type), which would fail
        the whole batch's look-up instead of the one record whose write then fails alone."""
        holds = [_whole_numbers_held(shape, name) for name in self.key]
        if not any(held is not None for held in holds):
            return
        for values in list(self.by_values):
            if any(
                held is not None and value.__class__ is int and value not in held
                for value, held in zip(values, holds, strict=True)
            ):
                del self.by_values[values]

    def _one_column(self, convert: Callable[[Any], Any], texts: Sequence[str]) -> None:
        """The common one-column key, without the general machinery: a batch asks thousands at a time.

        On SQLite a text that does not convert may still be a key: a ``DATE`` or ``INTEGER`` column keeps
        ``garbage`` as it is, and its row's key reads as that text. It is looked up as stored; elsewhere
        no row can have it, and it is left out.
        """
        by_values = self.by_values
        for text in texts:
            try:
                value = convert(text)
            except ValueError:
                if self._any_text:
                    self.as_stored.append(text)
                continue
            found = by_values.get((value,))
            if found is None:
                by_values[(value,)] = [text]
            elif text not in found:
                found.append(text)

    def chunks(self, size: int) -> Iterator[list[Any]]:
        """The converted keys to bind as ``keys``, ``size`` at a time."""
        if self.by_number is not None:
            values: list[Any] = list(self.by_number)
        else:
            values = [value[0] if len(self.key) == 1 else value for value in self.by_values]
        for start in range(0, len(values), size):
            yield values[start : start + size]

    def span(self) -> tuple[int, int] | None:
        """The least and greatest whole number asked, where every row between them is few enough to read
        (at most :data:`SPREAD` times the numbers asked): one range read, not an ``IN`` list per
        :data:`LOOKUP_CHUNK` keys, which SQLAlchemy spells out anew each time (a first load asks for a batch
        of consecutive numbers). ``None`` where the numbers are spread further, or none are asked."""
        numbers = self.by_number
        if not numbers:
            return None
        least, greatest = min(numbers), max(numbers)
        return (least, greatest) if greatest - least < SPREAD * len(numbers) else None

    def texts_of(self, record: Record) -> list[str]:
        """The texts asked for that name the row ``record``."""
        values = tuple(record[name] for name in self.key)
        if self.by_number is not None:
            text = self.by_number.get(values[0])
            texts = [] if text is None else [text]
        elif self.equality is None:
            texts = list(self.by_values.get(values, []))
        else:
            texts = list(self.by_folded.get(self.equality.values(values), []))
        own = format_key(values)
        if own in self.asked and own not in texts:
            texts.append(own)
        return texts


def _whole_numbers_held(shape: StreamShape, name: str) -> range | None:
    """The whole numbers key column ``name`` holds; ``None`` for a column of another kind."""
    column = shape.types.get(name)
    return column.whole if column is not None and column.kind is Kind.INTEGER else None


def _whole_numbers(texts: Sequence[str]) -> list[int] | None:
    """The common integer keys (distinct texts of ASCII digits, as key text writes them) at C speed;
    ``None`` where one text needs :meth:`ColumnType.convert`'s closer look, or two texts name one number."""
    if set(map(type, texts)) != {str} or not all(map(str.isascii, texts)) or not all(map(str.isdigit, texts)):
        return None
    if len(set(texts)) != len(texts):
        return None
    try:
        numbers = list(map(int, texts))
    except ValueError:  # more digits than int() takes from text: refused by the careful way too
        return None
    return numbers if len(set(numbers)) == len(numbers) else None
