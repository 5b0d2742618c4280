"""Webhook deliveries: checked, then committed to the inbox before they are answered (SPEC 5).

A delivery that is not proven to come from its system, or that has no
records where the config says, is refused and nothing is stored. One that
is accepted is in the state database before the 202 goes out, so an answered
delivery is never lost.
"""

from __future__ import annotations

import asyncio
import binascii
import hashlib
import hmac
import ipaddress
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.config import Project, WebhookConfig, bearer_token, parse_path
from app.errors import RequestError
from app.json_values import exact_integer, exact_number, parse_cut
from app.mapping import compile_path
from app.messages import quoted
from app.records import Record

DELIVERY_ID_HEADERS = ("webhook-id", "x-github-delivery", "idempotency-key")
PROOF_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature", "x-hub-signature-256", "authorization")
"""Headers that prove or name a delivery: each must come once, or which one counted would be a guess."""
PARSED_AT_ONCE = 16 * 1024
"""The largest body parsed on the event loop (at most ~3 ms of CPU); a larger one is parsed in a worker
thread. Handing a small body to a thread cost more than parsing it: intake of 1 KiB deliveries fell by a
third, as the thread waited for the interpreter's lock while the event loop was busy."""
MAX_DELIVERY_ID = 255
"""The longest delivery id kept (Standard Webhooks' ids are ~30 characters, GitHub's are UUIDs); a longer
one would not fit the inbox's unique index on PostgreSQL."""


class WebhookRejected(RequestError):
    """A delivery refused, nothing stored; its type says why, ``reason`` is the metrics label.

    The HTTP answer is the API's to give, by type (:mod:`app.api.errors`): the engine knows no statuses.
    """

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        super().__init__(detail)


class WebhookNotProven(WebhookRejected):
    """No valid signature, token or timestamp, or a ``verify: none`` delivery from another machine."""


class WebhookFromWebPage(WebhookRejected):
    """An unsigned (``verify: none``) delivery that a web page on this machine sent."""


class UnknownWebhookSystem(WebhookRejected):
    """No system of that name, or one without a ``webhook`` block."""


class WebhookTooLarge(WebhookRejected):
    """The body is over the webhook's ``max_body``."""


class WebhookBadBody(WebhookRejected):
    """A body that is not JSON or has no records; a delivery id or proof header that is wrong."""


class WebhookIdReused(WebhookRejected):
    """A delivery id received before with another body: a second event under one id would be dropped unseen."""


@dataclass(frozen=True)
class Delivery:
    """A checked delivery: its body as text, how many records it carries, and the sender's id for it.

    Not its parsed body: that is many times the size of the text (50 MB for a MiB of tiny records), and a
    delivery waits for its commit with others; the run parses the stored text again.
    """

    body: str
    records: int
    delivery_id: str | None


def webhook_of(project: Project, system: str) -> WebhookConfig:
    """:raises WebhookRejected: 404 for an unknown system or one without a ``webhook`` block; the name is the
    sender's, so the message shows it quoted and cut short"""
    found = project.systems.get(system)
    if found is None or found.webhook is None:
        raise UnknownWebhookSystem("unknown system", f"no system {quoted(system)} takes webhooks")
    return found.webhook


def check_delivery(webhook: WebhookConfig, body: bytes, headers: Mapping[str, str], client: str | None) -> Delivery:
    """Verify, parse and count the records of a delivery. CPU-bound (a MiB of tiny records takes ~0.6 s):
    the service calls it in a worker thread.

    :raises WebhookRejected: 413 over ``max_body``, 401 not proven, 403 a web page's unsigned delivery,
        400 not JSON, no records, a delivery id too long, or a control character in a
        header that proves or names the delivery
    """
    if len(body) > webhook.max_body:
        raise WebhookTooLarge("too large", f"the body is over {webhook.max_body.human_readable()}")
    lowered = {name.lower(): value for name, value in headers.items()}
    check_headers(lowered)
    verify(webhook, body, lowered, client)
    text, event = parse_body(body)
    records = records_of(webhook, event)
    return Delivery(text, len(records), delivery_id_of(lowered))


