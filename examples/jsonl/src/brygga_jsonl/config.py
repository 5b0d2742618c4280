"""Options of a ``jsonl`` system and its streams, as a project's YAML gives them."""

from __future__ import annotations

from pydantic import Field

from connectors.base import StreamOptions, SystemOptions


class JsonLinesStream(StreamOptions):
    """One JSON Lines file in the system's folder: a JSON object a line."""

    file: str = Field(description="The file's name, relative to the system's folder.")


class JsonLinesSystem(SystemOptions):
    """A folder of JSON Lines files."""

    path: str = Field(description="The folder, relative to the project file.")
    streams: dict[str, JsonLinesStream]  # type: ignore[assignment]
