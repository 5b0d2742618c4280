"""A real ``brygga serve`` in a subprocess on a free loopback port, and an HTTP client that keeps every answer.

``ServeProcess`` starts the console script, waits for ``GET /health`` within a
deadline, captures stdout and stderr to files, and on :meth:`ServeProcess.stop`
ends it with SIGTERM (SIGKILL after a deadline) and checks that nothing of its
process group is left.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

BRYGGA = Path(sys.executable).parent / "brygga"
START_DEADLINE = 30.0
STOP_DEADLINE = 15.0


class ServeFailedError(AssertionError):
    """``brygga serve`` did not come up, or did not go away; the message carries its log."""


def free_port() -> int:
    """A TCP port nobody listens on right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until(check: Callable[[], bool], deadline: float, what: str, interval: float = 0.02) -> None:
    """Call ``check`` until it is true; fail naming ``what`` after ``deadline`` seconds."""
    end = time.monotonic() + deadline
    while not check():
        if time.monotonic() > end:
            raise AssertionError(f"gave up after {deadline:.0f}s waiting for {what}")
        time.sleep(interval)


class ServeProcess:
    """``brygga serve -c CONFIG --host HOST --port PORT``; ``url`` (on 127.0.0.1) once it answers ``/health``.

    :param config: the project file
    :param env: variables added to a clean environment (no inherited ``BRYGGA_*``)
    :param logs: the folder for ``serve.out`` and ``serve.err``
    :param host: the address it listens on (``0.0.0.0`` takes 127.0.0.1 too)
    :param open_files: its (soft, hard) limit of open files (``None`` for hard: the one it inherits)
    """

    def __init__(
        self,
        config: Path,
        env: Mapping[str, str],
        logs: Path,
        host: str = "127.0.0.1",
        open_files: tuple[int, int | None] | None = None,
    ) -> None:
        self.config = config
        self.env = env
        self.logs = logs
        self.host = host
        self.open_files = open_files
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.returncode: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServeProcess:
        """Start it and wait until it answers; a port taken in between is tried again with another.

        Cut off while it waits (a test's timeout under load), it is stopped on the way out: the caller never
        got it to stop, and a ``brygga serve`` outlived its test run."""
        for _ in range(3):
            self._spawn(free_port())
            try:
                answered = self._wait_for_health()
            except BaseException:
                with contextlib.suppress(ServeFailedError):
                    self._end()
                raise
            if answered:
                return self
            log = self.log()
            self._end()
            if "address already in use" not in log.lower():
                raise ServeFailedError(f"brygga serve did not start (exit {self.returncode}):\n{log}")
        raise ServeFailedError(f"brygga serve found no free port:\n{self.log()}")

    def _spawn(self, port: int) -> None:
        environment = {key: value for key, value in os.environ.items() if not key.startswith("BRYGGA_")}
        environment.update({"NO_COLOR": "1", "PYTHONUNBUFFERED": "1", **self.env})
        self.logs.mkdir(parents=True, exist_ok=True)
        self.port = port
        with (self.logs / "serve.out").open("ab") as out, (self.logs / "serve.err").open("ab") as err:
            self.process = subprocess.Popen(
                [
                    *self._limits(),
                    str(BRYGGA),
                    "serve",
                    "-c",
                    str(self.config),
                    "--host",
                    self.host,
                    "--port",
                    str(port),
                ],
                cwd=self.config.parent,
                env=environment,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: stop() can check that none of it is left
            )

    def _limits(self) -> list[str]:
        """The start of the command: a shell that sets the open-files limit, then becomes ``brygga serve``."""
        if self.open_files is None:
            return []
        soft, hard = self.open_files
        limits = f"ulimit -S -n {soft}" + (f" && ulimit -H -n {hard}" if hard is not None else "")
        return ["sh", "-c", f'{limits} && exec "$0" "$@"']

    def _wait_for_health(self) -> bool:
        """Whether it listens (its own log says so: no other server on that port) and answers ``/health``,
        before it exited or the deadline passed."""
        assert self.process is not None
        listening = f"Uvicorn running on http://{self.host}:{self.port}"
        end = time.monotonic() + START_DEADLINE
        with httpx.Client(base_url=self.url, timeout=2) as client:
            while time.monotonic() < end:
                if self.process.poll() is not None:
                    return False
                if listening in self.log():
                    with contextlib.suppress(httpx.TransportError):
                        if client.get("/health").status_code == 200:
                            return True
                time.sleep(0.05)
        return False

    def stop(self) -> int:
        """SIGTERM, wait (SIGKILL after :data:`STOP_DEADLINE`), check its process group is gone; the exit code."""
        self._end()
        assert self.returncode is not None
        return self.returncode

    def _end(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_DEADLINE)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(STOP_DEADLINE)
        self.returncode = process.returncode
        try:  # anything it started in its session would still be in its process group
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        raise ServeFailedError(f"processes of brygga serve (group {process.pid}) were left behind; killed")

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        """Everything it wrote to stdout and stderr so far."""
        parts = []
        for name in ("serve.out", "serve.err"):
            path = self.logs / name
            if path.exists():
                parts.append(path.read_text(encoding="utf-8", errors="replace"))
        return "\n".join(parts)


