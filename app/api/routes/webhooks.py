"""``POST /webhooks/{system}``: deliveries, checked and committed before the 202 (SPEC 5);
``/api/v1/webhook-events``: what was received, and replaying it."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel

from app.api.deps import Id, Operator, ServiceDep, SystemFilter, Viewer
from app.api.models import WebhookEventPublic, WebhookEventsPage
from app.api.pagination import DEFAULT_LIMIT, CursorParam, Limit, encode_cursor, int_cursor
from app.api.responses import BAD_CURSOR, FORBIDDEN, UNAUTHORIZED, problem
from app.config import WebhookConfig
from app.engine import (
    DELIVERY_ID_HEADERS,
    PROOF_HEADERS,
    Hold,
    WebhookBadBody,
    WebhookRejected,
    WebhookTooLarge,
    webhook_of,
)

router = APIRouter(tags=["webhooks"])
NO_EVENT = problem(404, "No webhook event with that id.")
ONCE = frozenset((*PROOF_HEADERS, *DELIVERY_ID_HEADERS))
"""Headers that prove or name a delivery: each must come once, or which one counted would be a guess."""


class WebhookAccepted(BaseModel):
    """The delivery is stored; its records are processed right away."""

    event_id: str
    records: int


@router.post(
    "/webhooks/{system}",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        **problem(
            400,
            "The body is empty, not UTF-8 JSON, or has no record or list where `records` points (nothing, or a"
            " single text, number or null); or a delivery id is over 255 characters, or a signature or id header"
            " comes twice or holds a control character.",
        ),
        **problem(403, "`verify: none`, and a web page sent it."),
        **problem(401, "The signature, token or timestamp does not verify."),
        **problem(404, "No system of that name takes webhooks."),
        **problem(
            409,
            "The delivery id (webhook-id, X-GitHub-Delivery, Idempotency-Key) was received before with another body:"
            " send a new event under a new id. Nothing of it was stored.",
        ),
        **problem(413, "The body is larger than `max_body`."),
        **problem(
            503,
            "The service is taking in as many deliveries as `BRYGGA_MAX_WEBHOOK_BYTES` allows: send it again after"
            " `Retry-After` seconds. Nothing of it was stored.",
        ),
    },
)
async def receive(system: str, request: Request, service: ServiceDep) -> WebhookAccepted:
    """Take a delivery: 202 only once it is committed to the state database. The same delivery twice
    (same webhook-id, X-GitHub-Delivery or Idempotency-Key, the same JSON) is answered 202 and processed once;
    an id received before with another body is refused 409."""
    client = request.client.host if request.client is not None else None
    try:
        webhook = webhook_of(service.project, system)
        headers = _headers(request)
        service.webhooks.check_before_body(system, headers, client)  # an unproven sender holds no bytes
        with service.webhooks.admitted() as hold:
            body = await _body(request, webhook, hold)
            accepted = await service.webhooks.receive(system, body, headers, client)
    except WebhookRejected as exc:  # counted all the same, whichever step refused it
        service.webhooks.rejected(system, exc)
        raise
    return WebhookAccepted(event_id=str(accepted.event_id), records=accepted.records)


def _headers(request: Request) -> dict[str, str]:
    """The request's headers as the sender wrote them: each value's bytes as UTF-8 text, or, where they are
    not UTF-8, as Latin-1 (what ``requests`` and Node.js send for such characters). Starlette reads every
    header as Latin-1, so a ``webhook-id`` of ``msg_ü`` sent as UTF-8 came out ``msg_Ã¼``, and its Standard
    Webhooks signature (over the id's UTF-8 text) never verified.

    :raises WebhookRejected: 400 for a header that proves or names the delivery sent more than once
    """
    headers: dict[str, str] = {}
    for raw_name, raw_value in request.scope["headers"]:
        name = raw_name.decode("latin-1").lower()
        if name in headers and name in ONCE:
            raise WebhookBadBody("header twice", f"{name} is sent more than once: send it once")
        headers.setdefault(name, _text(raw_value))
    return headers


def _text(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


def _declared_length(request: Request) -> int | None:
    declared = request.headers.get("content-length", "")
    return int(declared) if declared.isascii() and declared.isdigit() and len(declared) <= 20 else None


async def _body(request: Request, webhook: WebhookConfig, hold: Hold) -> bytes:
    """The body, read no further than ``max_body`` (whether or not a Content-Length says so), each piece
    held as it arrives (not the Content-Length up front: a sender would hold bytes it never sends).

    :raises WebhookRejected: 413 over ``max_body``; 503 when the service holds as many bytes as it may
    """
    limit = int(webhook.max_body)
    too_large = WebhookTooLarge("too large", f"the body is over {webhook.max_body.human_readable()}")
    declared = _declared_length(request)
    if declared is not None and declared > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        if len(body) + len(chunk) > limit:
            raise too_large
        hold.take(len(chunk))
        body.extend(chunk)
    return bytes(body)


@router.get("/api/v1/webhook-events", responses={**BAD_CURSOR, **UNAUTHORIZED})
async def list_events(
    service: ServiceDep,
    _: Viewer,
    system: SystemFilter = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: CursorParam = None,
) -> WebhookEventsPage:
    """Received webhook events, newest first; of one system when asked."""
    events = await service.webhooks.events(system, int_cursor(cursor), limit + 1)
    page = events[:limit]
    items = [WebhookEventPublic.model_validate(event, from_attributes=True) for event in page]
    return WebhookEventsPage(items=items, next=encode_cursor(page[-1].id) if len(events) > limit else None)


@router.post(
    "/api/v1/webhook-events/{event_id}/replay",
    status_code=status.HTTP_202_ACCEPTED,
    responses={**UNAUTHORIZED, **FORBIDDEN, **NO_EVENT, **problem(409, "The event was discarded.")},
)
async def replay(event_id: Id, service: ServiceDep, _: Operator) -> WebhookEventPublic:
    """Process the stored event again, in every sync that listens to its system now."""
    event = await service.webhooks.replay(event_id)
    return WebhookEventPublic.model_validate(event, from_attributes=True).model_copy(update={"status": "pending"})


@router.delete(
    "/api/v1/webhook-events/{event_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**UNAUTHORIZED, **FORBIDDEN, **NO_EVENT, **problem(409, "Every sync has processed the event.")},
)
async def discard(event_id: Id, service: ServiceDep, caller: Operator) -> Response:
    """Discard a pending or failed event: it is `discarded` from now on and never processed again
    (a run that holds it already finishes it). Logged with the token's name."""
    await service.webhooks.discard(event_id, caller.name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
