"""CSV files in and out of a sync: encodings intact, and no partial file after a crash (SPEC 4)."""

from __future__ import annotations

import csv
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from app.engine.runner import RunOptions, open_engine
from app.engine.workspace import open_workspace
from connectors.csv import reading as csv_reading
from tests.cli.helpers import BRYGGA

LETTERS = "åäöÅÄÖ"

PROJECT = """\
version: 1
state: sqlite:///state.db
systems:
  exports:
    connector: csv
    path: exports
    batch_size: {batch_size}
    streams:
      nordic: {{file: nordic.csv, key: id, delimiter: ";", encoding: cp1252}}
      bom: {{file: bom.csv, key: id}}
      customers: {{file: customers.csv, key: customer_no, delimiter: ";", encoding: cp1252}}
  db:
    connector: sql
    url: sqlite:///db.sqlite
    batch_size: {batch_size}
    streams:
      people: {{table: people, key: id}}
"""

INTO_DB = """\
source: exports.{stream}
target: db.people
fields:
  id: {{from: id, type: integer}}
  name: name
  city: city
"""

INTO_CSV = """\
source: db.people
target: exports.customers
fields:
  customer_no: id
  name: name
  city: city
"""


def _project(tmp_path: Path, batch_size: int = 1000) -> Path:
    (tmp_path / "exports").mkdir()
    (tmp_path / "mappings").mkdir()
    (tmp_path / "brygga.yaml").write_text(PROJECT.format(batch_size=batch_size))
    for stream in ("nordic", "bom"):
        (tmp_path / "mappings" / f"{stream}.yaml").write_text(INTO_DB.format(stream=stream))
    (tmp_path / "mappings" / "out.yaml").write_text(INTO_CSV)
    with sqlite3.connect(tmp_path / "db.sqlite") as connection:
        connection.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, city TEXT)")
    connection.close()
    return tmp_path / "brygga.yaml"


async def _run(project: Path, sync: str) -> str:
    async with open_engine(open_workspace(project, environ={})) as engine:
        run = await engine.run(sync, RunOptions())
    assert run.error is None, run.error
    return run.status


def _people(project: Path) -> list[tuple[object, ...]]:
    connection = sqlite3.connect(project.parent / "db.sqlite")
    try:
        return list(connection.execute("SELECT id, name, city FROM people ORDER BY id"))
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("stream", "content"),
    [
        ("nordic", f"id;name;city\r\n1;Åsa Öberg;Umeå\r\n2;Jörgen Ärlig;{LETTERS}\r\n".encode("cp1252")),
        ("bom", "\ufeffid,name,city\n1,Åsa Öberg,Umeå\n2,Jörgen Ärlig,åäöÅÄÖ\n".encode()),
    ],
    ids=["semicolon cp1252", "utf-8 with a BOM"],
)
async def test_a_csv_export_syncs_into_sqlite_with_every_letter_intact(
    tmp_path: Path, stream: str, content: bytes
) -> None:
    project = _project(tmp_path)
    (tmp_path / "exports" / f"{stream}.csv").write_bytes(content)

    assert await _run(project, stream) == "succeeded"

    assert _people(project) == [(1, "Åsa Öberg", "Umeå"), (2, "Jörgen Ärlig", LETTERS)]


async def test_a_key_repeated_in_the_file_writes_its_last_row_and_skips_the_earlier_saying_why(tmp_path: Path) -> None:
    project = _project(tmp_path)
    (tmp_path / "exports" / "bom.csv").write_text("id,name,city\n1,Anna,Umeå\n2,Bo,Lund\n1,Carl,Kiruna\n")

    for round_ in (1, 2):  # the second run: the last row unchanged, the earlier one skipped again
        async with open_engine(open_workspace(project, environ={})) as engine:
            run = await engine.run("bom", RunOptions())
            log = await engine.store.history.log(run.id, None, 100)
        counts = run.counts
        assert (counts.read, counts.created, counts.unchanged, counts.skipped) == (
            (3, 2, 0, 1) if round_ == 1 else (3, 0, 2, 1)
        )
        skipped = [(entry.source_key, entry.error) for entry in log if entry.action == "skipped"]
        assert skipped == [("1", "its key is read again later in the same batch: the later record is the one written")]
        assert _people(project) == [(1, "Carl", "Kiruna"), (2, "Bo", "Lund")]


