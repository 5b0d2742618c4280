"""Bearer tokens and roles (SPEC 7): ``viewer`` reads, ``operator`` also acts.

Tokens come from ``api.tokens`` of the running config and are compared in
constant time. With no tokens configured every route is open: ``brygga
serve`` then refuses any address but the loopback.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from fastapi import HTTPException, Request, status

from app.config import Project

ROLES = {"viewer": 0, "operator": 1}


@dataclass(frozen=True)
class Caller:
    """Who is asking: a token's name and role (``anonymous``/``operator`` when no tokens are configured)."""

    name: str
    role: str


def identify(project: Project, request: Request) -> Caller:
    """The caller of ``request``.

    :raises HTTPException: 401 without a valid bearer token
    """
    tokens = project.settings.api.tokens
    if not tokens:
        return Caller("anonymous", "operator")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    given = given.strip()
    if scheme.lower() != "bearer" or not given:
        raise _unauthorized("a bearer token is required: send Authorization: Bearer <token>")
    found = caller_of(project, given)
    if found is None:
        raise _unauthorized("the bearer token is not valid")
    return found


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
    """:raises HTTPException: 403 when ``caller``'s role is below ``role``"""
    if ROLES[caller.role] < ROLES[role]:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"token '{caller.name}' is a {caller.role}: this needs an {role} token",
        )


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"})