@dataclass(frozen=True)
class Exchange:
    """One request the tests made, and the answer it got."""

    method: str
    url: str
    status: int
    headers: list[tuple[str, str]]
    body: str


class Api:
    """An HTTP client for one server, asking with ``token`` (``None``: none); every answer goes to ``exchanges``."""

    def __init__(self, url: str, exchanges: list[Exchange], token: str | None = None) -> None:
        self.url = url
        self.exchanges = exchanges
        self.token = token
        self.client = httpx.Client(base_url=url, timeout=15, event_hooks={"response": [self._keep]})

    def _keep(self, response: httpx.Response) -> None:
        response.read()
        self.exchanges.append(
            Exchange(
                response.request.method,
                str(response.request.url),
                response.status_code,
                list(response.headers.multi_items()),
                response.text,
            )
        )

    def as_(self, token: str | None) -> Api:
        """The same server, client and record of answers, asking with another token."""
        other = Api.__new__(Api)
        other.url, other.exchanges, other.token, other.client = self.url, self.exchanges, token, self.client
        return other

    def request(self, method: str, path: str, **options: Any) -> httpx.Response:
        headers = dict(options.pop("headers", {}))
        if self.token is not None:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        return self.client.request(method, path, headers=headers, **options)

    def get(self, path: str, **options: Any) -> httpx.Response:
        return self.request("GET", path, **options)

    def post(self, path: str, **options: Any) -> httpx.Response:
        return self.request("POST", path, **options)

    def delete(self, path: str, **options: Any) -> httpx.Response:
        return self.request("DELETE", path, **options)

    def json(self, method: str, path: str, expect: int = 200, **options: Any) -> Any:
        """The JSON answer of a request that must answer ``expect``."""
        response = self.request(method, path, **options)
        assert response.status_code == expect, f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content else None

    def pages(self, path: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Each page of a list, following ``next`` to the end (at most 100 pages)."""
        cursor: str | None = None
        for _ in range(100):
            page: dict[str, Any] = self.json("GET", path, params={**params, **({"cursor": cursor} if cursor else {})})
            yield page
            cursor = page["next"]
            if cursor is None:
                return
        raise AssertionError(f"{path}: still a next page after 100")

    def wait_for_run(self, run_id: int, deadline: float = 20) -> dict[str, Any]:
        """Poll the run until it is no longer ``running``, then its sync until it is no longer ``running``
        (the run is marked finished a moment before its lease is let go); the finished run."""
        found: dict[str, Any] = {}

        def finished() -> bool:
            found.update(self.json("GET", f"/api/v1/runs/{run_id}"))
            return bool(found["status"] != "running")

        def let_go() -> bool:
            return bool(self.json("GET", f"/api/v1/syncs/{found['sync']}")["status"] != "running")

        wait_until(finished, deadline, f"run {run_id} to finish", interval=0.02)
        wait_until(let_go, deadline, f"sync {found['sync']} to end its run {run_id}", interval=0.02)
        return found

    def close(self) -> None:
        self.client.close()
