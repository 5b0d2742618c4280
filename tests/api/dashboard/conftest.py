"""Real headless Chromium (Debian's ``chromium`` package) driven by Playwright against a real ``brygga serve``.

Every request the browser makes is routed through :class:`LoopbackOnly`: one to
any host but 127.0.0.1 is refused and fails the test. Screenshots go to the
test's temporary folder; with ``BRYGGA_UPDATE_SCREENSHOTS=1`` also to
``docs/images/`` (what docs/operations.md shows).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Route, sync_playwright

from tests.services import services_required

CHROMIUM = os.environ.get("BRYGGA_TEST_CHROMIUM", "/usr/bin/chromium")
DOCS_IMAGES = Path(__file__).resolve().parents[3] / "docs" / "images"
UPDATE_SCREENSHOTS = os.environ.get("BRYGGA_UPDATE_SCREENSHOTS") == "1"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def chromium() -> str:
    """Chromium's path; the test is skipped without it (a failure under ``BRYGGA_REQUIRE_SERVICES=1``)."""
    found = shutil.which(CHROMIUM) or shutil.which("chromium")
    if found:
        return found
    message = f"no Chromium at {CHROMIUM}: install Debian's package (apt-get install -y chromium)"
    if services_required():
        pytest.fail(f"{message}; BRYGGA_REQUIRE_SERVICES=1 requires it")
    pytest.skip(message)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """Playwright's driver, for one test module at a time: while it runs, its event loop is this thread's,
    and async tests (of other modules) could not run their own."""
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    path = chromium()
    args = ["--no-sandbox"] if os.geteuid() == 0 else []  # root has no user namespace sandbox to drop into
    launched = playwright.chromium.launch(executable_path=path, headless=True, args=args)
    yield launched
    launched.close()


@dataclass
class LoopbackOnly:
    """Lets requests to 127.0.0.1 through and aborts (and keeps) any other."""

    refused: list[str] = field(default_factory=list)

    def __call__(self, route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
            return
        self.refused.append(route.request.url)
        route.abort("blockedbyclient")


@dataclass
class Screens:
    """Writes screenshots of pages under the test's folder (and, when asked, into docs/images/)."""

    folder: Path
    taken: list[Path] = field(default_factory=list)

    def take(self, page: Page, name: str) -> Path:
        path = self.folder / f"dashboard-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)
        if UPDATE_SCREENSHOTS:
            DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, DOCS_IMAGES / path.name)
        return path


@pytest.fixture
def screens(tmp_path: Path) -> Screens:
    folder = tmp_path / "screenshots"
    folder.mkdir()
    return Screens(folder)


@pytest.fixture
def guard() -> LoopbackOnly:
    return LoopbackOnly()


@pytest.fixture
def context(browser: Browser, guard: LoopbackOnly) -> Iterator[BrowserContext]:
    """A fresh browser profile at 1280×800 whose every request passes :class:`LoopbackOnly`; the test fails
    on any error the pages' console shows (a script or style the Content-Security-Policy blocked, a script
    error)."""
    opened = browser.new_context(viewport=DESKTOP)  # type: ignore[arg-type]
    opened.set_default_timeout(20_000)
    opened.route("**/*", guard)
    errors: list[str] = []
    opened.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    opened.on("weberror", lambda error: errors.append(str(error.error)))
    yield opened
    opened.close()
    assert guard.refused == [], f"requests left 127.0.0.1: {guard.refused}"
    assert [e for e in errors if not _expected(e)] == [], "the pages' console shows errors"


def _expected(error: str) -> bool:
    """Errors the tests cause on purpose: a refused form answers 403, a wrong token 401; and ReDoc's "API docs
    by Redocly" logo, which its script loads from its makers' host and /redoc's policy refuses."""
    return "status of 403" in error or "status of 401" in error or "https://cdn.redoc.ly/" in error


def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on ``page``, each with its rule, impact and elements."""
    found = Axe().run(page).response["violations"]
    return [
        {"rule": v["id"], "impact": v["impact"], "help": v["help"], "where": [n["target"] for n in v["nodes"]]}
        for v in found
        if v["impact"] in ("serious", "critical")
    ]
