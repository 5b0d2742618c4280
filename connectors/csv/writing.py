"""Applying a batch of writes to a stream's file: check each write, then rewrite the file once, atomically."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

from connectors.base import Write, WriteResult
from connectors.csv.changes import WritePlan
from connectors.csv.files import (
    CsvFile,
    CsvFileError,
    Layout,
    RowReader,
    errors_translated,
    key_columns,
    new_file_layout,
)
from connectors.csv.rewrite import write_atomically
from connectors.table_file.changes import new_columns
from connectors.table_file.replace import file_lock


def write_batch(
    file: CsvFile, key: Sequence[str], writes: Sequence[Write], new_header: Sequence[str] | None
) -> list[WriteResult]:
    """Apply ``writes`` to ``file`` in one atomic rewrite; one result per write, in order. Blocks.

    A write that cannot be applied (no key, an unknown column, a value the
    encoding cannot hold) fails alone, in its result. When the file itself
    cannot be rewritten, nothing is written and the error is raised.

    :param new_header: the columns of a file that does not exist yet (or is empty), in order;
        ``None``: the key columns, then the records' fields in the order they first appear
    :raises CsvFileError: when the file cannot be read or its folder cannot be written (permanent)
    :raises TransientError: when the rewrite failed for a passing reason (a full disk, the file changed meanwhile)
    """
    header = list(new_header) if new_header is not None else new_columns(key, writes)
    with file_lock(file.path), errors_translated(file):
        if not file.path.exists():
            return _rewrite(file, key, writes, header=header, layout=new_file_layout(file), rows=[], read_from=None)
        with RowReader(file) as reader:
            rows: Iterable[list[str]]
            if not reader.header:  # an empty file: as if there were none
                layout, rows = new_file_layout(file), []
            else:
                header, layout, rows = reader.header, reader.layout, reader.rows()
            return _rewrite(file, key, writes, header=header, layout=layout, rows=rows, read_from=reader.stat)


def _rewrite(
    file: CsvFile,
    key: Sequence[str],
    writes: Sequence[Write],
    *,
    header: list[str],
    layout: Layout,
    rows: Iterable[list[str]],
    read_from: os.stat_result | None,
) -> list[WriteResult]:
    key_columns(file, header, key)
    plan = WritePlan(file, header, key)
    results = [plan.result(write) for write in writes]
    if plan.empty:
        return results
    try:
        write_atomically(file, layout, header, plan.rows(rows), read_from=read_from)
    except PermissionError as exc:
        folder = file.path.parent
        raise CsvFileError(
            file.shown,
            f"Brygga may not create a file in {folder}: a rewrite writes a temporary file next to this one "
            "and renames it, so the folder itself must be writable",
        ) from exc
    return results