def check_before_body(webhook: WebhookConfig, headers: Mapping[str, str], client: str | None) -> None:
    """What the headers alone can prove wrong, checked before a byte of the body is read: an unproven sender
    (no token, no fresh signature headers) then holds no share of the service's budget for bodies arriving,
    however fast it sends. The whole check (:func:`check_delivery`) follows once the body is in.

    :raises WebhookRejected: as :func:`check_delivery` would, for what it finds without the body
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    check_headers(lowered)
    if webhook.verify == "standard":
        _standard_headers(lowered)
    elif webhook.verify == "github" and not lowered.get("x-hub-signature-256", "").startswith("sha256="):
        raise WebhookNotProven("bad signature", "X-Hub-Signature-256 is missing or does not match the body")
    elif webhook.verify in ("token", "none"):
        verify(webhook, b"", lowered, client)  # the body plays no part in either
    delivery_id_of(lowered)


_TOLERANCE = timedelta(minutes=5)
"""How far a Standard Webhooks timestamp may be from now: the ``standardwebhooks`` package's own tolerance."""


def _standard_headers(headers: Mapping[str, str]) -> None:
    """The part of the ``standardwebhooks`` package's check that needs no body: the three headers there, the
    timestamp a time within :data:`_TOLERANCE` of now (the same messages as the package's)."""
    if not (headers.get("webhook-id") and headers.get("webhook-timestamp") and headers.get("webhook-signature")):
        raise WebhookNotProven("bad signature", "the signature does not verify: Missing required headers")
    stamp = headers["webhook-timestamp"]
    if not _is_time(stamp):
        raise WebhookNotProven(
            "bad signature",
            f"the signature does not verify: webhook-timestamp {quoted(stamp)} is not a time in seconds since 1970",
        )
    offset = datetime.fromtimestamp(float(stamp), tz=UTC) - datetime.now(tz=UTC)
    if abs(offset) > _TOLERANCE:
        too = "too new" if offset > _TOLERANCE else "too old"
        raise WebhookNotProven("stale timestamp", f"the signature does not verify: Message timestamp {too}")


def check_headers(headers: Mapping[str, str]) -> None:
    """:raises WebhookRejected: 400 for a control character (a NUL, a tab, DEL...) in a header that proves or
    names the delivery (``headers`` lower-cased): an id is stored and shown, and no signature holds one"""
    for name in (*PROOF_HEADERS, *DELIVERY_ID_HEADERS):
        value = headers.get(name, "")
        if any(_is_control(character) for character in value):
            raise WebhookBadBody(
                "bad header", f"{name} holds a control character ({quoted(value)}): send it as printable text"
            )


def _is_control(character: str) -> bool:
    return character < " " or "\x7f" <= character < "\xa0"


def parse_json(text: str) -> Any:
    """JSON text as Python values: integers of any size exactly (an ``int``; a decimal past 4,300 digits), numbers a
    float cannot hold as written (``1e400``) as decimals; NaN and Infinity, which JSON does not have, refused, and
    raw control characters too (strict JSON: a NUL in a string must come escaped, so the body is text any
    state database stores). The one place the webhook path parses JSON: the run reads the stored body back
    with it too, so a parser swapped here is swapped everywhere.

    Nesting deeper than the parser can recurse does not refuse the body: the lists and objects below
    :data:`~app.json_values.CUT_DEPTH` become unreadable values (:func:`~app.json_values.parse_cut`), so only
    a record holding one fails, where a sync maps that field.

    :raises ValueError: for text that is not JSON
    """
    try:
        return _strict_json(text)
    except RecursionError:
        return parse_cut(text, _strict_json, "in the webhook body")


def _strict_json(text: str) -> Any:
    return json.loads(text, parse_float=exact_number, parse_int=exact_integer, parse_constant=_no_constant)


