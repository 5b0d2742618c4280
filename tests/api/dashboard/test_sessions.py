"""Dashboard sessions, roles and page headers, through the app in this process (no browser needed)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from app.api.app import create_app
from app.api.pages.sessions import COOKIE
from app.engine.settings import ServiceSettings
from tests.api.conftest import ApiProject, make_project

BASE = "http://127.0.0.1:8000"
SAME_SITE = {"Origin": BASE}
Start = Callable[[ApiProject], Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def start() -> AsyncIterator[Start]:
    """Start the app on a project; a client of it (a browser's cookie jar, no token); stopped after the test."""
    stacks: list[tuple[object, httpx.AsyncClient]] = []

    async def started(project: ApiProject) -> httpx.AsyncClient:
        app = create_app(ServiceSettings(config=project.file), environ=project.secrets.env())
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE, timeout=10)
        stacks.append((lifespan, client))
        return client

    yield started
    for lifespan, client in reversed(stacks):
        await client.aclose()
        await lifespan.__aexit__(None, None, None)  # type: ignore[attr-defined]


@pytest.fixture
def project(tmp_path: Path) -> ApiProject:
    return make_project(tmp_path / "project")


def without_tokens(project: ApiProject) -> ApiProject:
    text = project.file.read_text(encoding="utf-8")
    project.file.write_text(re.sub(r"api:\n  tokens:\n(    - .*\n)+", "", text), encoding="utf-8")
    return project


