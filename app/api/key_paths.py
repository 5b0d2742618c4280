"""A record's key as the last part of a path: any text, line ends included.

Keys come from business systems and may hold any character. Starlette's ``path`` convertor is ``.*``,
which stops at a line end, and its routes end in ``$``, which also matches just before a path's last line
end: ``/records/x%0A`` was answered with the story of the record ``x``, and the story of a key with a line
end inside it found no route at all (404 ``Not Found``). :data:`ANY_TEXT` names a convertor whose ``.``
takes line ends too, and which, being greedy, reaches the very end of the path.

A key may hold ``/`` and ``%``: the path routes see keeps them escaped (``%2F``, ``%25``: see
:mod:`app.api.whole_paths`), and the convertor gives the key as the client meant it.
"""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor

from app.api.whole_paths import decoded

ANY_TEXT = "anytext"
"""The convertor's name in a route's path: ``/records/{source_key:anytext}``."""


class AnyText(Convertor[str]):
    """The rest of the path, as the client meant it: slashes and line ends too."""

    regex = "(?s:.*)"

    def convert(self, value: str) -> str:
        return decoded(value)

    def to_string(self, value: str) -> str:
        return value.replace("%", "%25").replace("/", "%2F")


register_url_convertor(ANY_TEXT, AnyText())
