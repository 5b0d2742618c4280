"""``/docs`` and ``/redoc`` of a real ``brygga serve`` work offline: every file they load comes from the service.

Swagger UI and ReDoc are pages that load scripts, styles and an icon; by
default FastAPI points them at public CDNs, and offline (a plant network, a
laptop on a train) the page is blank. Each page here may name only paths of
the service itself, and each of those must answer with its file.
"""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser

import pytest

from tests.api.conftest import ApiProject, ServeFactory

CONTENT_TYPES = {
    ".js": ("text/javascript", "application/javascript"),  # by the Python version's table
    ".css": ("text/css",),
    ".png": ("image/png",),
    ".json": ("application/json",),
}


class References(HTMLParser):
    """The URLs a page loads: ``src`` and ``href`` of its elements, and ReDoc's ``spec-url``."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in ("src", "href", "spec-url") and value]


def references(html: str) -> list[str]:
    parser = References()
    parser.feed(html)
    return parser.urls + re.findall(r"""\burl: ['"]([^'"]+)['"]""", html)  # Swagger UI's description, in its script


def expected_types(url: str) -> tuple[str, ...]:
    suffix = re.search(r"\.[a-z]+$", url)
    return CONTENT_TYPES[suffix.group() if suffix else ".json"]


@pytest.mark.parametrize(("page", "marker"), [("/docs", "SwaggerUIBundle"), ("/redoc", "<redoc")])
def test_an_api_description_page_loads_only_the_services_own_files(
    serve: ServeFactory, project: ApiProject, page: str, marker: str
) -> None:
    api = serve(project).anonymous

    answer = api.get(page)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    assert marker in answer.text
    assert not re.search(r"(?i)\b(https?:)?//[a-z0-9]", answer.text), "an address of another host in the page"
    urls = references(answer.text)
    assert "/openapi.json" in urls and any(url.endswith(".js") for url in urls), urls
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
        loaded = api.get(url)
        assert loaded.status_code == 200, url
        assert loaded.headers["content-type"].startswith(expected_types(url)), (url, loaded.headers["content-type"])
        assert len(loaded.content) > 1000 if url.endswith(".js") else loaded.content, url


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_an_api_description_page_runs_only_the_services_scripts_and_its_own(
    serve: ServeFactory, project: ApiProject, page: str
) -> None:
    """A Content-Security-Policy as the dashboard's: scripts of the service, and the page's own inline script
    (Swagger UI is started by one) by its hash; nothing is loaded from or sent to another host."""
    api = serve(project).anonymous

    answer = api.get(page)

    policy = dict(part.strip().split(" ", 1) for part in answer.headers["content-security-policy"].split(";"))
    inline = re.findall(r"<script>(.*?)</script>", answer.text, re.DOTALL)
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'" for script in inline
    ]
    assert policy["script-src"].split() == ["'self'", *hashes]
    assert policy["default-src"] == "'none'" and policy["connect-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'" and policy["base-uri"] == "'none'"
    assert (page == "/docs") == bool(hashes), inline
