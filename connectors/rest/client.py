"""One system's HTTP client: httpx on ``base_url`` with its headers, timeout and credentials, every
request through the system's limits and retries, every failure one of Brygga's errors.
"""

from __future__ import annotations

import asyncio
import functools
import os
import ssl
import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import orjson

from connectors.base import PermanentError, SecretValues, retry_policy
from connectors.rest.auth import OAuth2Credentials, credentials
from connectors.rest.config import RestSystem
from connectors.rest.errors import (
    CredentialsRefused,
    PermanentHttpError,
    TransientHttpError,
    http_errors,
    retry_after,
    status_error,
    unusable_url,
)
from connectors.rest.inflating import ASKED, TooLarge, inflater
from connectors.rest.limits import Clock, RequestLimits
from connectors.rest.paths import shown_text
from connectors.rest.redaction import unwatch_logs, watch_logs
from connectors.rest.retrying import RequestRetryPolicy, retrying
from connectors.rest.values import json_bytes

Params = Mapping[str, str | int | float | bool]


class _TrustLoadedOnFirstUse(ssl.SSLContext):
    """httpx's default TLS settings, with the trusted certificates (certifi's bundle, or ``SSL_CERT_FILE`` /
    ``SSL_CERT_DIR`` as httpx reads them) loaded at the first TLS connection: loading them takes ~30 ms,
    which a run against a plain-HTTP API, or one that never gets as far as a request, need not pay.

    Every TLS connection is made through :meth:`wrap_socket` or :meth:`wrap_bio` (asyncio's and anyio's
    streams both use the latter), so none is made before the certificates are there.
    """

    _loaded = False
    _lock = threading.Lock()

    def _load_trust(self) -> None:
        with self._lock:
            if self._loaded:
                return
            if os.environ.get("SSL_CERT_FILE"):
                self.load_verify_locations(cafile=os.environ["SSL_CERT_FILE"])
            elif os.environ.get("SSL_CERT_DIR"):
                self.load_verify_locations(capath=os.environ["SSL_CERT_DIR"])
            else:
                import certifi  # noqa: PLC0415 (httpx's own dependency; imported with the bundle it names)

                self.load_verify_locations(cafile=certifi.where())
            self._loaded = True

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        self._load_trust()
        return super().wrap_socket(*args, **kwargs)

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:
        self._load_trust()
        return super().wrap_bio(*args, **kwargs)


@functools.cache
def _tls() -> ssl.SSLContext:
    """httpx's default TLS settings (``ssl.create_default_context`` with its trusted certificates), made
    once per process, the certificates loaded when first needed (see :class:`_TrustLoadedOnFirstUse`)."""
    context = _TrustLoadedOnFirstUse(ssl.PROTOCOL_TLS_CLIENT)
    if (keys := os.environ.get("SSLKEYLOGFILE")) and not sys.flags.ignore_environment:
        context.keylog_filename = keys  # as ssl.create_default_context does: for debugging with Wireshark
    return context


