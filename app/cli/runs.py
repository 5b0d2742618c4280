"""Commands that move records or report on them: run, preview, status."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from app.cli.app import EXIT_FAILED, EXIT_OK, ConfigOption, cli, open_workspace, usage_error
from app.cli.output import output
from app.config.validation import closest
from app.engine.preview import PreviewRow, preview
from app.engine.process import tune_garbage_collection
from app.engine.project import Workspace
from app.engine.runner import RunOptions, open_engine
from app.engine.status import read_status
from app.errors import BryggaError
from app.mapping.testing import show
from app.store import Counts, RunInfo

COUNT_NAMES = ("read", "created", "updated", "deleted", "unchanged", "skipped", "failed")


def _check_names(workspace: Workspace, names: list[str]) -> None:
    for name in names:
        if name not in workspace.project.syncs:
            guess = closest(name, list(workspace.project.syncs))
            usage_error(f"no sync named '{name}'" + (f" (did you mean '{guess}'?)" if guess else ""))


def counts_text(counts: Counts) -> str:
    values = counts.as_dict()
    return ", ".join(f"{name} {values[name]}" for name in COUNT_NAMES)


@cli.command()
def run(
    syncs: Annotated[list[str], typer.Argument(help="The sync(s) to run, in this order.", show_default=False)],
    full: Annotated[bool, typer.Option("--full", help="Ignore the stored cursor: read everything.")] = False,
    config: ConfigOption = None,
) -> None:
    """Run syncs now, with a progress bar on a terminal, and print their counts."""
    workspace = open_workspace(config)
    _check_names(workspace, syncs)
    tune_garbage_collection()
    try:
        runs = asyncio.run(_run_all(workspace, syncs, full))
    except BryggaError as exc:
        output.warn(f"error: {exc}", style="red")
        raise typer.Exit(EXIT_FAILED) from None
    raise typer.Exit(EXIT_OK if all(run.status == "succeeded" for run in runs) else EXIT_FAILED)


async def _run_all(workspace: Workspace, names: list[str], full: bool) -> list[RunInfo]:
    finished = []
    async with open_engine(workspace) as engine:
        for name in names:
            started = time.monotonic()
            with _progress(name) as progress:
                run_info = await engine.run(name, RunOptions(full=full, progress=progress))
            _report(run_info, time.monotonic() - started)
            if run_info.counts.failed:
                _show_failures(await engine.failures(run_info.id))
            finished.append(run_info)
    return finished


@contextmanager
def _progress(name: str) -> Iterator[Any]:
    """A live line of counts while a run goes on, on a terminal only."""
    if not output.out.is_terminal:
        yield None
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=output.out, transient=True) as bar:
        task = bar.add_task(name)

        def update(counts: Counts) -> None:
            bar.update(task, description=f"{name}: {counts_text(counts)}")

        yield update


def _report(run_info: RunInfo, seconds: float) -> None:
    style = {"succeeded": "green", "partial": "yellow"}.get(run_info.status, "bold red")
    output.say(f"{run_info.sync}: {run_info.status} in {seconds:.1f}s (run {run_info.id})", style=style)
    output.say(f"  {counts_text(run_info.counts)}")
    if run_info.error:
        output.say(f"  error: {run_info.error}", style="red")


def _show_failures(failed: list[tuple[str, str]], most: int = 10) -> None:
    for source_key, error in failed[:most]:
        output.say(f"  failed {source_key}: {error}", style="red")
    if len(failed) > most:
        output.say(f"  … and {len(failed) - most} more; they are dead letters, retried at later runs")


@cli.command("preview")
def preview_command(
    sync: Annotated[str, typer.Argument(help="The sync to preview.", show_default=False)],
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many records to read.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    config: ConfigOption = None,
) -> None:
    """Read from the source and show the action each record would get; writes nothing."""
    workspace = open_workspace(config)
    _check_names(workspace, [sync])
    try:
        rows = asyncio.run(_preview(workspace, sync, limit))
    except BryggaError as exc:
        usage_error(str(exc))
    if as_json:
        output.say(json.dumps([_row_json(row) for row in rows], ensure_ascii=False, indent=2, default=str))
    else:
        _preview_table(rows)


async def _preview(workspace: Workspace, name: str, limit: int) -> list[PreviewRow]:
    async with open_engine(workspace, to_read=True) as engine:
        return await preview(engine, name, limit)


def _row_json(row: PreviewRow) -> dict[str, Any]:
    return {
        "source_key": row.source_key,
        "action": row.action,
        "target_key": row.target_key,
        "changes": {name: {"from": old, "to": new} for name, (old, new) in row.changes.items()},
        "record": row.mapped,
        "error": row.error,
        "note": row.note,
    }


def _preview_table(rows: list[PreviewRow]) -> None:
    table = Table("source key", "action", "target key", "details", show_lines=False)
    table.columns[0].overflow = table.columns[2].overflow = "fold"
    redact = output.secrets.redact
    for row in rows:
        if row.error or row.note:
            details = row.error or row.note or ""
        elif row.changes:
            details = "; ".join(f"{name}: {show(old)} → {show(new)}" for name, (old, new) in row.changes.items())
        elif row.action == "create" and row.mapped is not None:
            details = ", ".join(f"{name}: {show(value)}" for name, value in row.mapped.items())
        else:
            details = ""
        table.add_row(redact(row.source_key), row.action, redact(row.target_key or ""), redact(details))
    output.show(table)
    summary = Counter(row.action for row in rows)
    output.say(", ".join(f"{count} {action}" for action, count in summary.items()) or "no records to read")


@cli.command()
def status(config: ConfigOption = None) -> None:
    """Every sync's last run and dead-letter count, from the state database."""
    workspace = open_workspace(config)
    try:
        last, dead = asyncio.run(read_status(workspace))
    except BryggaError as exc:
        output.warn(f"error: {exc}", style="red")
        raise typer.Exit(EXIT_FAILED) from None
    table = Table("sync", "last run", "counts", "dead letters")
    table.columns[0].overflow = "fold"
    for name in workspace.project.syncs:
        run_info = last.get(name)
        if run_info is None:
            table.add_row(name, "never", "", str(dead.get(name, 0)))
            continue
        finished = f"{run_info.finished_at:%Y-%m-%d %H:%M}" if run_info.finished_at else "running"
        done = [f"{value} {key}" for key, value in run_info.counts.as_dict().items() if value]
        table.add_row(
            name, f"{run_info.status} ({finished})", ", ".join(done) or "nothing read", str(dead.get(name, 0))
        )
    output.show(table)
