"""Commands that move records: run, preview."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from app.cli.app import (
    EXIT_FAILED,
    EXIT_OK,
    ConfigOption,
    check_sync_names,
    cli,
    open_workspace,
    service_settings,
    usage_error,
)
from app.cli.event_loop import run_async
from app.cli.output import output
from app.config import Needs
from app.engine import (
    RunOptions,
    Workspace,
    in_after_order,
    keep_large_blocks_apart,
    open_engine,
    tune_garbage_collection,
)
from app.mapping import show

if TYPE_CHECKING:  # runs and their counts as the engine hands them over; preview's rows
    from app.engine import PreviewRow
    from app.store import Counts, RunInfo

COUNT_NAMES = ("read", "created", "updated", "deleted", "unchanged", "skipped", "failed")


def _check_names(workspace: Workspace, names: list[str]) -> None:
    check_sync_names(names, workspace.project.syncs)


def counts_text(counts: Counts) -> str:
    values = counts.as_dict()
    return ", ".join(f"{name} {values[name]}" for name in COUNT_NAMES)


@cli.command()
def run(
    syncs: Annotated[
        list[str] | None, typer.Argument(help="The sync(s) to run, in this order.", show_default=False)
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="Run every sync, each after the one its after: names.")] = False,
    full: Annotated[bool, typer.Option("--full", help="Ignore the stored cursor: read everything.")] = False,
    config: ConfigOption = None,
) -> None:
    """Run syncs now, with a progress bar on a terminal, and print their counts."""
    if every and syncs:
        usage_error("give sync names or --all, not both")
    if not every and not syncs:
        usage_error("name the syncs to run, or give --all (every sync, after: order kept)")
    workspace = open_workspace(config, Needs.running(None if every else syncs))
    names = in_after_order(workspace.project.syncs) if every else list(syncs or [])
    _check_names(workspace, names)
    tune_garbage_collection()
    keep_large_blocks_apart()
    runs = run_async(_run_all(workspace, names, full, chained=every))
    ok = len(runs) == len(names) and all(run.status == "succeeded" for run in runs)
    raise typer.Exit(EXIT_OK if ok else EXIT_FAILED)


async def _run_all(workspace: Workspace, names: list[str], full: bool, chained: bool) -> list[RunInfo]:
    """Run ``names`` in turn; when ``chained`` (``--all``), a sync whose ``after:`` sync did not get
    through is skipped, as the service would not start it. Each run counts towards its sync's status, as
    the service's runs do (``brygga status`` shows ``failing`` after a few failed runs in a row)."""
    finished: list[RunInfo] = []
    through: dict[str, bool] = {}
    async with open_engine(workspace, last=True) as engine:
        for name in names:
            after = workspace.project.syncs[name].after
            if chained and after is not None and not through.get(after, True):
                output.say(f"{name}: skipped: it runs after {after}, which failed", style="yellow")
                through[name] = False
                continue
            started = time.monotonic()
            with _progress(name) as progress:
                run_info = await engine.run(name, RunOptions(full=full, progress=progress))
            await engine.count_outcome(name, run_info.status == "failed", service_settings)
            _report(run_info, time.monotonic() - started)
            if run_info.counts.failed:
                _show_failures(await engine.failures(run_info.id, SHOWN_FAILURES), run_info.counts.failed)
            through[name] = run_info.status in ("succeeded", "partial")
            finished.append(run_info)
    return finished


@contextmanager
def _progress(name: str) -> Iterator[Any]:
    """A live line of counts while a run goes on, on a terminal only."""
    if not output.styles_stdout():
        yield None
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn  # noqa: PLC0415 - a terminal's only

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
    if run_info.counts_by_direction is not None:
        for direction in ("to_b", "to_a"):
            part = run_info.counts_by_direction.get(direction)
            if part is not None:
                output.say(f"    {direction}: {counts_text(part)}")
        output.say(f"    conflicts settled: {run_info.conflicts}")
    if run_info.error:
        output.say(f"  error: {run_info.error}", style="red", one_line=True)


SHOWN_FAILURES = 10
"""The failed records ``brygga run`` names; the others are counted."""


def _show_failures(shown: list[tuple[str, str]], failed: int) -> None:
    for source_key, error in shown:
        output.say(f"  failed {source_key}: {error}", style="red", one_line=True)
    if failed > len(shown):
        output.say(f"  … and {failed - len(shown)} more; they are dead letters, retried at later runs")


@cli.command("preview")
def preview_command(
    sync: Annotated[str, typer.Argument(help="The sync to preview.", show_default=False)],
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many records to read.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    config: ConfigOption = None,
) -> None:
    """Read from the source and show the action each record would get; writes nothing."""
    workspace = open_workspace(config, Needs.running([sync]))
    _check_names(workspace, [sync])
    rows = run_async(_preview(workspace, sync, limit))
    if as_json:
        output.say(json.dumps([_row_json(row) for row in rows], ensure_ascii=False, indent=2, default=str))
    else:
        _preview_table(rows)


async def _preview(workspace: Workspace, name: str, limit: int) -> list[PreviewRow]:
    from app.engine import preview_sync  # noqa: PLC0415 - preview's only (and two-way preview's), not a run's

    async with open_engine(workspace, to_read=True, last=True) as engine:
        return await preview_sync(engine, name, limit)


def _row_json(row: PreviewRow) -> dict[str, Any]:
    direction = {"direction": row.direction} if row.direction is not None else {}
    return direction | {
        "source_key": row.source_key,
        "action": row.action,
        "target_key": row.target_key,
        "changes": {name: {"from": old, "to": new} for name, (old, new) in row.changes.items()},
        "record": row.mapped,
        "error": row.error,
        "note": row.note,
    }


def _preview_table(rows: list[PreviewRow]) -> None:
    from app.cli.tables import PlainTable  # noqa: PLC0415 - preview's only, not a run's (it imports rich)

    table = PlainTable("source key", "action", "target key", "details", show_lines=False)
    table.columns[0].overflow = table.columns[2].overflow = "fold"
    for row in rows:
        if row.error or row.note:
            details = row.error or row.note or ""
        elif row.changes:
            details = "; ".join(f"{name}: {show(old)} → {show(new)}" for name, (old, new) in row.changes.items())
        elif row.action == "create" and row.mapped is not None:
            details = ", ".join(f"{name}: {show(value)}" for name, value in row.mapped.items())
        else:
            details = ""
        action = f"{row.direction} {row.action}" if row.direction else row.action
        table.add_row(row.source_key, action, row.target_key or "", details)
    output.show(table)
    summary = Counter(row.action for row in rows)
    output.say(", ".join(f"{count} {action}" for action, count in summary.items()) or "no records to read")
