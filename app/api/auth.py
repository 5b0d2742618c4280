"""Bearer tokens and roles (SPEC 7): ``viewer`` reads, ``operator`` also acts.

Tokens come from ``api.tokens`` of the running config and are compared in
constant time. With no tokens configured every route is open: ``brygga
serve`` then refuses any address but the loopback. The ``Authorization`` header is read by
:func:`identify` (FastAPI's :class:`~fastapi.security.HTTPBearer` only documents the scheme in the OpenAPI
description); a refusal is a typed error that :mod:`app.api.errors` answers 401 or 403.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from fastapi import HTTPException, Request
from fastapi.security import HTTPBearer

from app.config import Project, bearer_token
from app.errors import RequestError

ROLES = {"viewer": 0, "operator": 1}

bearer = HTTPBearer(auto_error=False, description="An `api.tokens` token: a viewer's reads, an operator's also acts.")
"""Describes the ``Authorization: Bearer`` header in the OpenAPI description; :func:`identify` reads it."""


class Refused(RequestError, HTTPException):
    """A caller refused. Also an ``HTTPException``, as these refusals were before they were typed: the
    dashboard's actions and tests catch that and read its ``status_code``, which repeats the status the
    API's table gives (``tests/test_error_tree.py`` checks they agree)."""

    code = 400

    def __init__(self, detail: str) -> None:
        headers = {"WWW-Authenticate": "Bearer"} if self.code == 401 else None
        HTTPException.__init__(self, self.code, detail, headers=headers)
        Exception.__init__(self, detail)

    def __str__(self) -> str:
        return str(self.detail)


class Unauthorized(Refused):
    """No valid bearer token (HTTP 401, ``WWW-Authenticate: Bearer``)."""

    code = 401


class Forbidden(Refused):
    """The caller's token has too low a role for the route (HTTP 403)."""

    code = 403


@dataclass(frozen=True)
class Caller:
    """Who is asking: a token's name and role (``anonymous``/``operator`` when no tokens are configured)."""

    name: str
    role: str


def identify(project: Project, request: Request) -> Caller:
    """The caller of ``request``: the token of its one ``Authorization: Bearer`` header, read by
    :func:`app.config.bearer_token` (not by :data:`bearer`, whose reading drops every Unicode space around
    the token, so that the token and a byte ``0xA0`` let its holder in).

    :raises Unauthorized: without a valid bearer token
    """
    tokens = project.settings.api.tokens
    if not tokens:
        return Caller("anonymous", "operator")
    refuse_repeated_authorization(project, request)
    given = bearer_token(request.headers.get("authorization"))
    if not given:
        raise Unauthorized("a bearer token is required: send Authorization: Bearer <token>")
    found = caller_of(project, given)
    if found is None:
        raise Unauthorized("the bearer token is not valid")
    return found


def refuse_repeated_authorization(project: Project, request: Request) -> None:
    """:data:`bearer` reads the first ``Authorization`` header; with two (a proxy's and a client's, say) which
    one should count is a guess, and a guess must not decide who may act.

    :raises Unauthorized: for more than one ``Authorization`` header where tokens are configured
    """
    if project.settings.api.tokens and len(request.headers.getlist("authorization")) > 1:
        raise Unauthorized("Authorization is sent more than once: send one bearer token")


def caller_of(project: Project, given: str) -> Caller | None:
    """The configured token ``given`` is, as a caller; ``None`` for none of them. The API's bearer tokens and
    the dashboard's sessions both ask here, so a token removed from the config stops working for both."""
    found: Caller | None = None
    for token in project.settings.api.tokens:  # every token is compared: timing tells nothing of which matched
        expected = token.token.get_secret_value()
        if expected and hmac.compare_digest(expected.encode(), given.encode()):  # an empty token never matches
            found = Caller(token.name, token.role)
    return found


def require_role(caller: Caller, role: str) -> None:
    """:raises Forbidden: when ``caller``'s role is below ``role``"""
    if ROLES[caller.role] < ROLES[role]:
        raise Forbidden(f"token '{caller.name}' is a {caller.role}: this needs an {role} token")