async def parsed(text: str) -> Any:
    """:func:`parse_json` of a stored body; of a large one in a worker thread, so the event loop goes on.

    :raises ValueError: for text that is not JSON
    """
    if len(text) <= PARSED_AT_ONCE:
        return parse_json(text)
    return await asyncio.to_thread(parse_json, text)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def parse_body(body: bytes) -> tuple[str, Any]:
    """The body as text and as JSON.

    :raises WebhookRejected: 400 for an empty body, one that is not UTF-8 or not JSON
    """
    if not body.strip():
        raise WebhookBadBody("not json", "the body is not JSON: it is empty")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WebhookBadBody(
            "not json", f"the body is not JSON: it is not UTF-8 text (byte {exc.start} is not valid)"
        ) from None
    try:
        event = parse_json(text)
    except ValueError as exc:
        raise WebhookBadBody("not json", f"the body is not JSON: {exc}") from None
    return text, event


def delivery_id_of(headers: Mapping[str, str]) -> str | None:
    """The sender's id for the delivery (``headers`` lower-cased), which makes a second sending a duplicate.

    :raises WebhookRejected: 400 for an id longer than :data:`MAX_DELIVERY_ID`
    """
    for name in DELIVERY_ID_HEADERS:
        found = headers.get(name)
        if found:
            if len(found) > MAX_DELIVERY_ID:
                raise WebhookBadBody(
                    "bad delivery id", f"{name} is longer than {MAX_DELIVERY_ID} characters: send a shorter id"
                )
            return found
    return None


def records_of(webhook: WebhookConfig, event: Any) -> list[Any]:
    """The items at the webhook's ``records`` path (default: the body): the record there, or each item of
    the list there. An item that is no record fails alone in the run (:func:`records_in`).

    :raises WebhookRejected: 400 when there is no object or list there (nothing, or a single text or number)
    """
    if webhook.records is None:
        found = event
    else:
        found = compile_path(webhook.records)(event) if isinstance(event, dict) else None
    if isinstance(found, dict):
        return [found]
    if isinstance(found, list):
        return found
    where = f"at '{webhook.records}'" if webhook.records else "in the body"
    raise WebhookBadBody("no records", f"no record or list of records {where}")


@dataclass(frozen=True)
class NotARecord:
    """An item of a delivery that is no record: it fails alone into the dead letters, its siblings go on."""

    where: str
    """Its place in the body (``data[2]``)."""
    item: Any
    error: str


def records_in(webhook: WebhookConfig, items: list[Any], key_fields: Sequence[str]) -> list[Record | NotARecord]:
    """The records of :func:`records_of`'s ``items``: each object as it is; with ``fetch: true`` and a key of
    one field (``key_fields``), a bare key (``5``, ``"A-1"``) as a record of that field; anything else a
    :class:`NotARecord` that says what it is."""
    records: list[Record | NotARecord] = []
    for position, item in enumerate(items):
        if isinstance(item, dict):
            records.append(item)
            continue
        where = f"{webhook.records or ''}[{position}]"
        if webhook.fetch and isinstance(item, str | int) and not isinstance(item, bool):
            records.append(_bare_key(where, item, key_fields))
        else:
            records.append(NotARecord(where, item, f"{where} is {_what(item)}, not a record: {_wanted(webhook)}"))
    return records


def _bare_key(where: str, key: str | int, key_fields: Sequence[str]) -> Record | NotARecord:
    """A record of ``key`` in the stream's one key field; a :class:`NotARecord` where the key has several."""
    steps = parse_path(key_fields[0]) if len(key_fields) == 1 else ()
    if not steps or not all(isinstance(step, str) for step in steps):
        fields = ", ".join(key_fields)
        return NotARecord(
            where,
            key,
            f"{where} is the bare key {quoted(key) if isinstance(key, str) else key}, but the stream's key is {fields}:"
            " send each key as an object of its key fields",
        )
    record: Any = key
    for step in reversed(steps):
        record = {step: record}
    return dict(record)


