"""Every ``/api`` route the live ``/openapi.json`` lists, asked without a token, with a wrong one, and as a viewer."""

from __future__ import annotations

import re
import uuid
from dataclasses import replace
from typing import Any

from tests.api.conftest import ApiProject, ServeFactory
from tests.api.test_e2e import dead_letters, run
from tests.engine.conftest import contact

METHODS = {"get", "post", "put", "patch", "delete"}
OPERATOR_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# SPEC 7's /api routes
SPEC_ROUTES = {
    ("GET", "/api/v1/webhook-events"),
    ("POST", "/api/v1/webhook-events/{event_id}/replay"),
    ("POST", "/api/v1/config/reload"),
    ("GET", "/api/v1/syncs"),
    ("GET", "/api/v1/syncs/{name}"),
    ("POST", "/api/v1/syncs/{name}/runs"),
    ("POST", "/api/v1/syncs/{name}/pause"),
    ("POST", "/api/v1/syncs/{name}/resume"),
    ("POST", "/api/v1/syncs/{name}/reset"),
    ("GET", "/api/v1/runs"),
    ("GET", "/api/v1/runs/{run_id}"),
    ("GET", "/api/v1/runs/{run_id}/records"),
    ("GET", "/api/v1/syncs/{name}/records/{source_key}"),
    ("GET", "/api/v1/dead-letters"),
    ("POST", "/api/v1/dead-letters/{letter_id}/retry"),
    ("POST", "/api/v1/syncs/{name}/dead-letters/retry"),
    ("DELETE", "/api/v1/dead-letters/{letter_id}"),
}


def api_routes(description: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path template, operation) of every ``/api`` operation in an OpenAPI description."""
    return [
        (method.upper(), path, operation)
        for path, item in description["paths"].items()
        if path.startswith("/api/")
        for method, operation in item.items()
        if method in METHODS
    ]


def test_every_api_route_needs_a_token_and_acting_needs_an_operator(serve: ServeFactory, project: ApiProject) -> None:
    served = serve(project)
    project.crm.insert("contacts", [contact(1), contact(2, email="")])
    finished = run(served.operator, "contacts")
    [letter] = dead_letters(served.operator)
    values = {"name": "contacts", "source_key": "1", "run_id": finished["id"], "letter_id": letter["id"], "event_id": 1}
    before = served.viewer.json("GET", "/api/v1/syncs")

    description = served.anonymous.json("GET", "/openapi.json")
    routes = api_routes(description)
    assert {(method, path) for method, path, _ in routes} >= SPEC_ROUTES
    strangers = {
        "no token": {},
        "a wrong token": {"Authorization": f"Bearer wrong-{uuid.uuid4().hex}"},
        "a bearer without a token": {"Authorization": "Bearer"},
        "the operator's token in another scheme": {"Authorization": f"Basic {project.secrets.operator}"},
    }
    for method, path, operation in routes:
        url = path.format(**values)
        hostile = f"{url}?limit=%2B5&limit=6&full=true&full=false"  # a query answered 422 once the caller may ask
        for who, headers in strangers.items():
            for asked in (url, hostile):
                answer = served.anonymous.request(method, asked, headers=headers)
                assert answer.status_code == 401, f"{method} {asked} with {who}: {answer.status_code} {answer.text}"
                assert answer.json()["detail"] and answer.headers["www-authenticate"] == "Bearer"
        assert "401" in operation["responses"], f"{method} {path} does not describe its 401"

        as_viewer = served.viewer.request(method, url)
        if method in OPERATOR_METHODS:
            assert as_viewer.status_code == 403, f"{method} {url} as a viewer: {as_viewer.status_code}"
            assert "operator" in as_viewer.json()["detail"]
            assert "403" in operation["responses"], f"{method} {path} does not describe its 403"
            assert served.viewer.request(method, hostile).status_code == 403, f"{method} {hostile} as a viewer"
        else:
            assert as_viewer.status_code == 200, f"{method} {url} as a viewer: {as_viewer.status_code}"

    # nothing a refused request asked for happened
    assert served.viewer.json("GET", "/api/v1/syncs") == before
    assert [r["id"] for r in served.viewer.json("GET", "/api/v1/runs")["items"]] == [finished["id"]]
    assert dead_letters(served.viewer) == [letter]


def test_the_service_routes_need_no_token(serve: ServeFactory, project: ApiProject) -> None:
    served = serve(project)
    description = served.anonymous.json("GET", "/openapi.json")
    public = [path for path, item in description["paths"].items() if not path.startswith("/api/") and "get" in item]
    assert set(public) >= {"/health", "/ready", "/metrics"}

    for path in [*public, "/openapi.json", "/docs"]:
        for client in (served.anonymous, served.anonymous.as_("not-a-token")):
            assert client.get(path).status_code == 200, path


def test_without_tokens_every_route_is_open(serve: ServeFactory, project: ApiProject) -> None:
    text = project.file.read_text(encoding="utf-8")
    project.file.write_text(re.sub(r"api:\n(  .*\n)+", "", text), encoding="utf-8")
    assert "tokens" not in project.file.read_text(encoding="utf-8")
    api = serve(project).anonymous

    assert [sync["name"] for sync in api.json("GET", "/api/v1/syncs")["items"]] == ["companies", "contacts"]
    assert api.json("POST", "/api/v1/syncs/contacts/pause")["paused"] is True
    assert api.json("POST", "/api/v1/syncs/contacts/resume", headers={"Authorization": "Bearer anything"})


def test_a_short_token_works_and_the_service_warns_of_it(serve: ServeFactory, project: ApiProject) -> None:
    """SPEC 8 refuses empty tokens only: a test's ``viewer-token`` works; the log says it could be guessed."""
    project.secrets = replace(project.secrets, viewer="viewer-token")
    served = serve(project)

    syncs = served.viewer.json("GET", "/api/v1/syncs")

    assert {sync["name"] for sync in syncs["items"]} == {"contacts", "companies"}
    assert "warning: api.tokens[0].token: the token is 12 characters long" in served.process.log()