class RestClient:
    """Sends one system's requests.

    :param name: the system's name, for messages
    """

    def __init__(self, name: str, options: RestSystem, clock: Clock, policy: RequestRetryPolicy) -> None:
        self.name = name
        self.options = options
        self.clock = clock
        self.policy = policy
        self.secrets = SecretValues()
        self.limits = RequestLimits(options.rate_limit, options.concurrency, clock)
        self.credentials = credentials(options.auth, self._send_token_request, self.secrets, clock, name)
        seconds = options.timeout.total_seconds()
        headers = httpx.Headers({"Accept": "application/json", "Accept-Encoding": ASKED})
        headers.update(options.headers)  # by name, whatever its case: the configured ones win
        self._http = httpx.AsyncClient(
            base_url=options.base_url,
            headers=headers,
            timeout=httpx.Timeout(seconds),
            limits=httpx.Limits(max_connections=options.concurrency, max_keepalive_connections=options.concurrency),
            follow_redirects=False,  # a redirect means a wrong base_url; following it could carry a key elsewhere
            verify=_tls(),
        )
        watch_logs(self.secrets)

    async def close(self) -> None:
        await self._http.aclose()
        unwatch_logs(self.secrets)

    def redact(self, text: str) -> str:
        return self.secrets.redact(text)

    async def request(
        self,
        method: str,
        url: str | httpx.URL,
        where: str,
        *,
        params: Params | None = None,
        body: Any = None,
        repeatable: bool = True,
    ) -> httpx.Response:
        """Send a request (retrying passing failures) and return its 2xx answer.

        :param url: a path under ``base_url`` or an absolute URL
        :param where: what is being done, for messages (``"crm.contacts: reading"``)
        :param body: sent as JSON when not ``None``
        :param repeatable: whether it may be sent again after it may have arrived (not for creates)
        :raises TransientHttpError: when it kept failing for passing reasons
        :raises PermanentHttpError: when the system refused it (:class:`NotFoundHttpError` for 404 and 410)
        """
        with unusable_url(where, self.redact):  # a URL or parameter from an answer or a record may be unusable
            url = httpx.URL(url)
            if params:  # httpx would replace a query the URL has (a next-page URL's) with ``params``
                url = url.copy_merge_params(dict(params))
        if url.is_absolute_url and _origin(url) != _origin(self._http.base_url):
            raise PermanentError(
                self.redact(
                    f"{where}: the API named {url.copy_with(query=None)} (a next page) on another host than "
                    f"base_url {self._http.base_url}: {self.name}'s credentials go to base_url's host only, so "
                    "Brygga does not follow it; if the API serves its pages from that host, make it base_url"
                )
            )
        try:
            content = None if body is None else json_bytes(body)
        except PermanentError as exc:
            raise PermanentError(f"{where}: {exc}") from exc
        headers = {"Content-Type": "application/json"} if content is not None else None
        try:
            async for attempt in retrying(self._policy(), self.clock, repeatable=repeatable):
                with attempt:
                    return await self._authorized(
                        lambda: self._http.build_request(method, url, content=content, headers=headers),
                        where,
                    )
        except TransientHttpError as exc:
            exc.retried = repeatable or not exc.maybe_done  # a create that may have happened was not retried
            raise
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    def _policy(self) -> RequestRetryPolicy:
        """The calling run's sync's ``retry`` policy (one policy for every retry layer), else the system's own."""
        run = retry_policy.get()
        if run is None:
            return self.policy
        return RequestRetryPolicy(
            attempts=run.attempts,
            first_wait=run.backoff.total_seconds(),
            most_wait=run.max_backoff.total_seconds(),
            longest_wait=self.policy.longest_wait,
        )

    async def _authorized(self, build: Callable[[], httpx.Request], where: str) -> httpx.Response:
        """One try; after a 401 to credentials that can be renewed, once more with new ones."""
        request: httpx.Request = build()
        response, used = await self._send(request, where)
        if response.status_code == 401 and await self.credentials.rejected(used):
            request = build()
            response, used = await self._send(request, where)
        if response.is_success:
            self.credentials.accepted(used)
        if error := status_error(response, self._shown(request, where), self.redact):
            raise error
        return response

    async def _send(self, request: httpx.Request, where: str) -> tuple[httpx.Response, str | None]:
        """Send ``request`` once its turn has come (rate limit, concurrency), with the credentials of that
        moment: a token put on before the wait could run out in the queue. The credentials used, too."""
        async with self.limits.request():
            used = await self.credentials.authorize(request)
            with http_errors(self._shown(request, where), self.redact):
                response = await self._whole(request)
        wait = retry_after(response) if response.status_code in (429, 503) else None
        if wait is not None and wait <= self.policy.longest_wait:  # longer: "come back later", not a wait
            self.limits.pause(wait)
        return response, used

    async def _send_token_request(self, request: httpx.Request) -> httpx.Response:
        """The OAuth2 token request, once: it is part of each try of the request that needs the token, so
        it is retried with that request. Not counted in the API's rate limit (it often goes elsewhere).

        A passing failure says ``maybe_done=False``: the API request itself was not sent, so even a
        create may be tried again.
        """
        where = f"{self.name}: fetching an OAuth2 token from {request.url}"
        try:
            with http_errors(where, self.redact):
                response = await self._whole(request)
            error = status_error(response, where, self.redact)
        except TransientHttpError as exc:
            raise TransientHttpError(str(exc), maybe_done=False, status=exc.status) from exc
        if isinstance(error, PermanentHttpError) and 300 <= response.status_code < 400:
            moved = response.headers.get("location", "(no Location)")
            raise PermanentHttpError(
                self.redact(
                    f"{where}: answered {response.status_code} with a redirect to {moved}, which Brygga does not "
                    "follow (the client secret would go along): set `token_url` to where it points"
                ),
                status=response.status_code,
            )
        if isinstance(error, PermanentHttpError):
            status = f"{response.status_code} {response.reason_phrase}".strip()
            refused = f"{self.name}: fetching an OAuth2 token: {request.url} refused the client credentials ({status})"
            fix = (
                "check `client_id` and `client_secret` (and `scopes`, `audience`); the token endpoint is asked again "
                f"after {OAuth2Credentials.SHORTEST_REUSE:g}s"
            )
            said = _oauth_error(response)
            raise CredentialsRefused(self.redact(f"{refused}{': ' + said if said else ''}: {fix}"), status=error.status)
        if isinstance(error, TransientHttpError):
            raise TransientHttpError(str(error), maybe_done=False, status=error.status, retry_after=error.retry_after)
        return response

    async def _whole(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and read its whole answer within ``timeout``: connect, send and every byte of
        the answer together. httpx's own timeouts bound each read, so a server sending a byte a second
        would never trip them; past the deadline :func:`~connectors.rest.errors.http_errors` makes the
        ``TimeoutError`` a passing error, as it does httpx's timeouts."""
        async with asyncio.timeout(self.options.timeout.total_seconds()):
            response = await self._http.send(request, stream=True)
            try:
                content = await self._bounded(response, request)
            finally:
                await response.aclose()
        response._content = content  # as httpx's own read sets it: the answer read whole
        # httpx binds the answer's stream to the answer (each refers to the other): read whole and closed,
        # the stream has done its work, and without it the answer and its body are freed when dropped,
        # not at the next full collection, which a run makes rarely (73 bodies of 300 KB were waiting).
        response.stream = httpx.ByteStream(content)
        return response

    async def _bounded(self, response: httpx.Response, request: httpx.Request) -> bytes:
        """The answer's body, decompressed, up to ``max_answer``: a few kilobytes of gzip can inflate to
        gigabytes (a zip bomb), which would end the process before the answer could be refused. Its codings
        are undone here, each bounded (see :mod:`~connectors.rest.inflating`), not by httpx."""
        most = int(self.options.max_answer)
        codings = inflater(response, most)
        body = bytearray()
        try:
            async for chunk in response.aiter_raw():
                body += codings.undo(chunk)
                if len(body) > most:
                    raise TooLarge
        except TooLarge:
            raise PermanentError(
                self.redact(
                    f"{self.name}: {request.method} {request.url}: the answer is larger than max_answer "
                    f"({most:,} bytes once decompressed): the request fails; if the API's pages really are "
                    "that large, ask for smaller pages or raise the system's max_answer"
                )
            ) from None
        return bytes(body)

    def _shown(self, request: httpx.Request, where: str) -> str:
        return f"{where}: {request.method} {request.url}"


def _origin(url: httpx.URL) -> tuple[str, bytes, int | None]:
    """Scheme, host and port: where a request goes (a default port said or not is the same). The host as it
    goes on the wire (punycode, ``xn--…``): ``url.host`` decodes that, and raised the idna package's own
    errors, not httpx's, for a next page's host that decodes to nothing valid."""
    default = {"http": 80, "https": 443}.get(url.scheme)
    return url.scheme, url.raw_host.lower(), url.port or default


def _oauth_error(response: httpx.Response) -> str:
    """The token endpoint's ``error`` and ``error_description`` (RFC 6749 §5.2), never more of its answer;
    empty where it gives none."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return ""
    if not isinstance(body, dict) or not isinstance(body.get("error"), str):
        return ""
    error = shown_text(body["error"], 100)
    description = body.get("error_description")
    return error + (f" ({shown_text(description, 200)})" if isinstance(description, str) else "")
