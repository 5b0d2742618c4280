"""Secret values never leave in an answer: every response body is scrubbed before it is sent (SPEC 7)."""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import SecretValues


class RedactSecrets:
    """ASGI middleware: replaces each secret value in response bodies with ``***``.

    Bodies are gathered whole (API answers are small pages), scrubbed, and
    sent with a corrected ``content-length``.
    """

    def __init__(self, app: ASGIApp, secrets: Callable[[], SecretValues | None]) -> None:
        self.app = app
        self.secrets = secrets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        secrets = self.secrets() if scope["type"] == "http" else None
        if secrets is None or not len(secrets):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def scrubbing_send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = secrets.redact(b"".join(chunks).decode("utf-8", "surrogateescape")).encode(
                "utf-8", "surrogateescape"
            )
            assert start is not None
            headers = [(name, value) for name, value in start.get("headers", []) if name.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, scrubbing_send)