def _what(item: Any) -> str:
    if item is None:
        return "null"
    if isinstance(item, bool):
        return f"the value {str(item).lower()}"
    if isinstance(item, str):
        return f"the text {quoted(item)}"
    if isinstance(item, list):
        return f"a list of {len(item)} items"
    number = str(item)
    return f"the number {number[:40]}" + ("…" if len(number) > 40 else "")


def _wanted(webhook: WebhookConfig) -> str:
    if webhook.fetch:
        return "send each record as an object, or a key as text or a whole number"
    return "send each record as a JSON object"


def verify(webhook: WebhookConfig, body: bytes, headers: Mapping[str, str], client: str | None) -> None:
    """:raises WebhookRejected: 401 when the delivery is not proven to come from the system; 403 for an
    unsigned one (``verify: none``) that a web page sent"""
    secret = webhook.secret.get_secret_value() if webhook.secret is not None else ""
    if webhook.verify != "none" and not secret.strip():  # config validation refuses it; never trust that alone
        raise WebhookNotProven("no secret", "the delivery cannot be verified: the webhook has no secret")
    if webhook.verify == "standard":
        _standard(secret, body, headers)
    elif webhook.verify == "github":
        _github(secret, body, headers)
    elif webhook.verify == "token":
        given = bearer_token(headers.get("authorization"))
        if not hmac.compare_digest(given.encode(), secret.encode()):
            raise WebhookNotProven("bad token", "a valid bearer token is required")
    elif not _loopback(client):
        raise WebhookNotProven("not loopback", "verify: none takes deliveries from this machine only")
    elif "origin" in headers or headers.get("sec-fetch-site", "none") != "none":
        # a browser on this machine is on the loopback too: a web page may not post unsigned deliveries
        raise WebhookFromWebPage(
            "web page", "verify: none takes deliveries from programs on this machine, not web pages"
        )


def _standard(secret: str, body: bytes, headers: Mapping[str, str]) -> None:
    """Standard Webhooks: webhook-id, webhook-timestamp (within 5 minutes), webhook-signature. The signed
    content is the ``standardwebhooks`` package's own: the id's UTF-8 text, the timestamp, the body's bytes."""
    stamp = headers.get("webhook-timestamp")
    if stamp and not _is_time(stamp):
        raise WebhookNotProven(
            "bad signature",
            f"the signature does not verify: webhook-timestamp {quoted(stamp)} is not a time in seconds since 1970",
        )
    try:
        Webhook(secret).verify(body, dict(headers), json_parse=False)
    except (WebhookVerificationError, ValueError, binascii.Error, UnicodeDecodeError) as exc:
        reason = "stale timestamp" if "timestamp" in str(exc).lower() else "bad signature"
        raise WebhookNotProven(reason, f"the signature does not verify: {exc}") from None


def _is_time(stamp: str) -> bool:
    """Whether ``stamp`` is a time as the ``standardwebhooks`` package reads one (seconds since 1970)."""
    try:
        datetime.fromtimestamp(float(stamp), tz=UTC)
    except (ValueError, OverflowError, OSError):
        return False
    return True


def _github(secret: str, body: bytes, headers: Mapping[str, str]) -> None:
    """GitHub style: X-Hub-Signature-256 is sha256=<hex HMAC-SHA256 of the body>."""
    given = headers.get("x-hub-signature-256", "")
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise WebhookNotProven("bad signature", "X-Hub-Signature-256 is missing or does not match the body")


def _loopback(client: str | None) -> bool:
    try:
        return client is not None and ipaddress.ip_address(client).is_loopback
    except ValueError:
        return False


def sign_standard(secret: str, delivery_id: str, timestamp: Any, body: str) -> str:
    """A Standard Webhooks signature (for tests and benchmarks that send deliveries)."""
    return Webhook(secret).sign(msg_id=delivery_id, timestamp=timestamp, data=body)
