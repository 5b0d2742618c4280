"""Saving a workbook atomically (:mod:`connectors.table_file.replace`).

Excel, LibreOffice, a backup or a crash at any moment see either the old workbook whole or the new one
whole, never a half-written ``prices.xlsx``.
"""

from __future__ import annotations

import os

import openpyxl

from connectors.table_file.replace import TEMP_SUFFIX, FileChangedError, replace_atomically
from connectors.xlsx.workbook import XlsxFile

__all__ = ["TEMP_SUFFIX", "FileChangedError", "save_atomically"]


def save_atomically(file: XlsxFile, workbook: openpyxl.Workbook, *, read_from: os.stat_result | None) -> None:
    """Save ``workbook`` to a temporary file beside ``file``, then rename it onto ``file``.

    :param read_from: the status of the file the workbook was loaded from (``None``: it did not exist)
    :raises FileChangedError: when the file is no longer the one ``read_from`` describes
    :raises OSError: when the folder cannot be written
    """
    replace_atomically(file.path, file.shown, workbook.save, read_from=read_from, noun="workbook")
