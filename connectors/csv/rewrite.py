"""Rewriting a CSV file atomically (:mod:`connectors.table_file.replace`): its header and rows, in its own layout."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Sequence
from typing import BinaryIO

from connectors.csv.files import CsvFile, Layout
from connectors.table_file.replace import TEMP_SUFFIX, FileChangedError, replace_atomically

__all__ = ["TEMP_SUFFIX", "FileChangedError", "write_atomically"]


def write_atomically(
    file: CsvFile,
    layout: Layout,
    header: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    read_from: os.stat_result | None,
) -> None:
    """Write ``header`` and ``rows`` to a temporary file, then rename it onto ``file``.

    ``rows`` may stream from the file itself: it is replaced only once they are all written.

    :param read_from: the status of the file that ``rows`` come from (``None``: it did not exist)
    :raises FileChangedError: when the file is no longer the one ``read_from`` describes
    :raises OSError: when the folder cannot be written
    """

    def write(out: BinaryIO) -> None:
        text = io.TextIOWrapper(out, encoding=layout.encoding, newline="")
        writer = csv.writer(
            text, delimiter=file.delimiter, quotechar=file.quotechar, lineterminator=layout.lineterminator
        )
        writer.writerow(header)
        writer.writerows(rows)
        text.flush()
        text.detach()  # the temporary file stays open: replace_atomically syncs and closes it

    replace_atomically(file.path, file.shown, write, read_from=read_from)
