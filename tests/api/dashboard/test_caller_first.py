"""Every dashboard route the app has, asked with values it refuses, by a stranger, a viewer and an operator of a
real ``brygga serve``: who asks is judged before what they ask (SPEC 7, 7.1), as the API answers 401 and 403
before 422 (tests/api/test_auth.py).

A stranger who asked ``/syncs/contacts?before=abc``, ``/runs/abc`` or ``/records?key=<3000 x>`` was shown an
error page naming the page's parameters instead of being sent to sign in; a viewer's or a CSRF-less action on
``/dead-letters/abc/retry`` was answered 404 instead of 403, and a viewer's 20 KB form 413.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
from fastapi.dependencies.models import Dependant
from fastapi.routing import RouteContext, iter_route_contexts

from app.api.app import create_app
from app.engine.settings import ServiceSettings
from tests.api.conftest import ApiProject, Served, ServeFactory
from tests.api.serve_process import Api

OPEN_TO_STRANGERS = {("GET", "/sign-in"), ("POST", "/sign-in"), ("POST", "/sign-out")}
# SPEC 7.1's pages and actions: the routes found below must hold them all
SPEC_ROUTES = OPEN_TO_STRANGERS | {
    ("GET", "/"),
    ("GET", "/ui/overview"),
    ("GET", "/syncs/{name}"),
    ("GET", "/runs/{run_id}"),
    ("GET", "/records"),
    ("GET", "/webhook-events"),
    ("POST", "/syncs/{name}/run"),
    ("POST", "/syncs/{name}/pause"),
    ("POST", "/syncs/{name}/resume"),
    ("POST", "/syncs/{name}/dead-letters/retry"),
    ("POST", "/dead-letters/{letter_id}/retry"),
    ("POST", "/dead-letters/{letter_id}/discard"),
    ("POST", "/webhook-events/{event_id}/replay"),
}
HUGE = "x" * 3000
"""Longer than any name, key or number a page takes."""
BIG_FORM = {"back": "/", "note": "y" * 20_000}
"""Larger than any form an action takes."""


@dataclass(frozen=True)
class Asked:
    """One dashboard route: its method, the address of a plain request, and addresses with refused values."""

    method: str
    path: str
    plain: str
    hostile: list[str]


def dashboard_routes(project: ApiProject) -> list[Asked]:
    """Every route of the app that the dashboard's package serves (the app is built, not started), as FastAPI
    itself lists them for ``/openapi.json``: with the app's own dependencies, as they are served."""
    app = create_app(ServiceSettings(config=project.file), environ=project.secrets.env())
    found = [
        Asked(method, route.path or "", *_addresses(route))
        for route in iter_route_contexts(app.routes)
        if route.endpoint is not None and route.endpoint.__module__.startswith("app.api.pages")
        for method in sorted(route.methods or ())
        if method != "HEAD"
    ]
    assert {(asked.method, asked.path) for asked in found} >= SPEC_ROUTES
    return found


def _addresses(route: RouteContext) -> tuple[str, list[str]]:
    """A plain address of ``route`` (``contacts`` for a name, 1 for an id), and one for each value it refuses
    in each of its path and query parameters: NUL or 3000 characters in the path, a huge or repeated query."""
    template, dependant = route.path or "", route.dependant
    path_names = [field.alias for field in dependant.path_params]
    plain = template.format(**{name: _plain_value(name) for name in path_names})
    hostile = [
        template.format(**{other: value if other == name else _plain_value(other) for other in path_names})
        for name in path_names
        for value in ("%00", HUGE)
    ]
    for name in _query_names(dependant):
        hostile += [f"{plain}?{name}=1&{name}=2", f"{plain}?{name}={HUGE}"]
    return plain, hostile


def _plain_value(name: str) -> str:
    return "1" if name.endswith("_id") else "contacts"


def _query_names(dependant: Dependant) -> Iterator[str]:
    for field in dependant.query_params:
        yield field.alias
    for sub in dependant.dependencies:
        yield from _query_names(sub)


@contextmanager
def browser_of(served: Served, token: str | None) -> Iterator[tuple[Api, str]]:
    """A client with a cookie jar of its own, signed in with ``token`` (``None``: a stranger), and the CSRF
    token its pages carry (``""`` for a stranger)."""
    api = Api(served.process.url, served.anonymous.exchanges)
    try:
        csrf = ""
        if token is not None:
            signed = api.post("/sign-in", data={"token": token}, headers=same_site(served))
            assert signed.status_code == 303, signed.text
            found = re.search(r'<meta name="csrf-token" content="([^"]+)">', api.get("/").text)
            assert found, "no CSRF token on the overview"
            csrf = found.group(1)
        yield api, csrf
    finally:
        api.close()


