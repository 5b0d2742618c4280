"""How much text calamine holds for a sheet: each text cell gets its own copy of its shared text.

A workbook keeps every distinct text once (its shared texts) and a text cell names one by its index. calamine
copies the text into every cell that names it, so one text of 32,767 characters named by 60,000 cells (a
file of 630 KB) took 2.2 GB. The zip-bomb checks bound the shared texts themselves, not how often they are
named; this bounds the copies, before calamine loads the sheet.

The common sheet costs one split of the shared texts: only where as many text cells as its XML could hold,
times the longest text, could pass the bound is each cell's text counted exactly.
"""

from __future__ import annotations

import re
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import IO

MAX_SHEET_TEXT = 256 << 20
"""The most text (UTF-8 bytes, roughly) a sheet's text cells may hold together once read."""

_SHORTEST_TEXT_CELL = len(b'<c t="s"><v>0</v></c>')
"""The fewest bytes of XML a text cell takes: a sheet's XML holds at most its size over this many."""
_INDEX = re.compile(rb"""\bt\s*=\s*["']s["'][^>]*>\s*<(?:[\w.-]+:)?v>\s*([0-9]{1,10})\s*<""")
_SHARED = "xl/sharedstrings.xml"
_CHUNK = 1 << 20


def held_text(archive: zipfile.ZipFile, part: str, sheet_bytes: int) -> int:
    """At least as many bytes as the text cells of sheet ``part`` (``sheet_bytes`` of XML) hold once calamine
    copied their texts in: as many cells as the XML could hold times the longest shared text, or, where that
    is more than :data:`MAX_SHEET_TEXT`, each text cell's own text summed."""
    shared = _shared_part(archive)
    if shared is None:
        return 0
    with archive.open(shared) as xml:
        longest = max(_text_lengths(xml), default=0)
    most_cells = sheet_bytes // _SHORTEST_TEXT_CELL
    if most_cells * longest <= MAX_SHEET_TEXT:
        return most_cells * longest
    with archive.open(shared) as xml:
        lengths = list(_text_lengths(xml))
    named: Counter[int] = Counter()
    with archive.open(part) as xml:
        for body in _pieces(xml, _CELL_START):
            named.update(int(index) for index in _INDEX.findall(body))
    return sum(count * (lengths[index] if index < len(lengths) else 0) for index, count in named.items())


def _shared_part(archive: zipfile.ZipFile) -> str | None:
    return next((name for name in archive.namelist() if name.lower() == _SHARED), None)


_TEXT_START = re.compile(rb"<(?:[\w.-]+:)?si(?=[\s>/])")
"""A shared text's start tag, with a namespace prefix or without (calamine reads both)."""


def _text_lengths(xml: IO[bytes]) -> Iterator[int]:
    """Each shared text's length in its XML (tags and escapes included: at least its own), in index order."""
    for body in _pieces(xml, _TEXT_START):
        pieces = _TEXT_START.split(body) if b":si" in body else body.split(b"<si")  # prefixed tags: rarely
        yield from map(len, pieces[1:])  # before the first: the part's header (or nothing)


_CELL_START = re.compile(rb"<(?:[\w.-]+:)?c(?=[\s>/])")


def _pieces(xml: IO[bytes], start: re.Pattern[bytes]) -> Iterable[bytes]:
    """The XML in chunks, each cut just before a ``start`` tag: no text or cell is cut in two."""
    carry = b""
    while chunk := xml.read(_CHUNK):
        window = carry + chunk
        cut = _last(window, start)
        if cut <= 0:
            carry = window
            continue
        yield window[:cut]
        carry = window[cut:]
    if carry:
        yield carry


def _last(window: bytes, start: re.Pattern[bytes]) -> int:
    """Where the last ``start`` tag in ``window`` begins (-1: none), found from the end at C speed."""
    end = len(window)
    while (at := window.rfind(b"<", 0, end)) >= 0:
        if start.match(window, at):
            return at
        end = at
    return -1
