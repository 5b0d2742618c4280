"""A sync's runs as a chart, drawn here as SVG: records by action per run, and each run's duration.

Drawn on the server so the page needs no charting script: oldest run on the
left, one stacked bar per run, and a second band below with the run's
duration. Colours come from the stylesheet's classes (``a-created``, ...); the
legend names each, and every bar has a ``<title>`` saying its numbers, so the
chart is readable without telling colours apart (the runs table says it all too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from markupsafe import Markup, escape

if TYPE_CHECKING:  # runs as the engine hands them over
    from app.store import RunInfo

ACTIONS = ("created", "updated", "deleted", "unchanged", "skipped", "failed")
WIDTH, LEFT, TOP, BARS_HEIGHT, GAP, DURATION_HEIGHT = 720, 48, 16, 130, 34, 50
SLOTS = 30
"""Room for this many runs at least: a few runs are drawn as narrow bars on the right, not as wide blocks."""

DURATION_TOP = TOP + BARS_HEIGHT + GAP


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    run: RunInfo


def runs_chart(runs: list[RunInfo]) -> Markup:
    """The chart of ``runs`` (newest first, as listed); an empty string for none."""
    if not runs:
        return Markup("")
    ordered = list(reversed(runs))
    slots = max(len(ordered), SLOTS)
    step = (WIDTH - LEFT) / slots
    first = LEFT + (slots - len(ordered)) * step  # the newest run at the right edge
    bars = [Bar(first + index * step + step * 0.15, max(step * 0.7, 1.0), run) for index, run in enumerate(ordered)]
    most = max(1, *(sum(getattr(bar.run.counts, action) for action in ACTIONS) for bar in bars))
    longest = max(0.001, *(_seconds(bar.run) for bar in bars))
    height = TOP + BARS_HEIGHT + GAP + DURATION_HEIGHT + 4
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="chart-title">',
        f'<title id="chart-title">{len(runs)} runs, oldest on the left: records by action, and duration</title>',
        _axis(TOP, BARS_HEIGHT, f"{most:,}", "records by action"),
        _axis(DURATION_TOP, DURATION_HEIGHT, _duration_text(longest), "duration"),
    ]
    for bar in bars:
        parts.append(_stack(bar, most))
        parts.append(_duration(bar, longest))
    parts.append("</svg>")
    return Markup("".join(parts))


def _axis(top: float, height: float, most: str, what: str) -> str:
    """A band's base and top lines, its scale (0 and ``most``) on the left, and above it what it shows."""
    bottom = top + height
    return (
        f'<line class="axis" x1="{LEFT}" y1="{bottom}" x2="{WIDTH}" y2="{bottom}"/>'
        f'<line class="grid" x1="{LEFT}" y1="{top}" x2="{WIDTH}" y2="{top}"/>'
        f'<text class="tick" x="{LEFT - 4}" y="{top + 4}" text-anchor="end">{escape(most)}</text>'
        f'<text class="tick" x="{LEFT - 4}" y="{bottom}" text-anchor="end">0</text>'
        f'<text class="label" x="{LEFT}" y="{top - 5}">{escape(what)}</text>'
    )


def _stack(bar: Bar, most: int) -> str:
    counts = bar.run.counts
    described = ", ".join(f"{getattr(counts, action)} {action}" for action in ACTIONS if getattr(counts, action))
    if bar.run.conflicts:
        described = f"{described or 'nothing read'}, {bar.run.conflicts} conflicts"
    parts = [f"<g><title>Run {bar.run.id} ({bar.run.status}): {escape(described or 'nothing read')}</title>"]
    y = float(TOP + BARS_HEIGHT)
    for action in ACTIONS:
        count = getattr(counts, action)
        if not count:
            continue
        size = count / most * BARS_HEIGHT
        y -= size
        parts.append(
            f'<rect class="a-{action}" x="{bar.x:.1f}" y="{y:.1f}" width="{bar.width:.1f}" height="{size:.1f}"/>'
        )
    middle = bar.x + bar.width / 2
    if bar.run.status == "failed":  # a failed run may have written nothing: mark it all the same
        parts.append(f'<text class="mark" x="{middle:.1f}" y="{y - 3:.1f}" text-anchor="middle">✕</text>')
        y -= 14
    if bar.run.conflicts:  # a two-way run's conflicts: counted above its bar
        text = f"⇄{bar.run.conflicts}"
        parts.append(f'<text class="conflicts" x="{middle:.1f}" y="{y - 3:.1f}" text-anchor="middle">{text}</text>')
    parts.append("</g>")
    return "".join(parts)


def _duration(bar: Bar, longest: float) -> str:
    seconds = _seconds(bar.run)
    size = max(seconds / longest * DURATION_HEIGHT, 1.0)
    bottom = DURATION_TOP + DURATION_HEIGHT
    return (
        f"<g><title>Run {bar.run.id}: {_duration_text(seconds)}</title>"
        f'<rect class="duration" x="{bar.x:.1f}" y="{bottom - size:.1f}" width="{bar.width:.1f}" height="{size:.1f}"/>'
        "</g>"
    )


def _seconds(run: RunInfo) -> float:
    if run.finished_at is None:
        return 0.0
    return max((run.finished_at - run.started_at).total_seconds(), 0.0)


def _duration_text(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min"
