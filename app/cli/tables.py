"""The CLI's tables (``brygga status``, ``brygga preview``): every text cell printed as written, on one line.

Rich reads the text of a cell as markup: a sync's or record's key such as ``[red]x[/red]`` printed in red,
``[link=…]`` made a link on a terminal, and ``[/]`` made the command fail. Text from config files and from
business systems is no markup, and a line end in it would print a row that is none of ours.
"""

from __future__ import annotations

from typing import Any

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from app.cli.output import output


class PlainTable(Table):
    """A rich table whose text cells are plain text, on one line, secrets scrubbed."""

    def add_row(self, *renderables: RenderableType | None, **options: Any) -> None:
        cells = [Text(output.shown(cell, one_line=True)) if isinstance(cell, str) else cell for cell in renderables]
        super().add_row(*cells, **options)
