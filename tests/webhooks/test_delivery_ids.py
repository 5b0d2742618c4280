"""A delivery id that is not ASCII, through a real ``brygga serve``: the Standard Webhooks signature that the
``standardwebhooks`` package makes (over the id's UTF-8 text) verifies whether the sender's HTTP client sent
the id's bytes as UTF-8 (Go, httpx given bytes) or as Latin-1 (``requests``, Node.js), and the id is stored
as the text it was, so the same delivery sent either way is one event (SPEC 5)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

from tests.webhooks.conftest import Served, WebhookProject, body_of, contact

Serve = Callable[[WebhookProject], Served]


def _signed(secret: str, delivery: str, body: bytes, encoding: str) -> list[tuple[bytes, bytes]]:
    """Headers as a Standard Webhooks sender makes them with the ``standardwebhooks`` package, the id's
    bytes in ``encoding``."""
    now = datetime.now(UTC)
    signature = Webhook(secret).sign(msg_id=delivery, timestamp=now, data=body)
    return [
        (b"webhook-id", delivery.encode(encoding)),
        (b"webhook-timestamp", str(int(now.timestamp())).encode()),
        (b"webhook-signature", signature.encode()),
        (b"content-type", b"application/json"),
    ]


def test_a_non_ascii_webhook_id_verifies_sent_as_utf8_or_latin1_and_is_stored_as_its_text(
    serve: Serve, project: WebhookProject
) -> None:
    served = serve(project)
    secret = project.secrets.standard
    body = body_of({"type": "contact.created", "data": contact(1)})

    greek = served.hooks.post("/webhooks/signed", content=body, headers=_signed(secret, "msg_Ωμέγα_1", body, "utf-8"))
    as_utf8 = served.hooks.post("/webhooks/signed", content=body, headers=_signed(secret, "msg_café", body, "utf-8"))
    as_latin1 = served.hooks.post(
        "/webhooks/signed", content=body, headers=_signed(secret, "msg_café", body, "latin-1")
    )

    assert [answer.status_code for answer in (greek, as_utf8, as_latin1)] == [202, 202, 202], greek.text
    assert as_latin1.json()["event_id"] == as_utf8.json()["event_id"]  # the same delivery: one event
    assert project.state.rows("SELECT delivery_id FROM webhook_events ORDER BY id") == [("msg_Ωμέγα_1",), ("msg_café",)]
    served.settled(2)
    assert project.customers() == [(1, "Name 1", "p1@example.com")]