async def sign_in(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/sign-in", data={"token": token}, headers=SAME_SITE)


def csrf_of(html: str) -> str:
    found = re.search(r'<meta name="csrf-token" content="([^"]+)">', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


async def test_signing_in_gives_a_strict_http_only_session_cookie_and_never_the_token(
    start: Start, project: ApiProject
) -> None:
    client = await start(project)
    assert (await client.get("/")).headers["location"] == "/sign-in"
    page = await client.get("/sign-in")
    assert 'method="post" action="/sign-in"' in page.text and 'type="password"' in page.text

    signed = await sign_in(client, project.secrets.viewer)

    assert (signed.status_code, signed.headers["location"]) == (303, "/")
    cookie = signed.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert project.secrets.viewer not in cookie
    overview = await client.get("/")
    assert overview.status_code == 200 and "watcher" in overview.text and "Sign out" in overview.text
    assert project.secrets.viewer not in overview.text


@pytest.mark.parametrize(
    ("headers", "secure"),
    [
        ({}, False),
        ({"X-Forwarded-Proto": "https"}, True),
        ({"X-Forwarded-Proto": "https, http"}, True),
        ({"Forwarded": "for=192.0.2.1;proto=https;host=brygga.example.com"}, True),
        ({"X-Forwarded-Proto": "http"}, False),
    ],
    ids=["plain", "x-forwarded-proto", "a-chain-of-proxies", "forwarded", "forwarded-http"],
)
async def test_the_cookie_is_secure_behind_a_proxy_that_ends_tls(
    start: Start, project: ApiProject, headers: dict[str, str], secure: bool
) -> None:
    """uvicorn takes a proxy's word for the scheme only from 127.0.0.1: a proxy on another host sent the cookie
    over HTTPS without Secure."""
    client = await start(project)

    signed = await client.post("/sign-in", data={"token": project.secrets.viewer}, headers={**SAME_SITE, **headers})

    assert signed.status_code == 303
    assert ("Secure" in signed.headers["set-cookie"]) is secure, signed.headers["set-cookie"]


async def test_a_wrong_token_or_another_site_gets_no_session(start: Start, project: ApiProject) -> None:
    client = await start(project)
    wrong = await sign_in(client, "not-a-token")
    assert wrong.status_code == 401 and "set-cookie" not in wrong.headers and "not one of" in wrong.text
    forged = await client.post("/sign-in", data={"token": project.secrets.viewer}, headers={"Origin": "http://x.test"})
    assert forged.status_code == 403 and "set-cookie" not in forged.headers
    for no_url in ("http://[", "http://[::1", "http://a]b"):  # an Origin that is no URL comes from no page of ours
        broken = await client.post("/sign-in", data={"token": project.secrets.viewer}, headers={"Origin": no_url})
        assert broken.status_code == 403 and "set-cookie" not in broken.headers, (no_url, broken.text)


async def test_a_token_with_a_unicode_space_after_it_is_no_token(start: Start, project: ApiProject) -> None:
    client = await start(project)
    for extra in ("\u00a0", "\u0085", "\u3000", "\u2003"):
        wrong = await sign_in(client, project.secrets.operator + extra)
        assert wrong.status_code == 401 and "set-cookie" not in wrong.headers, repr(extra)
    signed = await sign_in(client, f" \t{project.secrets.operator}\t ")
    assert signed.status_code == 303 and COOKIE in signed.headers["set-cookie"]


async def test_signing_out_ends_the_session(start: Start, project: ApiProject) -> None:
    client = await start(project)
    await sign_in(client, project.secrets.operator)
    cookie = client.cookies[COOKIE]
    signed_out = await client.post("/sign-out", headers=SAME_SITE)
    assert signed_out.headers["location"] == "/sign-in"
    client.cookies.set(COOKIE, cookie)  # the old id, sent again
    assert (await client.get("/syncs/contacts")).headers["location"] == "/sign-in"
    assert (await client.get("/ui/overview")).status_code == 401


async def test_a_token_removed_from_the_config_ends_its_sessions(start: Start, project: ApiProject) -> None:
    client = await start(project)
    await sign_in(client, project.secrets.viewer)
    assert (await client.get("/")).status_code == 200
    text = project.file.read_text(encoding="utf-8")
    project.file.write_text(re.sub(r"    - \{name: watcher.*\n", "", text), encoding="utf-8")
    operator = {"Authorization": f"Bearer {project.secrets.operator}"}
    assert (await client.post("/api/v1/config/reload", headers=operator)).status_code == 200

    assert (await client.get("/")).headers["location"] == "/sign-in"


async def test_a_viewers_action_is_refused_even_with_its_own_csrf_token(start: Start, project: ApiProject) -> None:
    client = await start(project)
    await sign_in(client, project.secrets.viewer)
    page = await client.get("/syncs/contacts")
    assert "Run now" not in page.text and "Pause" not in page.text

    refused = await client.post("/syncs/contacts/pause", data={"csrf": csrf_of(page.text)}, headers=SAME_SITE)

    assert refused.status_code == 403 and "viewer" in refused.text
    as_api = {"Authorization": f"Bearer {project.secrets.operator}"}
    assert (await client.get("/api/v1/syncs/contacts", headers=as_api)).json()["paused"] is False


async def test_without_tokens_there_is_no_sign_in_and_every_caller_operates(start: Start, project: ApiProject) -> None:
    client = await start(without_tokens(project))
    assert (await client.get("/sign-in")).headers["location"] == "/"
    page = await client.get("/syncs/contacts")
    assert page.status_code == 200 and "Sign out" not in page.text and "Run now" in page.text
    csrf = csrf_of(page.text)

    assert (await client.post("/syncs/contacts/pause", data={"back": "/"}, headers=SAME_SITE)).status_code == 403
    form = {"csrf": csrf, "back": "/syncs/contacts"}
    paused = await client.post("/syncs/contacts/pause", data=form, headers=SAME_SITE)
    assert (paused.status_code, paused.headers["location"]) == (303, "/syncs/contacts")
    after = await client.get("/syncs/contacts")
    assert "st-paused" in after.text and "contacts is paused" in after.text and "Resume" in after.text


async def test_an_action_goes_back_only_to_a_page_of_this_service(start: Start, project: ApiProject) -> None:
    client = await start(without_tokens(project))
    csrf = csrf_of((await client.get("/")).text)
    for back in ("//evil.test/", "https://evil.test/", "/\\evil.test"):
        answer = await client.post("/syncs/contacts/pause", data={"csrf": csrf, "back": back}, headers=SAME_SITE)
        assert answer.headers["location"] == "/syncs/contacts", back


async def test_every_page_forbids_inline_script_and_style(start: Start, project: ApiProject) -> None:
    client = await start(without_tokens(project))
    for path in ("/", "/syncs/contacts", "/records?sync=contacts&key=1", "/webhook-events", "/runs/999"):
        page = await client.get(path)
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "style-src 'self'" in policy and "unsafe-inline" not in policy
        assert "frame-ancestors 'none'" in policy and page.headers["x-content-type-options"] == "nosniff"
        assert not re.search(r"<script(?![^>]*\bsrc=)", page.text), path
        assert not re.search(r"\sstyle=|\son[a-z]+=|<style", page.text), path
        assert not re.search(r'(src|href)="(https?:)?//', page.text), f"{path} names another host"


async def test_unknown_things_are_pages_saying_so(start: Start, project: ApiProject) -> None:
    client = await start(without_tokens(project))
    missing_sync = await client.get("/syncs/nope")
    assert missing_sync.status_code == 404 and "no sync named &#39;nope&#39;" in missing_sync.text
    missing_run = await client.get("/runs/999")
    assert missing_run.status_code == 404 and "no run with id 999" in missing_run.text
    unseen = await client.get("/records", params={"sync": "contacts", "key": "42"})
    assert unseen.status_code == 404 and "never saw a source record" in unseen.text


async def test_a_name_of_60000_characters_is_not_answered_with_all_of_it(start: Start, project: ApiProject) -> None:
    """Every character a client sends in a name came back in the answer: the page's 404, the API's 422."""
    client = await start(without_tokens(project))
    name = "x" * 60_000

    for address in (f"/syncs/{name}", f"/api/v1/syncs/{name}", f"/api/v1/syncs/contacts/records/{name}"):
        answer = await client.get(address)
        assert answer.status_code in (404, 422) and len(answer.content) < 5_000, (address, answer.status_code)
        assert name[:2049] not in answer.text
    csrf = csrf_of((await client.get("/")).text)  # without it an action is refused before its name is read
    for action in ("run", "pause", "resume", "dead-letters/retry"):
        answer = await client.post(f"/syncs/{name}/{action}", data={"csrf": csrf}, headers=SAME_SITE)
        assert answer.status_code == 404 and len(answer.content) < 5_000, (action, answer.status_code)
    refused = (await client.get(f"/api/v1/syncs/{name}")).json()
    assert refused["errors"][0]["input"] == "x" * 200 + "… (60,000 characters)"


@pytest.mark.parametrize("page", ["/syncs/contacts?before={}", "/runs/1?after={}"])
@pytest.mark.parametrize(
    ("number", "problem"),
    [(str(1 << 63), "Input should be"), ("9" * 30, "Input should be"), ("-1", "write a number in the digits 0-9")],
)
async def test_paging_beyond_what_the_state_database_holds_is_refused(
    start: Start, project: ApiProject, page: str, number: str, problem: str
) -> None:
    client = await start(without_tokens(project))

    answer = await client.get(page.format(number))

    assert answer.status_code == 400 and answer.headers["content-type"].startswith("text/html"), answer.text
    assert "<h1>Not a page</h1>" in answer.text and re.search(rf"query\.(before|after): {problem}", answer.text)


@pytest.mark.parametrize("address", ["/runs/abc", "/runs/0", f"/runs/{1 << 63}", "/runs/1e3"])
async def test_an_address_naming_no_run_is_a_page_saying_so(start: Start, project: ApiProject, address: str) -> None:
    """Not the API's JSON: a person followed or typed the address, and the page keeps the dashboard's look."""
    client = await start(without_tokens(project))

    answer = await client.get(address)

    assert answer.status_code == 404 and answer.headers["content-type"].startswith("text/html"), answer.text
    assert "<h1>Not found</h1>" in answer.text and "run_id" in answer.text
    assert answer.headers["content-security-policy"]


@pytest.mark.parametrize(
    ("method", "address"),
    [
        ("GET", "/api/v1/runs/abc"),
        ("GET", "/api/v1/runs/0"),
        ("GET", f"/api/v1/runs/{1 << 64}/records"),
        ("GET", "/api/v1/runs/1e3"),
        ("POST", "/api/v1/dead-letters/-1/retry"),
        ("DELETE", f"/api/v1/dead-letters/{'9' * 40}"),
        ("POST", "/api/v1/webhook-events/msg_2Lh9/replay"),
    ],
)
async def test_the_api_answers_an_id_that_cannot_be_one_as_not_found_in_json(
    start: Start, project: ApiProject, method: str, address: str
) -> None:
    """SPEC 7: 404 for an unknown id; an id no row can have is one (not FastAPI's 422)."""
    client = await start(without_tokens(project))

    answer = await client.request(method, address)

    assert answer.status_code == 404, answer.text
    assert answer.json()["detail"].startswith("not found: no such id (path.")
    assert answer.json()["errors"][0]["loc"][0] == "path"


@pytest.mark.parametrize(
    ("address", "detail"),
    [
        ("/api/v1/runs?limit=501", "query.limit: Input should be less than or equal to 500"),
        ("/api/v1/syncs/a%00b", "path.name: Value error, a NUL character (%00) is in no name"),
    ],
)
async def test_the_api_still_answers_a_misfit_query_or_name_with_422(
    start: Start, project: ApiProject, address: str, detail: str
) -> None:
    """What the caller must change is said: a limit too high, a name that no name can be."""
    client = await start(without_tokens(project))

    answer = await client.get(address)

    assert answer.status_code == 422 and answer.json()["detail"].startswith(detail)


async def test_the_pages_files_pass_unscrubbed_and_the_pages_scrubbed(start: Start, project: ApiProject) -> None:
    """A secret whose value is also a word of the stylesheet breaks no style; the pages still hide it."""
    project.secrets = replace(project.secrets, tenant="font-variant-numeric")
    client = await start(without_tokens(project))
    assert "font-variant-numeric" in (await client.get("/ui-assets/dashboard.css")).text
    page = await client.get("/syncs/contacts")
    assert "customer of *** in the ERP" in page.text and "font-variant-numeric" not in page.text


@pytest.mark.parametrize("tenant", ["Smith & Sons-1234", 'O\'Reilly "GmbH" <2024>'])
async def test_a_secret_the_page_escapes_as_html_is_hidden_too(start: Start, project: ApiProject, tenant: str) -> None:
    """The page escapes ``&``, quotes and ``<``: the scrubbing of answers did not know those forms, and
    showed ``Smith &amp; Sons-1234``."""
    project.secrets = replace(project.secrets, tenant=tenant)
    client = await start(without_tokens(project))

    page = await client.get("/syncs/contacts")

    assert "customer of *** in the ERP" in page.text
    assert "Sons-1234" not in page.text and "Reilly" not in page.text


async def test_the_overview_refresh_keeps_one_session_without_tokens(start: Start, project: ApiProject) -> None:
    client = await start(without_tokens(project))
    first = await client.get("/ui/overview")
    assert first.status_code == 200 and "contacts" in first.json()["rows"]
    cookie = client.cookies[COOKIE]
    await client.get("/ui/overview")
    assert client.cookies[COOKIE] == cookie, "each refresh started a new session"


@pytest.mark.parametrize(
    "token",
    ["", " ", "\x00", "a\x00b", "\udcff", "é" * 10, "x" * 100_000, "9" * 400, "../../etc/passwd", "{{ 7*7 }}"],
    ids=["empty", "space", "nul", "inner nul", "lone surrogate", "accents", "huge", "big number", "dots", "template"],
)
async def test_a_hostile_token_gets_a_clear_refusal_and_no_session(
    start: Start, project: ApiProject, token: str
) -> None:
    client = await start(project)
    body = "token=" + "".join(ch if ch.isalnum() else f"%{ord(ch):02X}" if ord(ch) < 128 else ch for ch in token)
    answer = await client.post(
        "/sign-in",
        content=body.encode("utf-8", "surrogatepass"),
        headers={**SAME_SITE, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert 400 <= answer.status_code < 500, answer.text[:300]
    assert "set-cookie" not in answer.headers
    assert "Traceback" not in answer.text and "49" not in re.sub(r"<[^>]*>", "", answer.text).split("Token")[0]


@pytest.mark.parametrize("cookie", ["", "\x00", "x" * 10_000, "../..", "%00", "1" * 400])
async def test_a_forged_session_cookie_is_a_stranger(start: Start, project: ApiProject, cookie: str) -> None:
    client = await start(project)
    client.cookies.set(COOKIE, cookie)
    page = await client.get("/")
    assert page.status_code in (200, 303, 401), page.text[:300]
    assert "Sign out" not in page.text


async def test_direction_marks_from_outside_are_spelt_out_on_the_pages(start: Start, project: ApiProject) -> None:
    """A key ``abc\\u202etxt.exe`` showed as ``abcexe.txt``: text from the systems may not reorder what a page shows."""
    client = await start(without_tokens(project))

    page = await client.get("/records", params={"sync": "contacts", "key": "abc\u202etxt.exe\u2066x"})

    assert page.status_code == 404 and "never saw a source record" in page.text
    assert "abc[U+202E]txt.exe[U+2066]x" in page.text
    assert "\u202e" not in page.text and "\u2066" not in page.text


@pytest.mark.parametrize("path", ["/api/v1/syncs", "/api/v1/syncs/<img src=x onerror=alert(1)>", "/docs", "/health"])
async def test_every_answer_is_never_sniffed_nor_framed_and_the_apis_never_cached(
    start: Start, project: ApiProject, path: str
) -> None:
    """The API's JSON echoes input (a 404 naming the sync asked for) and holds records' data; the pages set
    these headers for themselves, the API and its documentation did not."""
    client = await start(without_tokens(project))

    answer = await client.get(path)

    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "DENY"
    if path.startswith("/api/"):
        assert answer.headers["cache-control"] == "no-store"
