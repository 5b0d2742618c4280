"""Text from outside, as an error message shows it."""

from __future__ import annotations


def quoted(text: str, limit: int = 40) -> str:
    """``text`` quoted for a message: control characters and lone surrogates escaped (a message is logged and
    stored), cut to ``limit`` characters (it could be of any length)."""
    return repr(text[:limit]) + ("…" if len(text) > limit else "")
