"""Hostile files, as opposed to hostile text: each one a config issue at its place, never a traceback or a hang.

The broken-configs table covers what can be written as YAML text; this one
covers what cannot: bytes that are not UTF-8, a file far too large, a folder,
a pipe, a device or a symlink loop where a file is expected. What could hang
or exhaust memory when handled wrongly (a pipe, ``/dev/zero``) runs in the
real CLI, under a timeout.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from app.config import ConfigIssue, files, read_project
from app.config.files import MAX_FILE_BYTES, MAX_MATCHES
from tests.cli.helpers import run_brygga
from tests.conftest import MINIMAL_PROJECT, ProjectWriter

SYNC = "source: crm.contacts\ntarget: erp.customers\nfields:\n  customer_no: id\n"
AFTER_MINIMAL = MINIMAL_PROJECT.count("\n") + 1

Arrange = Callable[[Path], Path]
"""Given the project folder (with the minimal project in it), spoil it; return the project file to read."""


def sync_bytes(raw: bytes) -> Arrange:
    def arrange(root: Path) -> Path:
        (root / "mappings").mkdir()
        (root / "mappings" / "a.yaml").write_bytes(raw)
        return root / "brygga.yaml"

    return arrange


def huge_sync(root: Path) -> Path:
    (root / "mappings").mkdir()
    with (root / "mappings" / "a.yaml").open("wb") as stream:
        stream.truncate(MAX_FILE_BYTES + 1)  # sparse: no disk is spent on it
    return root / "brygga.yaml"


def folder_as_project(root: Path) -> Path:
    (root / "project.yaml").mkdir()
    return root / "project.yaml"


def project_inside_a_file(root: Path) -> Path:
    return root / "brygga.yaml" / "brygga.yaml"


def symlink_loop(root: Path) -> Path:
    (root / "mappings").mkdir()
    (root / "mappings" / "a.yaml").symlink_to("a.yaml")
    return root / "brygga.yaml"


def explicit_folder(root: Path) -> Path:
    (root / "mappings" / "crm.yaml").mkdir(parents=True)
    (root / "brygga.yaml").write_text(MINIMAL_PROJECT + "mappings: [mappings/crm.yaml]\n", encoding="utf-8")
    return root / "brygga.yaml"


def cannot_read(root: Path) -> Path:
    (root / "brygga.yaml").chmod(0)
    return root / "brygga.yaml"


CASES = [
    pytest.param(
        sync_bytes(SYNC.encode() + "description: Kund i Malmö\n".encode("cp1252")),
        ("mappings/a.yaml", 5, 25, "not UTF-8 text (byte 0xf6): save the file as UTF-8"),
        id="cp1252",
    ),
    pytest.param(
        sync_bytes(SYNC.encode("utf-16")),
        ("mappings/a.yaml", 1, 1, "the file is UTF-16 text: save it as UTF-8"),
        id="utf-16",
    ),
    pytest.param(
        sync_bytes(SYNC.encode("utf-32")),
        ("mappings/a.yaml", 1, 1, "the file is UTF-32 text: save it as UTF-8"),
        id="utf-32",
    ),
    pytest.param(
        sync_bytes(SYNC.encode("utf-32-be")),
        ("mappings/a.yaml", 1, 1, "the file is UTF-32 text: save it as UTF-8"),
        id="utf-32-big-endian-without-a-byte-order-mark",
    ),
    pytest.param(
        sync_bytes(b"\xef\xbb\xbf" + SYNC.encode() + b"description: \xef\xbb\xbf\x00\n"),
        ("mappings/a.yaml", 5, 15, "a NUL character (U+0000) cannot be in a YAML file: remove it"),
        id="bom-then-a-nul-byte",
    ),
    pytest.param(
        huge_sync,
        ("mappings/a.yaml", 1, 1, "the file is 10,485,761 bytes, more than the 10 MiB a config file may be: is it the"),
        id="over-10-mib",
    ),
    pytest.param(
        folder_as_project,
        ("project.yaml", 1, 1, "this is a folder, not a file: name the file, such as brygga.yaml or mappings/*.yaml"),
        id="project-file-that-is-a-folder",
    ),
    pytest.param(
        project_inside_a_file,
        ("brygga.yaml/brygga.yaml", 1, 1, "cannot read the file: Not a directory"),
        id="project-file-under-a-file",
    ),
    pytest.param(
        symlink_loop,
        ("mappings/a.yaml", 1, 1, "cannot read the file: Too many levels of symbolic links"),
        id="symlink-loop",
    ),
    pytest.param(
        explicit_folder,
        ("brygga.yaml", AFTER_MINIMAL, 12, "mappings[0]: 'mappings/crm.yaml' is a folder: name the files in it"),
        id="mappings-entry-that-is-a-folder",
    ),
    pytest.param(
        cannot_read,
        ("brygga.yaml", 1, 1, "cannot read the file: permission denied: let the user that runs brygga read it"),
        id="unreadable",
        marks=pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file"),
    ),
]


@pytest.mark.parametrize(("arrange", "expected"), CASES)
def test_a_hostile_file_is_an_issue_at_its_place(
    write_project: ProjectWriter, arrange: Arrange, expected: tuple[str, int, int, str]
) -> None:
    root = write_project({}).parent
    project = arrange(root)

    _, issues = read_project(project, {})

    found = [(issue.file.relative_to(root).as_posix(), issue.line, issue.col, issue.message) for issue in issues]
    file, line, col, message = expected
    # Show the whole message where the expected start is missing, so a failure reads as a diff.
    assert [(f, ln, c, message if m.startswith(message) else m) for f, ln, c, m in found] == [
        (file, line, col, message)
    ]


def test_a_glob_skips_folders_and_the_project_file(write_project: ProjectWriter) -> None:
    project = write_project({"brygga.yaml": MINIMAL_PROJECT + "mappings: ['*.yaml', 'mappings/**']\n", "a.yaml": SYNC})
    (project.parent / "mappings" / "folder.yaml").mkdir(parents=True)

    loaded, issues = read_project(project, {})

    assert issues == []
    assert list(loaded.syncs) == ["a"]


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        pytest.param(
            os.mkfifo,
            "mappings/a.yaml:1:1: not a regular file (a pipe, socket or device): name a file",
            id="a-pipe-no-one-writes",
        ),
        pytest.param(
            lambda path: path.symlink_to("/dev/zero"),
            f"brygga.yaml:{AFTER_MINIMAL}:12: mappings[0]: 'mappings/a.yaml' (matched by 'mappings/*.yaml')"
            " leads through a symlink to /dev/zero, outside the project's folder",
            id="a-link-to-dev-zero",
        ),
    ],
)
def test_a_file_that_never_ends_is_refused_unread(
    write_project: ProjectWriter, make: Callable[[Path], None], expected: str
) -> None:
    project = write_project({"brygga.yaml": MINIMAL_PROJECT + "mappings: [mappings/*.yaml]\n"})
    (project.parent / "mappings").mkdir()
    make(project.parent / "mappings" / "a.yaml")

    result = run_brygga("validate", "-c", str(project), cwd=project.parent, timeout=30)

    assert result.returncode == 2
    assert result.stderr.splitlines()[0].startswith(expected), result.stderr
    assert result.stderr.splitlines()[1:] == ["1 config error"]


def test_links_to_the_folder_itself_do_not_make_an_endless_walk(write_project: ProjectWriter) -> None:
    """Two links to ``.`` under a ``**`` once made the walk grow without end (validate ran for ever, serve
    never started, a reload froze the service); one made 40 copies of every sync."""
    project = write_project(
        {"brygga.yaml": MINIMAL_PROJECT + "mappings: ['mappings/**/*.yaml']\n", "mappings/a.yaml": SYNC}
    )
    (project.parent / "mappings" / "here").symlink_to(".")
    (project.parent / "mappings" / "again").symlink_to(".")
    (project.parent / "mappings" / "up").symlink_to("..")

    result = run_brygga("validate", "-c", str(project), cwd=project.parent, timeout=60)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["ok: 2 systems, 1 sync (brygga.yaml)"]


@pytest.mark.parametrize("pattern", ["mappings/*.yaml", "mappings/**/*.yaml", "mappings/passwd.yaml"])
def test_a_link_to_a_file_outside_the_project_is_refused(write_project: ProjectWriter, pattern: str) -> None:
    project = write_project({"brygga.yaml": MINIMAL_PROJECT + f"mappings: ['{pattern}']\n", "mappings/a.yaml": SYNC})
    outside = project.parent.parent / f"{project.parent.name}-outside.yaml"
    outside.write_text(SYNC.replace("customer_no", "secret_no"), encoding="utf-8")
    (project.parent / "mappings" / "passwd.yaml").symlink_to(outside)

    result = run_brygga("validate", "-c", str(project), cwd=project.parent, timeout=60)

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"brygga.yaml:{AFTER_MINIMAL}:12: mappings[0]: 'mappings/passwd.yaml' (matched by '{pattern}') leads through"
        f" a symlink to {outside}, outside the project's folder ({project.parent}): sync files live in it; copy the"
        " file in, or link to one inside it",
        "1 config error",
    ]


def test_a_link_to_a_folder_outside_the_project_is_not_walked(write_project: ProjectWriter) -> None:
    project = write_project(
        {"brygga.yaml": MINIMAL_PROJECT + "mappings: ['mappings/**/*.yaml']\n", "mappings/a.yaml": SYNC}
    )
    outside = project.parent.parent / f"{project.parent.name}-outside"
    (outside / "deep").mkdir(parents=True)
    (outside / "deep" / "b.yaml").write_text(SYNC, encoding="utf-8")
    (project.parent / "mappings" / "shared").symlink_to(outside)

    loaded, issues = read_project(project, {})

    assert issues == []
    assert list(loaded.syncs) == ["a"]


def test_a_link_to_a_sync_file_inside_the_project_is_read(write_project: ProjectWriter) -> None:
    project = write_project({"brygga.yaml": MINIMAL_PROJECT + "mappings: ['mappings/*.yaml']\n", "shared/b.yaml": SYNC})
    (project.parent / "mappings").mkdir()
    (project.parent / "mappings" / "b.yaml").symlink_to("../shared/b.yaml")

    loaded, issues = read_project(project, {})

    assert issues == []
    assert list(loaded.syncs) == ["b"]


def test_a_pattern_matching_too_many_files_is_refused(write_project: ProjectWriter) -> None:
    project = write_project({"brygga.yaml": MINIMAL_PROJECT + "mappings: ['many/*.txt']\n"})
    (project.parent / "many").mkdir()
    for number in range(MAX_MATCHES + 1):
        (project.parent / "many" / f"{number}.txt").touch()

    _, issues = read_project(project, {})

    assert [(issue.line, issue.message) for issue in issues] == [
        (
            AFTER_MINIMAL,
            f"mappings[0]: 'many/*.txt' matches more than {MAX_MATCHES:,} files (or walks more than 100,000"
            " folders): is it the right pattern? name the folder the sync files are in, such as mappings/*.yaml",
        )
    ]


def test_a_file_swapped_for_a_pipe_after_it_was_looked_at_is_refused_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sync file replaced by a pipe between the look at it and its opening (a deploy swapping files while a
    reload reads them): opening a pipe nobody writes waits for ever, and a reload (or ``serve``) with it."""
    pipe = tmp_path / "a.yaml"
    os.mkfifo(pipe)
    monkeypatch.setattr(files, "_file_problem", lambda file: None)  # it was a regular file when looked at
    issues: list[ConfigIssue] = []
    texts: list[str | None] = []
    reading = threading.Thread(target=lambda: texts.append(files.read_config_text(pipe, issues)), daemon=True)

    reading.start()
    reading.join(timeout=10)

    if reading.is_alive():  # let it go: a writer that opens and closes the pipe ends its wait
        os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
        reading.join(timeout=10)
        pytest.fail("opening the pipe waited for a writer")
    assert texts == [None]
    assert [(issue.file, issue.message) for issue in issues] == [
        (pipe, "not a regular file (a pipe, socket or device): name a file")
    ]