async def test_the_very_same_row_without_a_key_twice_in_a_batch_fails_once_and_keeps_its_dead_letter(
    tmp_path: Path,
) -> None:
    """Two identical rows without a key (one stand-in key, one dead letter) counted two failures in the first
    run and one in the next, and the next run's skipped repeat cleared the dead letter the other still needed."""
    project = _project(tmp_path)
    (tmp_path / "exports" / "bom.csv").write_text("id,name,city\n1,Anna,Umeå\n,Bo,Lund\n,Bo,Lund\n")

    for round_ in (1, 2):
        async with open_engine(open_workspace(project, environ={})) as engine:
            run = await engine.run("bom", RunOptions())
            log = await engine.store.history.log(run.id, None, 100)
            letters = await engine.store.dead_letters("bom")
        counts = run.counts
        assert (counts.read, counts.created, counts.unchanged, counts.skipped, counts.failed) == (
            (3, 1, 0, 1, 1) if round_ == 1 else (3, 0, 1, 1, 1)
        )
        skipped = [entry.error for entry in log if entry.action == "skipped"]
        assert skipped == [
            "the very same record is read again later in the same batch: it fails once, as the later one"
        ]
        assert [(letter.source_key.startswith("(no key) "), letter.attempts) for letter in letters] == [(True, round_)]


async def test_a_record_failing_twice_in_one_run_is_one_attempt_of_its_dead_letter(tmp_path: Path) -> None:
    """Read in two batches, the same row without a key failed twice in one run: its dead letter counted two
    attempts, and gave up on later runs a run early."""
    project = _project(tmp_path, batch_size=1)
    (tmp_path / "exports" / "bom.csv").write_text("id,name,city\n,Bo,Lund\n,Bo,Lund\n")

    async with open_engine(open_workspace(project, environ={})) as engine:
        await engine.run("bom", RunOptions())
        letters = await engine.store.dead_letters("bom")

    assert [letter.attempts for letter in letters] == [1]


async def test_sqlite_into_csv_writes_cp1252_with_a_header(tmp_path: Path) -> None:
    project = _project(tmp_path)
    with sqlite3.connect(tmp_path / "db.sqlite") as connection:
        connection.execute("INSERT INTO people VALUES (1, 'Åsa Öberg', 'Umeå'), (2, 'Bo', NULL)")
    connection.close()

    assert await _run(project, "out") == "succeeded"

    text = (tmp_path / "exports" / "customers.csv").read_bytes().decode("cp1252")
    assert list(csv.reader(text.splitlines(), delimiter=";")) == [
        ["customer_no", "name", "city"],
        ["1", "Åsa Öberg", "Umeå"],
        ["2", "Bo", ""],
    ]


def test_a_run_killed_while_writing_a_csv_leaves_no_partial_file(tmp_path: Path) -> None:
    rows = 150_000
    project = _project(tmp_path, batch_size=100_000)
    with sqlite3.connect(tmp_path / "db.sqlite") as connection:
        connection.executemany(
            "INSERT INTO people VALUES (?, ?, ?)", ((n, f"Person {n} {LETTERS}", "Umeå" * 10) for n in range(rows))
        )
    connection.close()
    target, folder = tmp_path / "exports" / "customers.csv", tmp_path / "exports"
    command = [str(BRYGGA), "run", "out", "-c", str(project)]

    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not any(path.name.endswith(".brygga-tmp") for path in folder.iterdir()):
            assert process.poll() is None, "the run ended before it began writing the file"
            assert time.monotonic() < deadline, "no temporary file appeared within 60s"
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        process.kill()

    assert process.returncode == -signal.SIGKILL
    assert not target.exists(), "a killed first write must leave no customers.csv at all"

    again = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)

    assert again.returncode == 0, again.stdout + again.stderr
    with target.open(encoding="cp1252", newline="") as file:
        written = list(csv.reader(file, delimiter=";"))
    assert len(written) == rows + 1
    assert written[-1] == [str(rows - 1), f"Person {rows - 1} {LETTERS}", "Umeå" * 10]


