"""Web pages against a loopback ``brygga serve`` without tokens: no foreign ``Host`` (DNS rebinding), no
cross-site change; programs, and the service's own pages, unaffected (issue 17, item 13)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from app.api.cross_site import CrossSiteGuard
from tests.api.conftest import ApiProject, Served, ServeFactory

EVIL = "http://evil.example"


def _without_tokens(project: ApiProject) -> None:
    text = project.file.read_text(encoding="utf-8")
    project.file.write_text(re.sub(r"api:\n(  .*\n)+", "", text), encoding="utf-8")


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str
    headers: Callable[[int], dict[str, str]]
    status: int
    detail: str = ""


def _plain(headers: dict[str, str]) -> Callable[[int], dict[str, str]]:
    return lambda port: headers


CASES = [
    # a web page of another site, changing things (a "simple" text/plain POST needs no CORS preflight)
    Case("cross-origin text/plain pause", "POST", "/api/v1/syncs/contacts/pause",
         _plain({"origin": EVIL, "content-type": "text/plain"}), 403, "'http://evil.example'"),
    Case("cross-origin reload", "POST", "/api/v1/config/reload", _plain({"origin": EVIL}), 403, "another site"),
    Case("cross-origin run", "POST", "/api/v1/syncs/contacts/runs", _plain({"origin": EVIL}), 403, "another site"),
    Case("cross-origin discard", "DELETE", "/api/v1/dead-letters/1", _plain({"origin": EVIL}), 403, "another site"),
    Case("Sec-Fetch-Site cross-site, no Origin", "POST", "/api/v1/syncs/contacts/pause",
         _plain({"sec-fetch-site": "cross-site"}), 403, "'cross-site'"),
    Case("Sec-Fetch-Site same-site (another port)", "POST", "/api/v1/syncs/contacts/pause",
         _plain({"sec-fetch-site": "same-site", "origin": "http://127.0.0.1:1"}), 403, "another site"),
    Case("Origin null (a sandboxed page)", "POST", "/api/v1/syncs/contacts/pause", _plain({"origin": "null"}),
         403, "'null'"),
    Case("Origin with another port", "POST", "/api/v1/syncs/contacts/pause",
         lambda port: {"origin": f"http://127.0.0.1:{port + 1}"}, 403, "another site"),
    Case("Origin not a URL", "POST", "/api/v1/syncs/contacts/pause", _plain({"origin": "http://[::1"}), 403, ""),
    # foreign Host names: DNS rebinding
    Case("foreign Host, reading", "GET", "/api/v1/syncs", _plain({"host": "evil.example"}), 421,
         "BRYGGA_ALLOWED_HOSTS"),
    Case("foreign Host, changing", "POST", "/api/v1/syncs/contacts/pause", _plain({"host": "evil.example:80"}), 421,
         "Host 'evil.example:80' is not this service's"),
    Case("foreign Host, metrics", "GET", "/metrics", _plain({"host": "evil.example"}), 421, ""),
    Case("foreign Host, a webhook", "POST", "/webhooks/crm", _plain({"host": "evil.example"}), 421, ""),
    Case("loopback address as a prefix", "GET", "/health", _plain({"host": "127.0.0.1.evil.example"}), 421, ""),
    Case("userinfo trick", "GET", "/health", _plain({"host": "localhost:80@evil.example"}), 421, ""),
    Case("unclosed bracket", "GET", "/health", _plain({"host": "[::1"}), 421, ""),
    Case("huge Host", "GET", "/health", _plain({"host": "h" * 8000}), 421, "…'"),
    # what stays fine
    Case("a program: no Origin, no Sec-Fetch-Site", "POST", "/api/v1/syncs/contacts/pause", _plain({}), 200),
    Case("the service's own page", "POST", "/api/v1/syncs/contacts/pause",
         lambda port: {"origin": f"http://127.0.0.1:{port}", "sec-fetch-site": "same-origin"}, 200),
    Case("own host and port under https (a TLS proxy)", "POST", "/api/v1/syncs/contacts/resume",
         lambda port: {"origin": f"https://127.0.0.1:{port}"}, 200),
    Case("own origin under localhost", "POST", "/api/v1/syncs/contacts/resume",
         lambda port: {"host": f"localhost:{port}", "origin": f"http://localhost:{port}"}, 200),
    Case("typed into the address bar", "POST", "/api/v1/syncs/contacts/resume", _plain({"sec-fetch-site": "none"}),
         200),
    Case("cross-origin read", "GET", "/api/v1/syncs", _plain({"origin": EVIL, "sec-fetch-site": "cross-site"}), 200),
    Case("cross-origin health", "GET", "/health", _plain({"origin": EVIL}), 200),
    Case("cross-origin ready", "GET", "/ready", _plain({"origin": EVIL}), 200),
    Case("cross-origin metrics", "GET", "/metrics", _plain({"origin": EVIL}), 200),
    Case("Host localhost", "GET", "/health", _plain({"host": "LOCALHOST"}), 200),
    Case("Host [::1] with a port", "GET", "/health", lambda port: {"host": f"[::1]:{port}"}, 200),
    Case("Host 127.0.0.2", "GET", "/health", _plain({"host": "127.0.0.2"}), 200),
    Case("Host localhost.", "GET", "/health", _plain({"host": "localhost."}), 200),
]  # fmt: skip


@pytest.fixture
def open_service(serve: ServeFactory, project: ApiProject) -> Served:
    _without_tokens(project)
    return serve(project)


def test_web_pages_get_no_foreign_host_and_no_cross_site_change(open_service: Served) -> None:
    api, port = open_service.anonymous, open_service.process.port
    problems = []

    for case in CASES:
        answer = api.request(case.method, case.path, headers=case.headers(port), content=b"x")
        if answer.status_code != case.status or case.detail not in answer.text:
            problems.append(f"{case.name}: {answer.status_code} {answer.text[:300]}")
        if case.status in (403, 421):
            paused = api.get("/api/v1/syncs/contacts").json()["paused"]
            if case.name.endswith("pause") and paused:
                problems.append(f"{case.name}: the sync was paused all the same")

    assert not problems, "\n".join(problems)
    assert api.get("/api/v1/syncs/contacts").json()["paused"] is False
    assert api.get("/api/v1/runs").json()["items"] == [], "no cross-site run was started"


def test_a_reverse_proxys_name_is_answered_when_allowed(serve: ServeFactory, project: ApiProject) -> None:
    _without_tokens(project)
    api = serve(project, {"BRYGGA_ALLOWED_HOSTS": "brygga.internal, Proxy.Example:8443"}).anonymous

    assert api.get("/health", headers={"host": "brygga.internal"}).status_code == 200
    assert api.get("/health", headers={"host": "brygga.internal:8080"}).status_code == 200
    assert api.get("/health", headers={"host": "proxy.example:8443"}).status_code == 200
    assert api.get("/health", headers={"host": "proxy.example:9999"}).status_code == 421
    assert api.get("/health", headers={"host": "evil.example"}).status_code == 421
    pause = api.post("/api/v1/syncs/contacts/pause", headers={"host": "brygga.internal", "origin": EVIL})
    assert pause.status_code == 403
    own = api.post(
        "/api/v1/syncs/contacts/pause", headers={"host": "brygga.internal", "origin": "http://brygga.internal"}
    )
    assert own.status_code == 200
    behind_tls = api.post(
        "/api/v1/syncs/contacts/resume", headers={"host": "brygga.internal", "origin": "https://brygga.internal"}
    )
    assert behind_tls.status_code == 200


async def test_on_an_address_others_reach_any_host_is_answered_and_cross_site_changes_are_still_refused() -> None:
    async def ok(request: object) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = CrossSiteGuard(Starlette(routes=[Route("/api/x", ok, methods=["GET", "POST"])]), host="0.0.0.0")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://brygga.example") as client:
        assert (await client.get("/api/x")).status_code == 200
        assert (await client.post("/api/x")).status_code == 200
        assert (await client.post("/api/x", headers={"origin": "http://brygga.example"})).status_code == 200
        assert (await client.post("/api/x", headers={"origin": EVIL})).status_code == 403
