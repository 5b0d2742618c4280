"""What a shared secret needs before it may guard a door: webhook secrets and API tokens.

An empty secret is an open door: ``Authorization: Bearer`` with nothing
after it matches an empty token, and anyone can sign a body with an empty
HMAC key. The usual cause is a ``${VAR}`` whose variable is set to nothing,
so the rules hold for the value after interpolation. The messages say how
long a value is, never what it is.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator

MIN_SECRET_CHARS = 16
"""The shortest token or webhook secret: 16 random characters are past guessing."""

MIN_STANDARD_KEY_BYTES = 16
"""The shortest key inside a Standard Webhooks secret (``whsec_`` + base64 of the key)."""

MAKE_ONE = 'python3 -c "import secrets; print(secrets.token_hex(16))"'
MAKE_STANDARD = (
    "python3 -c \"import base64, secrets; print('whsec_' + base64.b64encode(secrets.token_bytes(24)).decode())\""
)

_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")


def secret_problems(value: str, what: str) -> Iterator[str]:
    """Why ``value`` cannot be a ``what`` (a token, a secret), if it cannot: empty, blank or padded."""
    problem = _blank_problem(value, what)
    if problem is not None:
        yield problem


def header_problems(value: str, what: str) -> Iterator[str]:
    """Why ``value`` can never arrive in an HTTP header, if it cannot: a ``what`` (an API token, a ``verify:
    token`` secret) sent as ``Authorization: Bearer`` must be visible ASCII and spaces.

    Header values are bytes read as latin-1: a client sends ``é`` as UTF-8 (two bytes that never equal the
    token) or refuses to send it, and a line end or other control character cannot be in a header at all.
    The token would lock out the one who holds it. Says where the character is and what kind, not what it is.
    """
    if _blank_problem(value, what) is not None:
        return
    for position, character in enumerate(value, 1):
        if " " <= character <= "~":
            continue
        kind = (
            "a control character (a line end or tab?)"
            if character.isascii() or not character.isprintable()
            else ("a character outside ASCII")
        )
        yield (
            f"the {what} holds {kind} at character {position}: it is sent in an HTTP header (Authorization: Bearer),"
            " which carries only ASCII letters, digits, punctuation and spaces, so no client could send it;"
            f" {_advice()}"
        )
        return


def bearer_token(header: str | None) -> str:
    """The token an ``Authorization: Bearer <token>`` header offers; ``""`` for none, or another scheme.

    Only spaces and tabs around the token are dropped (HTTP's own whitespace; no configured token begins or
    ends with one). ``str.strip`` drops every Unicode space too, and a header is read as Latin-1: the token
    followed by byte ``0xA0`` or ``0x85`` was let in as the token itself.
    """
    scheme, _, given = (header or "").partition(" ")
    return given.strip(" \t") if scheme.lower() == "bearer" else ""


def secret_cautions(value: str, what: str) -> Iterator[str]:
    """Why ``value`` is a weak ``what``, if it is: short enough to guess. Not an error (SPEC 8 refuses only
    empty ones, and a test's ``viewer-token`` is fine on a laptop), a warning that says how to make one."""
    if _blank_problem(value, what) is None and len(value) < MIN_SECRET_CHARS:
        yield (
            f"the {what} is {_characters(len(value))} long, fewer than the {MIN_SECRET_CHARS} that put it past"
            f" guessing: use {MIN_SECRET_CHARS} or more random characters, such as the output of {MAKE_ONE}"
        )


def standard_secret_problems(value: str) -> Iterator[str]:
    """Why ``value`` cannot be a Standard Webhooks secret, if it cannot: its key must decode."""
    problem = _blank_problem(value, "secret")
    if problem is None and standard_key(value) is None:
        problem = "a Standard Webhooks secret is whsec_ followed by base64 (as the sender gives it)"
    if problem is not None:
        yield problem


def standard_secret_cautions(value: str) -> Iterator[str]:
    """Why ``value`` is a weak Standard Webhooks secret, if it is: a key under :data:`MIN_STANDARD_KEY_BYTES`."""
    key = standard_key(value) if _blank_problem(value, "secret") is None else None
    if key is not None and len(key) < MIN_STANDARD_KEY_BYTES:
        yield (
            f"the key in this Standard Webhooks secret is {len(key)} bytes, fewer than the"
            f" {MIN_STANDARD_KEY_BYTES} that put it past guessing: use the secret the sender gives, or make one"
            f" with {MAKE_STANDARD}"
        )


def standard_key(secret: str) -> bytes | None:
    """The key of a Standard Webhooks secret, or ``None`` when it is not ``whsec_`` (optional) and base64.

    Decoded as the ``standardwebhooks`` library decodes it (padding may be
    left out), but stricter: a character outside base64, which the library
    would silently skip, makes it no secret at all.
    """
    text = secret.removeprefix("whsec_")
    if not _BASE64.fullmatch(text):
        return None
    try:
        return base64.b64decode(text + "==")
    except (binascii.Error, ValueError):
        return None


def _advice() -> str:
    return f"use at least {MIN_SECRET_CHARS} random characters, such as the output of {MAKE_ONE}"


def _blank_problem(value: str, what: str) -> str | None:
    advice = _advice()
    if not value:
        return f"the {what} is empty (0 characters; a ${{VAR}} set to nothing gives that): {advice}"
    if not value.strip():
        return f"the {what} is only whitespace ({_characters(len(value))}): {advice}"
    if value != value.strip():
        return f"the {what} begins or ends with whitespace (a line end from a file?): remove it"
    return None


def _characters(count: int) -> str:
    return f"{count} character{'' if count == 1 else 's'}"