def _export_project(tmp_path: Path, sync_options: str) -> Path:
    """A project whose sync ``people`` reads an ERP's export ``exports/people.csv`` (six people, batches of
    two) into SQLite (``delete: hard``, for a mirror), with ``sync_options`` in its file; the export's path."""
    for folder in ("exports", "mappings"):
        (tmp_path / folder).mkdir()
    (tmp_path / "brygga.yaml").write_text(
        "version: 1\nstate: sqlite:///state.db\nsystems:\n"
        "  erp: {connector: csv, path: exports, batch_size: 2, streams: {people: {file: people.csv, key: id}}}\n"
        "  db: {connector: sql, url: 'sqlite:///db.sqlite',"
        " streams: {people: {table: people, key: id, delete: hard}}}\n"
    )
    (tmp_path / "mappings" / "people.yaml").write_text(
        f"source: erp.people\ntarget: db.people\n{sync_options}fields:\n  id: {{from: id, type: integer}}\n"
        "  name: name\n"
    )
    with sqlite3.connect(tmp_path / "db.sqlite") as connection:
        connection.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, city TEXT)")
    connection.close()
    export = tmp_path / "exports" / "people.csv"
    export.write_text("id,name\n" + "".join(f"{n},Person {n}\n" for n in range(1, 7)))
    return export


async def test_a_mirror_sync_deletes_nothing_for_an_export_read_while_it_is_being_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ERP writes its export in place; Brygga's scheduled run reads it meanwhile. The read saw the file cut
    short (the export begun anew, two rows written so far), took that for the whole file, and the mirror
    sync deleted the target records of every row not written yet. Now the read fails for now, is tried
    again after the sync's retry wait, by then of the finished export, and nothing is deleted."""
    export = _export_project(tmp_path, "mode: mirror\n")
    whole = export.read_text()
    assert await _run(tmp_path / "brygga.yaml", "people") == "succeeded"

    scan = csv_reading.RecordScan.records

    exported: list[bool] = []

    def records_while_exported(self: csv_reading.RecordScan, size: int) -> list[dict[str, object]] | None:
        read = scan(self, size)
        if read and not exported:  # the export begins anew in place while Brygga reads on
            exported.append(True)
            with export.open("r+") as erp:
                erp.truncate(0)
                erp.write("id,name\n1,Person 1\n2,Person 2\n")
        return read

    async def export_finished(seconds: float) -> None:  # the sync's retry wait: the ERP finishes meanwhile
        export.write_text(whole)

    monkeypatch.setattr(csv_reading.RecordScan, "records", records_while_exported)
    async with open_engine(open_workspace(tmp_path / "brygga.yaml", environ={}), export_finished) as engine:
        run = await engine.run("people", RunOptions())

    assert (run.status, run.counts.deleted) == ("succeeded", 0), run.error
    assert [row[0] for row in _people(tmp_path / "brygga.yaml")] == [1, 2, 3, 4, 5, 6]


async def test_a_file_written_on_and_on_fails_the_run_after_the_syncs_retries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each read of a file that another program writes on and on fails at its end: the read starts over,
    its batches made it look as if it got further, and the run re-read the file for ever."""
    export = _export_project(tmp_path, "retry: {attempts: 3, backoff: 0s, max_backoff: 0s}\n")
    scan = csv_reading.RecordScan.records
    reads: list[int] = []

    def records_written_on(self: csv_reading.RecordScan, size: int) -> list[dict[str, object]] | None:
        read = scan(self, size)
        if read and read[0]["id"] == "1":
            reads.append(1)
            if len(reads) > 10:
                raise RuntimeError("re-read for ever")
            with export.open("a") as erp:
                erp.write(f"{100 + len(reads)},Person\n")
        return read

    monkeypatch.setattr(csv_reading.RecordScan, "records", records_written_on)
    async with open_engine(open_workspace(tmp_path / "brygga.yaml", environ={})) as engine:
        run = await engine.run("people", RunOptions())

    assert run.status == "failed"
    assert "exports/people.csv: the file changed while it was read (" in (run.error or "")
    assert len(reads) == 3
