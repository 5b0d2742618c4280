"""A ``csv`` system in a temporary project folder, built from a real ``brygga.yaml``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from app.config import load_project
from connectors.base import Batch, Connector, create_connector
from connectors.csv.connector import CsvConnector

SystemMaker = Callable[..., CsvConnector]


def write_system(root: Path, streams: Mapping[str, str], *, path: str = "files", batch_size: int = 1000) -> Path:
    """Write ``root/brygga.yaml`` with one ``csv`` system named ``files``; each stream a YAML flow mapping."""
    lines = ["version: 1", "systems:", "  files:", "    connector: csv", f"    path: {path}"]
    lines += [f"    batch_size: {batch_size}", "    streams:"]
    lines += [f"      {name}: {options}" for name, options in streams.items()]
    project = root / "brygga.yaml"
    project.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return project


def csv_system(root: Path, streams: Mapping[str, str], *, path: str = "files", batch_size: int = 1000) -> CsvConnector:
    """The connector of the project's ``files`` system, made the way the engine makes it (by entry point)."""
    project = load_project(write_system(root, streams, path=path, batch_size=batch_size), environ={})
    connector = create_connector(project.systems["files"])
    assert isinstance(connector, CsvConnector)
    return connector


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """The system's folder, ``files/`` in the project folder."""
    created = tmp_path / "files"
    created.mkdir()
    return created


@pytest.fixture
def system(tmp_path: Path, folder: Path) -> SystemMaker:
    """Make a connector for streams given as YAML flow mappings: ``system(customers="{file: c.csv, key: id}")``."""

    def make(batch_size: int = 1000, **streams: str) -> CsvConnector:
        return csv_system(tmp_path, streams, batch_size=batch_size)

    return make


async def read_all(connector: Connector, stream: str, batch_size: int = 1000) -> list[Batch]:
    return [batch async for batch in connector.read(stream, None, batch_size)]


async def records_of(connector: Connector, stream: str) -> list[dict[str, object]]:
    return [record for batch in await read_all(connector, stream) for record in batch.records]


def temp_files(folder: Path) -> list[str]:
    """Temporary files a rewrite left in ``folder``."""
    return sorted(entry.name for entry in folder.iterdir() if entry.name.endswith(".brygga-tmp"))
