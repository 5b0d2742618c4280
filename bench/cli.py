"""Start-up of whole ``brygga`` processes, against bare Python, in one run (issue 18).

Run: ``.venv/bin/python -m bench.cli [--rounds N] [--write]``; needs no database server.

A temporary copy of the quickstart project gets its sample systems (``brygga demo``) and a first
run; then each round starts, in turn and in a rotating order, ``python -c pass``, ``brygga --help``,
``brygga validate`` and a nothing-changed ``brygga run`` of both quickstart syncs, timing each whole
process (wall clock, from start to exit) and reading its peak RSS. The medians are compared with
bare Python measured in the same rounds, so a busy machine slows both sides alike.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import NamedTuple

from bench.results import write_section

REPO = Path(__file__).resolve().parents[1]
BRYGGA = str(Path(sys.executable).parent / "brygga")
SYNCS = ("crm-companies-to-erp-accounts", "crm-contacts-to-erp-customers")

COMMANDS: dict[str, tuple[list[str], float | None]] = {
    "`python -c pass`": ([sys.executable, "-c", "pass"], None),
    "`brygga --help`": ([BRYGGA, "--help"], 0.25),
    "`brygga validate`": ([BRYGGA, "validate"], 0.25),
    "`brygga run` (nothing changed)": ([BRYGGA, "run", *SYNCS], 0.5),
}
"""Each command, and its goal: at most this many seconds more than bare Python."""


def _quickstart(folder: Path) -> None:
    """The quickstart project in ``folder``, its sample systems created and synced once."""
    shutil.copy(REPO / "brygga.yaml", folder / "brygga.yaml")
    shutil.copytree(REPO / "mappings", folder / "mappings")
    for args in (["demo"], ["run", *SYNCS]):
        subprocess.run([BRYGGA, *args], cwd=folder, capture_output=True, check=True)


def user_environment() -> dict[str, str]:
    """The environment of each process: no ``BRYGGA_`` settings, and Brygga's bytecode written and read
    as a user's would be. With ``PYTHONDONTWRITEBYTECODE`` (set on some machines) this editable install's
    own modules were compiled from source at every start: 0.03–0.09 s more per command."""
    unwanted = ("BRYGGA_", "PYTHONDONTWRITEBYTECODE")
    environment = {key: value for key, value in os.environ.items() if not key.startswith(unwanted)}
    return {**environment, "NO_COLOR": "1", "COLUMNS": "100"}


class Figures(NamedTuple):
    """One process: seconds from start to exit, CPU seconds it used (user and system), peak RSS in MiB."""

    seconds: float
    cpu: float
    mib: float


def measure(command: list[str], folder: Path) -> Figures:
    """The figures of one process running ``command``."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=folder, env=user_environment(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{command} exited {process.returncode}: {process.stderr.read().decode()}")  # type: ignore[union-attr]
    process.stderr.close()  # type: ignore[union-attr]
    return Figures(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def rounds(count: int) -> dict[str, list[Figures]]:
    """Each command's figures over ``count`` rounds, the commands interleaved."""
    names = list(COMMANDS)
    figures: dict[str, list[Figures]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        _quickstart(folder)
        for name in names:  # one untimed pass each: files cached, bytecode written
            measure(COMMANDS[name][0], folder)
        for round_number in range(count):
            shift = round_number % len(names)
            for command in names[shift:] + names[:shift]:
                figures[command].append(measure(COMMANDS[command][0], folder))
    return figures


def report(figures: dict[str, list[Figures]], count: int) -> str:
    bare = statistics.median(f.seconds for f in figures["`python -c pass`"])
    bare_cpu = statistics.median(f.cpu for f in figures["`python -c pass`"])
    rows, goals = [], []
    for name, (_, goal) in COMMANDS.items():
        seconds = statistics.median(f.seconds for f in figures[name])
        cpu = statistics.median(f.cpu for f in figures[name])
        memory = max(f.mib for f in figures[name])
        rows.append(
            f"| {name} | {seconds:.3f} | {seconds - bare:+.3f} | {seconds / bare:.1f}× "
            f"| {cpu:.3f} | {cpu - bare_cpu:+.3f} | {memory:.0f} MiB |"
        )
        if goal is not None:
            met = "met" if seconds - bare <= goal else "**not met**"
            goals.append(f"- {name}: **{seconds - bare:+.2f} s** of bare Python (goal at most +{goal:.2f} s): {met}")
    table = "\n".join(rows)
    return (
        textwrap.dedent(f"""\
        Whole processes on the quickstart project (SQLite CRM → CSV ERP, state in SQLite), after `brygga demo`
        and a first run; median of {count} interleaved rounds, Python {sys.version.split()[0]}, on a machine
        shared with other work (bare Python measured in the same rounds). CPU is the process's user and
        system time: what it costs whatever else the machine is doing; the goals are on the wall clock.

        | command | seconds | vs bare Python | ratio | CPU seconds | CPU vs bare Python | peak RSS |
        | --- | ---: | ---: | ---: | ---: | ---: | ---: |
        """)
        + table
        + "\n\n"
        + "\n".join(goals)
        + "\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--write", action="store_true", help="write the figures to bench/RESULTS.md")
    options = parser.parse_args()
    text = report(rounds(options.rounds), options.rounds)
    print(text)
    if options.write:
        write_section("CLI start-up (`python -m bench.cli`)", text)


if __name__ == "__main__":
    main()
