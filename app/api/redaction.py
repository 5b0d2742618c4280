"""Secret values never leave the service: not in an answer (SPEC 7), not in the access log.

Every response body and header is scrubbed before it is sent. The access
log shows what clients sent, and clients put tokens in query strings
(``?token=…``, ``?api_key=…``, a presigned URL's ``X-Amz-Signature``): the
value of every parameter whose name looks secret is hidden, as is every
configured secret wherever it shows in the line.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from urllib.parse import unquote_plus

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import REDACTED, SecretValues

ACCESS_LOGGER = "uvicorn.access"

SECRET_PARAMETER = re.compile(r"token|secret|pass|pwd|key|auth|sig|credential|session|jwt", re.IGNORECASE)
"""Query parameters whose values the access log hides: any name with one of these in it (``access_token``,
``api_key``, ``apiKey``, ``X-Amz-Signature``, ``client_secret``, ``password``, ``sig``). Hiding the value
of a harmless parameter that happens to match (``keyword``) costs a log line some detail, nothing more."""


def hide_query_secrets(target: str) -> str:
    """A request target (path and query) with the value of each secret-looking query parameter hidden."""
    path, mark, query = target.partition("?")
    if not mark:
        return target
    return f"{path}?{'&'.join(_hidden(parameter) for parameter in query.split('&'))}"


def _hidden(parameter: str) -> str:
    name, equals, _ = parameter.partition("=")
    if equals and SECRET_PARAMETER.search(unquote_plus(name)):  # a name sent as %74oken is still "token"
        return f"{name}={REDACTED}"
    return parameter


class AccessLogRedaction(logging.Filter):
    """On uvicorn's access logger: hides secret-looking query values and every configured secret.

    Its records keep their arguments (client, method, target, HTTP version, status), which uvicorn's
    access formatter takes apart; only the target is rewritten.

    :param secrets: the running service's secret values (``None`` before it has started)
    """

    def __init__(self, secrets: Callable[[], SecretValues | None]) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            target = hide_query_secrets(args[2])
            secrets = self.secrets()
            record.args = (*args[:2], secrets.redact(target) if secrets is not None else target, *args[3:])
        return True


def watch_access_log(secrets: Callable[[], SecretValues | None]) -> AccessLogRedaction:
    """Put an :class:`AccessLogRedaction` on uvicorn's access logger (it stays through uvicorn's own
    logging setup, which replaces the logger's handlers, not its filters); returned for removal."""
    log_filter = AccessLogRedaction(secrets)
    logging.getLogger(ACCESS_LOGGER).addFilter(log_filter)
    return log_filter


class RedactSecrets:
    """ASGI middleware: replaces each secret value in response bodies and headers with ``***``.

    Bodies are gathered whole (API answers are small pages), scrubbed, and
    sent with a corrected ``content-length``.

    :param unscrubbed: path prefixes whose answers pass as they are: files of an installed package (the
        API pages' and the dashboard's scripts and styles), the same for every service, so no secret of this
        one can be in them; scrubbing megabytes of script on each load would only cost time, and break the
        script wherever a secret's value happened to be a word of it
    """

    def __init__(
        self, app: ASGIApp, secrets: Callable[[], SecretValues | None], unscrubbed: Iterable[str] = ()
    ) -> None:
        self.app = app
        self.secrets = secrets
        self.unscrubbed = tuple(prefix.rstrip("/") + "/" for prefix in unscrubbed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        secrets = self.secrets() if scope["type"] == "http" and not self._passes(scope) else None
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
            headers = [
                (name, secrets.redact(value.decode("latin-1")).encode("latin-1"))
                for name, value in start.get("headers", [])
                if name.lower() != b"content-length"
            ]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, scrubbing_send)

    def _passes(self, scope: Scope) -> bool:
        return bool(self.unscrubbed) and str(scope.get("path", "")).startswith(self.unscrubbed)
