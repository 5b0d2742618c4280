"""Credentials on each request: bearer, basic, header, query, and OAuth2 client credentials.

OAuth2 (client credentials, RFC 6749 §4.4): the token is fetched once and
shared by every request; it is fetched again shortly before its
``expires_in`` runs out (a tenth of its life early, at most a minute), and
after the API answers 401 to it (the request is then sent once more with the
new token). The token endpoint is not hammered: a token is reused for at
least :attr:`OAuth2Credentials.SHORTEST_REUSE` seconds whatever its
``expires_in`` says (``1``, ``0.001``), a 401 aside; ``expires_in`` of 0 or
less is no expiry (used until a 401). A token fetched after a 401 and refused
too, before the API ever took it, is not replaced again within
``SHORTEST_REUSE``: the API refuses the client, not an old token, and each
request fetching its own token first would only add to the refusals. Nor is a token endpoint that refuses
the client (401 or 400 ``invalid_client``) or answers with no usable token in it (an HTML error page with
200, JSON without ``access_token``): its answer is every request's for ``SHORTEST_REUSE``, as it came back
at once and each request asked again (a storm of token requests, and refusals that may lock the account).
The client id and secret are sent in the form body
(``client_secret_post``), with ``scope`` and ``audience`` when configured.
Every secret and token is added to the connector's secrets, so no message or
log line shows it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from connectors.base import ConnectorError, NotJson, PermanentError, SecretValues, TransientError, parse_json
from connectors.rest.config import Auth, BasicAuth, BearerAuth, HeaderAuth, OAuth2Auth, QueryAuth
from connectors.rest.errors import TokenAnswerUnusable
from connectors.rest.limits import Clock
from connectors.rest.paths import shape_of, shown_text
from connectors.rest.values import whole_number

log = logging.getLogger(__name__)

SendToken = Callable[[httpx.Request], Awaitable[httpx.Response]]
"""Sends the token request once and returns its 2xx answer (errors mapped; the request that needs the
token retries it with itself)."""


class Credentials:
    """No credentials: the base of every kind."""

    async def authorize(self, request: httpx.Request) -> str | None:
        """Put the credentials on ``request``; returns what was used, to hand to :meth:`rejected`."""
        return None

    async def rejected(self, used: str | None) -> bool:
        """The API answered 401 to credentials ``used``: whether fresh ones may do (send once more)."""
        return False

    def accepted(self, used: str | None) -> None:
        """The API answered credentials ``used`` with a success: they are good."""


class HeaderCredentials(Credentials):
    """A fixed header: bearer and header kinds."""

    def __init__(self, name: str, value: str) -> None:
        self.name, self.value = name, value

    async def authorize(self, request: httpx.Request) -> str | None:
        request.headers[self.name] = self.value
        return None


class LibraryCredentials(Credentials):
    """Credentials that httpx puts on a request itself (:class:`httpx.BasicAuth`): its flow's first step,
    which needs no answer.

    :param auth: the httpx scheme
    :param secrets: what the scheme puts on a request (the encoded ``user:password`` of Basic auth) is
        added here, so no message shows it either
    """

    def __init__(self, auth: httpx.Auth, secrets: SecretValues) -> None:
        self._auth = auth
        probe = httpx.Request("GET", "http://brygga.invalid/")
        self._authorized(probe)
        for value in probe.headers.get_list("Authorization"):
            secrets.add(value.partition(" ")[2])

    async def authorize(self, request: httpx.Request) -> str | None:
        self._authorized(request)
        return None

    def _authorized(self, request: httpx.Request) -> None:
        next(self._auth.sync_auth_flow(request))


class QueryCredentials(Credentials):
    """An API key in a query parameter."""

    def __init__(self, name: str, value: str) -> None:
        self.name, self.value = name, value

    async def authorize(self, request: httpx.Request) -> str | None:
        request.url = request.url.copy_merge_params({self.name: self.value})
        return None


MAX_TOKEN = 65_536
"""The longest access token taken: real ones are JWTs of a few kilobytes at most."""
KEPT_TOKENS = 2
MOST_SHARED = 300.0
"""The longest a token endpoint's ``Retry-After`` keeps its failure as every request's answer, in seconds."""


class OAuth2Credentials(Credentials):
    """An OAuth2 client-credentials token, fetched once and refreshed before it runs out and after a 401.

    :param send: sends the token request
    :param secrets: every token fetched is added here
    """

    EARLY = 0.1
    """Refresh this share of a token's life before it runs out …"""
    MOST_EARLY = 60.0
    """… but no more than this many seconds early."""
    SHORTEST_REUSE = 10.0
    """… and use each token at least this many seconds (unless the API refuses it), whatever its ``expires_in``:
    ``expires_in: 0.001`` fetched a token for every request."""

    def __init__(
        self, options: OAuth2Auth, send: SendToken, secrets: SecretValues, clock: Clock, system: str = ""
    ) -> None:
        self.options = options
        self._where = f"{system + ': ' if system else ''}fetching an OAuth2 token from {options.token_url}"
        self._send = send
        self._secrets = secrets
        self._clock = clock
        self._token: str | None = None
        self._refresh_at: float | None = None
        self._kept: deque[str] = deque()
        """The last tokens fetched, scrubbed: this one and the one before (an answer to a request that went
        with it may come late). Older ones are forgotten."""
        self._lock = asyncio.Lock()
        self._tries = 0
        self._failed: ConnectorError | None = None
        self._failed_until = 0.0
        self._fetched_at = 0.0
        self._replacing_refused = False
        """The next token fetched replaces one the API refused."""
        self._unproven = False
        """The token replaces a refused one and the API has not taken it yet."""
        self.fetched = 0
        """How many tokens were fetched (for logs and tests)."""

    async def authorize(self, request: httpx.Request) -> str | None:
        token = await self._current()
        request.headers["Authorization"] = f"Bearer {token}"
        return token

    async def rejected(self, used: str | None) -> bool:
        async with self._lock:
            if used is not None and self._token == used:
                if self._unproven and self._clock.now() - self._fetched_at < self.SHORTEST_REUSE:
                    return False  # a fresh token refused too: the API refuses the client; no fetch per request
                self._token = None  # the next request fetches a new one (one fetch, however many were refused)
                self._replacing_refused = True
        return used is not None

    def accepted(self, used: str | None) -> None:
        if used is not None and used == self._token:
            self._unproven = False

    async def _current(self) -> str:
        """The token to send; fetched where there is none, or it runs out.

        A fetch that failed is the answer of every request that waited for it, and of every request for as
        long as the failed fetch took (a timeout is not waited for again at once), or until the token
        endpoint's ``Retry-After`` has passed: each asked again, one after the other (a token endpoint that
        timed out cost a batch of a thousand records, written one at a time, a thousand timeouts).
        """
        tries = self._tries
        async with self._lock:
            failed = self._failed
            if failed is not None and (self._tries != tries or self._clock.now() < self._failed_until):
                raise _again(failed) from failed
            expired = self._refresh_at is not None and self._clock.now() >= self._refresh_at
            if self._token is None or expired:
                self._tries += 1
                began = self._clock.now()
                try:
                    token, self._refresh_at = await self._fetch()
                except ConnectorError as exc:
                    self._failed, self._failed_until = (
                        exc,
                        self._clock.now() + self._held(exc, self._clock.now() - began),
                    )
                    raise
                self._failed = None
                self._fetched_at, self._unproven, self._replacing_refused = began, self._replacing_refused, False
                self._keep(token)
            assert self._token is not None
            return self._token

    def _held(self, error: ConnectorError, took: float) -> float:
        """How many seconds the failed fetch's ``error`` stays every request's answer: a refusal (``invalid_client``)
        or an answer with no usable token for ``SHORTEST_REUSE`` (they come at once: held for no time, each
        request asked again, and an account may lock after a few refusals); others for as long as the fetch
        took, or the ``Retry-After`` of the token endpoint, up to ``MOST_SHARED``."""
        if isinstance(error, PermanentError):
            return self.SHORTEST_REUSE
        wait = error.retry_after if isinstance(error, TransientError) else None
        return min(max(wait or 0.0, took), MOST_SHARED)

    def _keep(self, token: str) -> None:
        """``token`` is the one to send; tokens older than the one before it are no longer scrubbed (each
        token kept made every later scrub longer: a token an hour, for weeks)."""
        self._token = token
        if token in self._kept:
            return
        self._kept.append(token)
        while len(self._kept) > KEPT_TOKENS:
            self._secrets.discard(self._kept.popleft())

    async def _fetch(self) -> tuple[str, float | None]:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.options.client_id,
            "client_secret": self.options.client_secret.get_secret_value(),
        }
        if self.options.scopes:
            form["scope"] = " ".join(self.options.scopes)
        if self.options.audience:
            form["audience"] = self.options.audience
        request = httpx.Request("POST", self.options.token_url, data=form, headers={"Accept": "application/json"})
        answer = await self._send(request)
        token, lifetime = self._read_answer(answer)
        self._secrets.add(token)
        self.fetched += 1
        shown = f"valid for {lifetime:g}s" if lifetime is not None else "without an expiry"
        log.info("fetched an OAuth2 token from %s (%s)", self.options.token_url, shown)
        if lifetime is None:
            return token, None
        usable = max(lifetime - min(lifetime * self.EARLY, self.MOST_EARLY), self.SHORTEST_REUSE)
        return token, self._clock.now() + usable

    def _read_answer(self, answer: httpx.Response) -> tuple[str, float | None]:
        """The token and its lifetime in a 2xx answer.

        :raises TokenAnswerUnusable: when the answer holds no token fit to send; the message says the
            status and what the answer was (the start of a body that is not JSON, scrubbed; of JSON only
            its shape, as its values may be a token under another name)
        """
        status = f"{answer.status_code} {answer.reason_phrase}".strip()
        where = f"{self._where}: the answer ({status})"
        fix = (
            f"the token endpoint answers wrongly; check `token_url` (it is asked again after {self.SHORTEST_REUSE:g}s)"
        )
        try:  # numbers exact: an ``expires_in`` of 1e999 is no reason to refuse the token (orjson refused it)
            body: Any = parse_json(answer.content, where=self._where)
        except NotJson as exc:
            reason = exc.reason.split(":", 1)[0]  # the parser's reason, without the text it quotes
            shown = self._shown_body(answer)
            raise TokenAnswerUnusable(
                f"{where} is not JSON ({reason}); {shown}: {fix}", status=answer.status_code
            ) from None
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise TokenAnswerUnusable(
                f"{where} has no access_token (it is {shape_of(body)}): {fix}", status=answer.status_code
            )
        if (problem := _token_problem(token)) is not None:
            raise TokenAnswerUnusable(f"{where}: its access_token {problem}: {fix}", status=answer.status_code)
        lifetime = body.get("expires_in")
        if isinstance(lifetime, str):
            lifetime = whole_number(lifetime)
        valid = isinstance(lifetime, int | float) and not isinstance(lifetime, bool) and lifetime > 0
        return token, float(lifetime) if valid else None

    def _shown_body(self, answer: httpx.Response) -> str:
        """How an answer that is not JSON begins, for a message: whitespace made single spaces, every secret
        scrubbed before the cut (so no part of one is left at it), control characters escaped."""
        text = " ".join(answer.content[:MAX_TOKEN].decode("utf-8", "replace").split())
        return f"it begins {shown_text(self._secrets.redact(text), ANSWER_SHOWN)}" if text else "it is empty"


