"""What every file kind's options have: the folder its streams' files are in, and a file's name in it."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from connectors.base import SystemOptions


def _file_name(value: str) -> str:
    if not value.strip():
        raise ValueError("is empty: name the file, relative to the system's folder")
    if "\x00" in value:
        raise ValueError("holds a NUL byte, which no file name can: name the file, relative to the system's folder")
    if value.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] in (".", ".."):
        raise ValueError(f"'{value}' names a folder, not a file: name the file, relative to the system's folder")
    return value


FileName = Annotated[str, AfterValidator(_file_name)]
"""A stream's file: not empty, and not a folder."""


class FolderSystem(SystemOptions):
    """A folder of files, one (or one sheet of one) per stream."""

    path: str = Field(description="The folder, relative to the project file.")
