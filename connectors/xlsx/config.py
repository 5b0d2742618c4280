"""Options of an ``xlsx`` system and its streams (SPEC 4)."""

from __future__ import annotations

from pydantic import Field

from connectors.base import StreamOptions, WholeNumber
from connectors.table_file.config import FileName, FolderSystem


class XlsxStream(StreamOptions):
    """One sheet of a workbook in the system's folder."""

    file: FileName = Field(description="The workbook's name (.xlsx), relative to the system's folder.")
    sheet: str | None = Field(None, description="The sheet's name; the workbook's first sheet when left out.")
    header_row: WholeNumber = Field(
        1, ge=1, le=1_048_576, description="The row (counting from 1) that names the columns; data rows follow it."
    )


class XlsxSystem(FolderSystem):
    """A folder of Excel workbooks."""

    streams: dict[str, XlsxStream]  # type: ignore[assignment]