ANSWER_SHOWN = 100
"""How many characters of a token endpoint's answer that is not JSON a message shows."""


def _token_problem(token: str) -> str | None:
    """What makes ``token`` unfit to send, or ``None``: a length no token has (a token of a megabyte froze the
    run: every character of it became part of the pattern that scrubs secrets), or a control character,
    which httpx refuses in a header (each request then failed, without naming the token endpoint)."""
    if len(token) > MAX_TOKEN:
        return (
            f"is {len(token):,} characters long, where tokens hold a few thousand at most "
            f"(Brygga takes up to {MAX_TOKEN:,})"
        )
    if any(character < " " or character == "\x7f" for character in token):
        return "holds a control character (a line break, a NUL), which no HTTP header can carry"
    return None


def _again(error: ConnectorError) -> ConnectorError:
    """The same error again, for another request (one exception object raised in many tasks would gather
    each one's traceback)."""
    again = error.__class__.__new__(error.__class__)
    again.args = error.args
    again.__dict__.update(error.__dict__)
    return again


def credentials(
    auth: Auth | None, send: SendToken, secrets: SecretValues, clock: Clock, system: str = ""
) -> Credentials:
    """The credentials of system ``system``'s ``auth`` option; their secret values are added to ``secrets``."""
    if auth is None:
        return Credentials()
    if isinstance(auth, OAuth2Auth):
        secrets.add(auth.client_secret.get_secret_value())
        return OAuth2Credentials(auth, send, secrets, clock, system)
    if isinstance(auth, BearerAuth):
        token = auth.token.get_secret_value()
        secrets.add(token)
        return HeaderCredentials("Authorization", f"Bearer {token}")
    if isinstance(auth, BasicAuth):
        password = auth.password.get_secret_value()
        secrets.add(password)
        return LibraryCredentials(httpx.BasicAuth(auth.username, password), secrets)
    if isinstance(auth, HeaderAuth):
        secrets.add(auth.value.get_secret_value())
        return HeaderCredentials(auth.name, auth.value.get_secret_value())
    assert isinstance(auth, QueryAuth)
    secrets.add(auth.value.get_secret_value())
    return QueryCredentials(auth.name, auth.value.get_secret_value())
