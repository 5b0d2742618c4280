"""Webhooks through a real ``brygga serve``: verified deliveries in, refusals that leave nothing behind, and
no accepted event lost to a SIGKILL (SPEC 5, 8; issue 6, items 1 and 3)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from tests.api.serve_process import wait_until
from tests.api.test_e2e import locked
from tests.webhooks.conftest import (
    NOTHING_STORED,
    TEN_MINUTES_AGO,
    Secrets,
    Served,
    WebhookProject,
    body_of,
    contact,
    github_headers,
    metric_value,
    standard_headers,
)

Serve = Callable[[WebhookProject], Served]
MIB = 1024 * 1024


def _chunks(body: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def test_refusals_over_http_leave_nothing_and_signed_deliveries_are_written(
    serve: Serve, project: WebhookProject
) -> None:
    served = serve(project)
    secrets = project.secrets
    one = body_of({"data": contact(1)})
    big = body_of({"data": contact(1), "padding": "x" * (2 * MIB)})
    refusals = [
        ("signed", one, standard_headers(Secrets().standard, one), 401),
        ("signed", one, standard_headers(secrets.standard, one, at=datetime.now(UTC) + TEN_MINUTES_AGO), 401),
        ("hub", one, github_headers("wrong", one), 401),
        ("tokened", one, {"authorization": "Bearer wrong"}, 401),
        ("signed", b"{not json", standard_headers(secrets.standard, b"{not json"), 400),
        ("signed", body_of({"rows": []}), standard_headers(secrets.standard, body_of({"rows": []})), 400),
        ("nobody", one, {}, 404),
        ("crm", one, {}, 404),
        ("signed", big, standard_headers(secrets.standard, big), 413),
    ]
    for system, body, headers, status in refusals:
        answer = served.send(system, body, headers)
        assert answer.status_code == status, (system, answer.text)
    chunked = served.hooks.post(
        "/webhooks/signed", content=_chunks(big), headers=standard_headers(secrets.standard, big)
    )
    assert "content-length" not in chunked.request.headers
    assert chunked.status_code == 413, chunked.text
    assert served.api.get("/health").status_code == 200  # the connection ended cleanly
    assert project.stored() == NOTHING_STORED

    standard = body_of({"type": "contact.created", "data": [contact(1), contact(2)]})
    first = served.send("signed", standard, standard_headers(secrets.standard, standard))
    github = body_of({"action": "created", "contact": contact(3)})
    second = served.send("hub", github, github_headers(secrets.github, github, delivery="d-3"))

    assert (first.status_code, first.json()["records"]) == (202, 2)
    assert (second.status_code, second.json()["records"]) == (202, 1)
    assert [event["status"] for event in served.settled(2)] == ["processed", "processed"]
    assert project.customers() == [(n, f"Name {n}", f"p{n}@example.com") for n in (1, 2, 3)]
    metrics = served.hooks.get("/metrics").text
    assert metric_value(metrics, "brygga_webhook_events_total", system="signed", outcome="accepted") == 1
    assert metric_value(metrics, "brygga_webhook_events_total", system="signed", outcome="rejected: too large") == 2
    assert (
        metric_value(metrics, "brygga_webhook_events_total", system="(unknown)", outcome="rejected: unknown system")
        == 2
    )
    wait_until(
        lambda: (
            metric_value(
                served.hooks.get("/metrics").text, "brygga_webhook_events_total", system="hub", outcome="processed"
            )
            == 1
        ),
        10,
        "the processed event to be counted",
    )
    assert served.process.running()


def test_no_accepted_event_is_lost_to_sigkill(serve: Serve, state_project: WebhookProject) -> None:
    project = state_project
    served = serve(project)
    secrets = project.secrets
    answered: list[int] = []

    def send(key: int) -> None:
        body = body_of({"data": contact(key)})
        answer = served.send("signed", body, standard_headers(secrets.standard, body, delivery=f"msg_{key}"))
        assert answer.status_code == 202, answer.text
        answered.append(int(answer.json()["event_id"]))

    for key in range(1, 101):
        send(key)
    with locked(project.erp):  # from here on, no webhook run can write: accepted events wait in the inbox
        for key in range(101, 201):
            send(key)
        served.kill()

        stored = dict(project.state.rows("SELECT id, status FROM webhook_events"))
        assert sorted(stored) == sorted(answered)  # every 202 was committed before it was sent
        assert "pending" in stored.values()

    again = serve(project)
    events = again.settled(200, timeout=30)

    assert {event["status"] for event in events} == {"processed"}
    assert len(project.customers()) == 200
    assert project.erp.rows(
        "SELECT count(DISTINCT customer_no), min(customer_no), max(customer_no) FROM customers"
    ) == [(200, 1, 200)]
    assert project.customers()[149] == (150, "Name 150", "p150@example.com")
    created_twice = project.state.rows(
        "SELECT source_key FROM record_log WHERE action = 'created' GROUP BY source_key HAVING count(*) > 1"
    )
    assert created_twice == []
    assert project.state.rows("SELECT count(*) FROM id_map") == [(200,)]
