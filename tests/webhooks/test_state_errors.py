"""Hostile path and query parameters, and a failing state database, against a real ``brygga serve`` over
SQLite and PostgreSQL state: a 4xx or a clean answer, never a 500, never the SQL (issue 17, item 12)."""

from __future__ import annotations

import base64
from collections.abc import Callable

from tests.webhooks.conftest import Served, WebhookProject

Serve = Callable[[WebhookProject], Served]
LONG = "k" * 3000
NUL_REFUSED = "a NUL character (%00) is in no name, key or filter of Brygga"

# Each value in every place a request names something the state database may be asked about.
NAMES = [
    "/api/v1/runs?sync={}",
    "/api/v1/dead-letters?sync={}",
    "/api/v1/webhook-events?system={}",
    "/api/v1/syncs/local/records/{}",
    "/api/v1/syncs/{}",
    "/api/v1/syncs/{}/records/1",
]
OTHERS = [
    "/api/v1/runs/{}",
    "/api/v1/runs/{}/records",
    "/api/v1/runs?cursor={}",
    "/api/v1/runs?limit={}",
    "/api/v1/runs?status={}",
    "/api/v1/webhook-events?cursor={}",
]
VALUES = {
    "NUL": "%00",
    "NUL inside": "a%00b",
    "lone surrogate": "%ED%A0%80",
    "bad UTF-8": "%FF%FE",
    "overlong UTF-8": "%C0%AF",
    "dot dot": "%2E%2E",
    "dot": "%2E",
    "beyond 64 bits": "99999999999999999999999",
    "negative": "-1",
    "huge": LONG,
    "empty": "",
    "nested 1,000 deep (a cursor of base64 JSON)": base64.urlsafe_b64encode(b"[" * 1000).decode().rstrip("="),
}


def test_hostile_parameters_get_a_4xx_or_a_clean_answer(serve: Serve, state_project: WebhookProject) -> None:
    served = serve(state_project)
    assert served.send("local", b'{"items": [{"id": 1, "email": "p1@example.com"}]}', {}).status_code == 202
    served.settled(1)
    problems: list[str] = []

    for place in NAMES + OTHERS:
        for name, value in VALUES.items():
            answer = served.api.get(place.format(value))
            text = answer.text
            refused_as_nul = answer.status_code == 422 and NUL_REFUSED in text
            if answer.status_code >= 500 or "SQL" in text or "SELECT" in text:
                problems.append(f"{place} with {name}: {answer.status_code} {text[:300]}")
            elif place in NAMES and "%00" in value and not refused_as_nul:
                problems.append(f"{place} with {name} is not refused as a NUL: {answer.status_code} {text[:300]}")

    assert not problems, "\n".join(problems)
    assert served.api.get("/api/v1/syncs/local/records/1").json()["id_map"]["target_key"] == "1"
    assert "Traceback" not in served.process.log()


def test_a_state_database_failure_answers_503_saying_what_failed_and_logs_the_error_once(
    serve: Serve, state_project: WebhookProject
) -> None:
    served = serve(state_project)
    state = state_project.state
    rename = "ALTER TABLE runs RENAME TO {}"
    state.rows(rename.format("runs_elsewhere"))
    try:
        answer = served.api.get("/api/v1/runs", params={"sync": "local"})
    finally:
        state.rows(rename.replace("runs", "runs_elsewhere", 1).format("runs"))

    assert answer.status_code == 503, answer.text
    assert answer.json() == {
        "detail": "GET /api/v1/runs: the state database failed; its error is in the service log. "
        "Check that the state database is up and reachable (GET /ready answers 503 while it is not)"
    }
    log = served.process.log()
    assert log.count("GET /api/v1/runs failed: the state database failed:") == 1, log
    assert log.count("SELECT runs.id") == 1
    assert "Traceback" not in log
    assert served.api.get("/api/v1/runs").status_code == 200, "and it answers again once the table is back"
