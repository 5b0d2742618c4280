"""``brygga init``: a commented starting project, one source system, one target system and one sync.

The files are templates shipped in the package (``app/cli/templates/``), one
per connector kind and role, so each kind's snippet reads like a hand-written
config and stays next to its siblings. Every ``${VAR}`` has a default: the new
project passes ``brygga validate`` and ``brygga test`` before anything is
exported, and its comments point at the docs for the next step.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Annotated

import typer

from app.cli.app import ConfigOption, cli, usage_error
from app.cli.output import output

TEMPLATES = files("app.cli") / "templates"
MAPPING_FILE = Path("mappings") / "customers.yaml"


@dataclass(frozen=True)
class Side:
    """One end of the starting sync: the system's name and the words its template is filled with."""

    name: str
    kind: str
    role: str
    port: int

    def snippet(self) -> str:
        text = (TEMPLATES / f"{self.kind}-{self.role}.yaml").read_text(encoding="utf-8")
        words = {"name": self.name, "var": self.name.upper(), "file": self.name, "port": str(self.port)}
        return _fill(text, words)


def template_kinds() -> list[str]:
    """The connector kinds ``init`` can start from: those with a source and a target template."""
    names = {entry.name for entry in TEMPLATES.iterdir()}
    return sorted(name.removesuffix("-source.yaml") for name in names if name.endswith("-source.yaml"))


def _fill(text: str, words: dict[str, str]) -> str:
    for word, value in words.items():
        text = text.replace(f"<<{word}>>", value)
    return text


def _check_kind(kind: str, option: str) -> None:
    kinds = template_kinds()
    if kind not in kinds:
        usage_error(f"{option} {kind}: init has no template for that connector kind (it has: {', '.join(kinds)})")


def project_files(source: Side, target: Side) -> dict[Path, str]:
    """What ``init`` writes, by path relative to the project folder."""
    project = (TEMPLATES / "brygga.yaml").read_text(encoding="utf-8")
    project = _fill(project, {"source_system": source.snippet(), "target_system": target.snippet()})
    mapping = (TEMPLATES / "mapping.yaml").read_text(encoding="utf-8")
    words = {
        "source": f"{source.name}.customers",
        "target": f"{target.name}.customers",
        "source_system": source.name,
        "target_system": target.name,
    }
    return {Path("brygga.yaml"): project, MAPPING_FILE: _fill(mapping, words)}


def _check_places(directory: Path, paths: list[Path]) -> None:
    """Before anything is written: every file's place can take a file (a folder there, or a file where a
    folder must go, would leave the project half written)."""
    for path in paths:
        place = directory / path
        if place.is_dir():
            usage_error(f"{place} is a folder: nothing written (move it away, or choose another folder)")
        for parent in reversed(place.parents):
            if (parent.exists() and not parent.is_dir()) or (parent.is_symlink() and not parent.exists()):
                usage_error(f"{parent} is not a folder: nothing written (choose another folder)")


@cli.command()
def init(
    directory: Annotated[
        Path, typer.Argument(help="The project folder; created if missing.", show_default="the current folder")
    ] = Path(),
    source_kind: Annotated[str, typer.Option("--from", help="The source system's connector kind.")] = "rest",
    target_kind: Annotated[str, typer.Option("--to", help="The target system's connector kind.")] = "sql",
    force: Annotated[bool, typer.Option("--force", help="Overwrite files that exist already.")] = False,
    config: ConfigOption = None,  # taken as by every command (SPEC 6); init writes DIRECTORY's
) -> None:
    """Write a commented starting brygga.yaml and one sync in mappings/, ready for `brygga validate`."""
    _check_kind(source_kind, "--from")
    _check_kind(target_kind, "--to")
    written = project_files(Side("crm", source_kind, "source", 8080), Side("erp", target_kind, "target", 8081))
    try:
        existing = [path for path in written if (directory / path).exists()]
        _check_places(directory, list(written))
    except OSError as exc:  # a name too long for the file system, a folder that cannot be looked into
        usage_error(f"cannot write in {directory}: {exc.strerror or exc}: choose another folder")
    if existing and not force:
        shown = ", ".join(str(directory / path) for path in existing)
        verb = "exists" if len(existing) == 1 else "exist"
        usage_error(f"{shown} {verb} already: nothing written (use --force to overwrite)")
    for path, text in written.items():
        try:
            (directory / path).parent.mkdir(parents=True, exist_ok=True)
            (directory / path).write_text(text, encoding="utf-8")
        except OSError as exc:
            usage_error(f"cannot write {directory / path}: {exc.strerror or exc}: choose another folder")
        output.say(f"wrote {directory / path}")
    output.say(
        f"next: edit them for your systems, then `brygga validate` and `brygga test`"
        f"{'' if directory == Path() else f' in {directory}'} (docs/tutorial.md walks through it)",
        style="green",
    )