def same_site(served: Served) -> dict[str, str]:
    return {"Origin": served.process.url}


def ask(api: Api, served: Served, method: str, address: str, form: dict[str, str] | None = None) -> httpx.Response:
    if method == "GET":
        return api.get(address)
    return api.post(address, data=form if form is not None else {"back": "/"}, headers=same_site(served))


def outcome(answer: httpx.Response) -> tuple[int, str | None]:
    return answer.status_code, answer.headers.get("location")


def sign_in_answer(path: str) -> tuple[int, str | None]:
    """What the dashboard answers a visitor who is not signed in: the overview's refresh is told 401."""
    return (401, None) if path.startswith("/ui/") else (303, "/sign-in")


def test_a_stranger_is_sent_to_sign_in_whatever_the_address_holds(serve: ServeFactory, project: ApiProject) -> None:
    served = serve(project)
    routes = dashboard_routes(project)

    for cookie in (None, "not-a-session"):
        with browser_of(served, None) as (stranger, _):
            if cookie is not None:
                stranger.client.cookies.set("brygga_session", cookie)
            for asked in routes:
                expected = outcome(ask(stranger, served, asked.method, asked.plain, {"csrf": "x", "back": "/"}))
                if (asked.method, asked.path) not in OPEN_TO_STRANGERS:
                    assert expected == sign_in_answer(asked.path), f"{asked.method} {asked.plain}: {expected}"
                for address in asked.hostile:
                    for form in ({"csrf": "x", "back": "/"}, BIG_FORM):
                        answer = ask(stranger, served, asked.method, address, form)
                        assert outcome(answer) == expected, f"{asked.method} {address[:80]}: {answer.text[:300]}"
                        assert HUGE not in answer.text and "shows nothing" not in answer.text

    assert_nothing_happened(served)


def test_a_viewer_is_refused_every_action_before_its_values_and_told_what_is_wrong_on_a_page(
    serve: ServeFactory, project: ApiProject
) -> None:
    served = serve(project)
    with browser_of(served, project.secrets.viewer) as (viewer, csrf):
        for asked in dashboard_routes(project):
            if (asked.method, asked.path) in OPEN_TO_STRANGERS:
                continue
            if asked.method == "GET":  # a viewer may read: what is wrong with the value is said
                for address in asked.hostile:
                    assert_told_what_is_wrong(viewer.get(address), address)
                continue
            for address in [asked.plain, *asked.hostile]:
                for form in ({"csrf": csrf, "back": "/"}, {"back": "/"}, {**BIG_FORM, "csrf": csrf}):
                    answer = ask(viewer, served, asked.method, address, form)
                    assert answer.status_code == 403, f"POST {address[:80]}: {answer.status_code} {answer.text[:300]}"
                    assert "Not allowed" in answer.text and "viewer" in answer.text, answer.text[:300]

    assert_nothing_happened(served)


def test_an_operators_action_is_checked_for_its_csrf_token_and_origin_before_its_values(
    serve: ServeFactory, project: ApiProject
) -> None:
    served = serve(project)
    with browser_of(served, project.secrets.operator) as (operator, csrf):
        for asked in dashboard_routes(project):
            if (asked.method, asked.path) in OPEN_TO_STRANGERS:
                continue
            for address in asked.hostile:
                if asked.method == "GET":
                    assert_told_what_is_wrong(operator.get(address), address)
                    continue
                without_csrf = ask(operator, served, "POST", address, {"back": "/"})
                assert without_csrf.status_code == 403 and "CSRF" in without_csrf.text, address[:80]
                elsewhere = operator.post(address, data={"csrf": csrf}, headers={"Origin": "http://evil.example"})
                assert elsewhere.status_code == 403 and "another site" in elsewhere.text, address[:80]
                # the operator, asking from the page, is told what is wrong with the value
                assert_told_what_is_wrong(ask(operator, served, "POST", address, {"csrf": csrf}), address)

    assert_nothing_happened(served)


def assert_told_what_is_wrong(answer: httpx.Response, address: str) -> None:
    """A page saying the address is no page, naming the parameter (``query.before``, ``path.run_id``)."""
    shown = f"{address[:80]}: {answer.status_code} {answer.text[:300]}"
    assert answer.status_code in (400, 404) and answer.headers["content-type"].startswith("text/html"), shown
    assert re.search(r"<h1>(Not a page|Not found)</h1>", answer.text), shown
    assert re.search(r"(query|path)\.\w+: ", answer.text), shown


def assert_nothing_happened(served: Served) -> None:
    assert served.viewer.json("GET", "/api/v1/runs")["items"] == []
    assert not any(sync["paused"] for sync in served.viewer.json("GET", "/api/v1/syncs")["items"])
