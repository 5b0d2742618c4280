"""A batch's records again, from the answers of the pages they were read from (``Batch.originals``).

A page of 1,000 records is ~300 KB of JSON and ~1.6 MB parsed. The engine lets go of each parsed record
once it is mapped and asks for one again only where it fails on its way to the target (its dead letter
keeps it): each page's answer is kept for that while its records are in the engine's hands, and parsed
again, once, when first asked.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from typing import NamedTuple

from connectors.base import Originals, Record


class PageAgain:
    """One page's records, parsed anew from its answer when first asked for."""

    __slots__ = ("_parse", "_records")

    def __init__(self, parse: Callable[[], list[Record]]) -> None:
        self._parse = parse
        self._records: list[Record] | None = None

    def record(self, index: int) -> Record:
        if self._records is None:
            self._records = self._parse()
        return self._records[index]


class Span(NamedTuple):
    """Records held for the next batches that came from one page: from ``start`` among those held (to the
    next span's start), the page's records from its ``first``."""

    start: int
    page: PageAgain
    first: int


def originals(spans: list[Span]) -> Originals:
    """The records held at each index, read anew from their pages (the first batch's worth of ``spans``)."""
    starts = [span.start for span in spans]

    def original(index: int) -> Record:
        start, page, first = spans[bisect_right(starts, index) - 1]
        return page.record(first + index - start)

    return original


def after(spans: list[Span], taken: int) -> list[Span]:
    """The spans of the records held once the first ``taken`` went into a batch."""
    left: list[Span] = []
    for number, (start, page, first) in enumerate(spans):
        if number + 1 < len(spans) and spans[number + 1].start <= taken:
            continue  # all of its records were taken
        left.append(Span(start - taken, page, first) if start >= taken else Span(0, page, first + taken - start))
    return left
