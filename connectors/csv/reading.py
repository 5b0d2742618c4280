"""Reading a stream's file as records or keys, a batch at a time, without holding the file in memory."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from itertools import islice

from connectors.base import Record, TransientError
from connectors.csv.files import CsvFile, RowReader, is_blank, key_columns, row_key, row_record

log = logging.getLogger(__name__)

MOST_CELLS = 1 << 20
"""The most cells a batch of records holds (~100 MB): a wide file's batches have fewer rows than batch_size."""


class RecordScan:
    """One pass over a file's rows, in file order; the file opens on the first call.

    Blank rows are skipped. A row with fewer cells than the header gets
    ``None`` for the rest, cells past the header are dropped, and the read
    goes on: one warning at the end says how many rows lacked cells or had
    text past the header.

    Each method blocks: call them from one worker thread at a time, then :meth:`close`.

    :raises CsvFileError: when the file is missing, lacks a key column, or is not valid in its encoding
    """

    def __init__(self, file: CsvFile, key: Sequence[str]) -> None:
        self.file = file
        self.key = tuple(key)
        self._reader: RowReader | None = None
        self._rows: Iterator[list[str]] = iter(())
        self._positions: list[int] = []
        self._ragged = 0
        self._first_ragged = 0

    def records(self, size: int) -> list[Record] | None:
        """The next (at most) ``size`` records (fewer from a wide file), or ``None`` at the end of the file."""
        rows = self._next_rows(size)
        if not rows:
            return None
        header = self._header
        return [row_record(header, row) for row in rows]

    def keys(self, size: int) -> list[str] | None:
        """The keys of the next (at most) ``size`` rows, rows with an empty key cell left out; ``None`` at the end."""
        rows = self._next_rows(size)
        if not rows:
            return None
        keys = (row_key(row, self._positions) for row in rows)
        return [key for key in keys if key is not None]

    def find(self, wanted: dict[str, str]) -> dict[str, Record]:
        """The records whose key is in ``wanted`` (normalised key → the caller's text), by the caller's text.

        Reads the whole file, then closes it. A file that is not there (a
        target that its first write will create) has no records.
        """
        found: dict[str, Record] = {}
        if not self.file.path.exists():
            return found
        try:
            while rows := self._next_rows(1000):
                for row in rows:
                    key = row_key(row, self._positions)
                    if key is not None and key in wanted:
                        found[wanted[key]] = row_record(self._header, row)
        finally:
            self.close()
        return found

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._ragged:
            log.warning(
                "%s: %d row(s) had a different number of cells than the header (the first at line %d); "
                "missing cells were read as empty, extra cells were ignored",
                self.file.shown,
                self._ragged,
                self._first_ragged,
            )
            self._ragged = 0

    @property
    def _header(self) -> list[str]:
        return [] if self._reader is None else self._reader.header

    def _next_rows(self, size: int) -> list[list[str]]:
        """The next (at most) ``size`` rows; fewer where the header is wide, so that they hold at most
        :data:`MOST_CELLS` cells."""
        if self._reader is None:
            self._open()
        rows = list(islice(self._rows, max(1, min(size, MOST_CELLS // max(1, len(self._header))))))
        if not rows:
            self._check_unchanged()
        return rows

    def _check_unchanged(self) -> None:
        """At the end of the file: the file was not written while it was read.

        :raises TransientError: when it was, so that nothing takes this read for the whole file (a mirror
            sync would delete the target records of the rows not written yet); the read starts over at the
            next try, by then, with luck, of the finished file
        """
        changed = None if self._reader is None else self._reader.written_meanwhile()
        if changed is not None:
            raise TransientError(
                f"{self.file.shown}: the file changed while it was read ({changed}): another program is writing "
                "it, so what was read may be cut short; it is read again at the next try. Have that program "
                "write a temporary file and rename it over this one when done (an export that appears whole)"
            )

    def _open(self) -> None:
        reader = RowReader(self.file).__enter__()
        try:
            self._positions = key_columns(self.file, reader.header, self.key)
        except BaseException:
            reader.close()
            raise
        self._reader = reader
        self._rows = self._data_rows(reader)

    def _data_rows(self, reader: RowReader) -> Iterator[list[str]]:
        width = len(reader.header)
        for row in reader.rows():
            if is_blank(row):
                continue
            if len(row) == width:
                yield row
                continue
            if len(row) < width or any(row[width:]):  # empty cells past the header (a, b,) lose nothing
                self._ragged += 1
                self._first_ragged = self._first_ragged or reader.line
            yield row[:width]  # a batch of rows each a million cells past the header held them all
