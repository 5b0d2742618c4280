"""Run the real ``brygga`` console script in a subprocess."""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

BRYGGA = Path(sys.executable).parent / "brygga"


def run_brygga(
    *args: str, cwd: Path | None = None, env: Mapping[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``brygga ARGS…`` with a clean environment plus ``env``; output captured as text."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("BRYGGA_")}
    environment.update({"NO_COLOR": "1", "COLUMNS": "200", **(env or {})})
    return subprocess.run(
        [str(BRYGGA), *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout, check=False
    )


@contextmanager
def silent_api_project(folder: Path) -> Iterator[Callable[[], int]]:
    """A project in ``folder`` whose sync ``orders`` reads system ``shop``, a REST API that takes connections
    and never answers (they wait in a listening socket's backlog), with a `timeout` of 300 ms; yields a
    function that counts the connections made to it so far."""
    with socket.create_server(("127.0.0.1", 0), backlog=16) as listener:
        port = listener.getsockname()[1]
        (folder / "brygga.yaml").write_text(
            "version: 1\nsystems:\n"
            f"  shop: {{connector: rest, base_url: 'http://127.0.0.1:{port}', timeout: 300ms,"
            " streams: {orders: {path: /orders, key: id}}}\n"
            "  db: {connector: sql, url: 'sqlite:///db.sqlite', streams: {orders: {table: orders, key: id}}}\n"
        )
        (folder / "mappings").mkdir()
        (folder / "mappings" / "orders.yaml").write_text("source: shop.orders\ntarget: db.orders\nfields: {id: id}\n")
        with contextlib.closing(sqlite3.connect(folder / "db.sqlite")) as db, db:
            db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
        listener.setblocking(False)
        made = 0

        def connections() -> int:
            nonlocal made
            with contextlib.suppress(BlockingIOError):
                while True:
                    listener.accept()[0].close()
                    made += 1
            return made

        yield connections
