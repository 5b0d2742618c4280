"""The option every file kind's system has: the folder its streams' files are in."""

from __future__ import annotations

from pydantic import Field

from connectors.base import SystemOptions


class FolderSystem(SystemOptions):
    """A folder of files, one (or one sheet of one) per stream."""

    path: str = Field(description="The folder, relative to the project file.")
