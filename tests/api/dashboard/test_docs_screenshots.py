"""docs/operations.md shows every dashboard page, with screenshots the browser tests take."""

from __future__ import annotations

import re
from pathlib import Path

from tests.api.dashboard.conftest import DOCS_IMAGES

OPERATIONS = DOCS_IMAGES.parent / "operations.md"
TESTS = Path(__file__).with_name("test_pages.py")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_BYTES = 150 * 1024


def taken_by_tests() -> set[str]:
    """Every screenshot name the browser tests take (``checked(page, screens, "overview")``)."""
    return set(re.findall(r'checked\(page, screens, "([a-z-]+)"\)', TESTS.read_text(encoding="utf-8")))


def test_every_page_the_browser_tests_visit_has_a_screenshot_in_the_docs() -> None:
    names = taken_by_tests()
    assert {"sign-in", "overview", "overview-failing", "sync", "run", "record", "webhook-events"} <= names
    shown = set(re.findall(r"\(images/dashboard-([a-z-]+)\.png\)", OPERATIONS.read_text(encoding="utf-8")))
    assert names - shown == set(), "pages missing from docs/operations.md"
    for name in sorted(names):
        image = DOCS_IMAGES / f"dashboard-{name}.png"
        assert image.is_file(), f"{image} is missing: run tests/api/dashboard with BRYGGA_UPDATE_SCREENSHOTS=1"
        data = image.read_bytes()
        assert data.startswith(PNG_SIGNATURE), f"{image} is not a PNG"
        assert len(data) <= MAX_BYTES, f"{image} is {len(data)} bytes: keep screenshots small"
    unused = {path.name for path in DOCS_IMAGES.glob("dashboard-*.png")} - {f"dashboard-{n}.png" for n in names}
    assert unused == set(), "screenshots no test takes any more: remove them"