def test_two_authorization_headers_are_refused_whichever_comes_first(serve: ServeFactory, project: ApiProject) -> None:
    """A request with two tokens (a proxy's and a client's, say) named no caller: the first one counted, so a
    viewer's token followed by an operator's was a viewer, the other way round an operator. Which one should
    count is a guess, and a guess must not decide who may act: it is refused, as no valid token."""
    served = serve(project)
    viewer, operator = (f"Bearer {token}" for token in (project.secrets.viewer, project.secrets.operator))
    client = served.anonymous.client

    for first, second in ((viewer, operator), (operator, viewer), (operator, operator)):
        headers = [("Authorization", first), ("Authorization", second)]
        for method, path in (("POST", "/api/v1/syncs/contacts/pause"), ("GET", "/api/v1/syncs")):
            answer = client.request(method, path, headers=headers)
            assert answer.status_code == 401, f"{method} {path}: {answer.status_code} {answer.text}"
            assert answer.json() == {"detail": "Authorization is sent more than once: send one bearer token"}
            assert answer.headers["www-authenticate"] == "Bearer"

    assert served.viewer.json("GET", "/api/v1/syncs/contacts")["paused"] is False


TOKEN_LOOKALIKES = [b"\xa0", b"\x85", b"\xc2\xa0", b"\xe3\x80\x80"]
"""Bytes after a token that Python's ``str.strip`` took for whitespace (no-break space, next line, the UTF-8
of a no-break and an ideographic space) where HTTP's own whitespace is a space or a tab."""


def test_a_token_is_only_the_token_with_spaces_or_tabs_around_it(serve: ServeFactory, project: ApiProject) -> None:
    served = serve(project)
    client = served.anonymous.client
    token = project.secrets.operator.encode()

    for extra in TOKEN_LOOKALIKES:
        for method, path in (("POST", "/api/v1/syncs/contacts/pause"), ("GET", "/api/v1/syncs")):
            answer = client.request(method, path, headers={b"Authorization": b"Bearer " + token + extra})
            assert answer.status_code == 401, (extra, method, path, answer.text)
            assert answer.json() == {"detail": "the bearer token is not valid"}
    assert served.viewer.json("GET", "/api/v1/syncs/contacts")["paused"] is False
    for around in (b"Bearer  " + token, b"Bearer \t " + token, b"bearer " + token):
        assert client.get("/api/v1/syncs", headers={b"Authorization": around}).status_code == 200, around
