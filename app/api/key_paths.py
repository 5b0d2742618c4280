"""A record's key as the last part of a path: any text, line ends included.

Keys come from business systems and may hold any character. Starlette's ``path`` convertor is ``.*``,
which stops at a line end, and its routes end in ``$``, which also matches just before a path's last line
end: ``/records/x%0A`` was answered with the story of the record ``x``, and the story of a key with a line
end inside it found no route at all (404 ``Not Found``). :data:`ANY_TEXT` names a convertor whose ``.``
takes line ends too, and which, being greedy, reaches the very end of the path.
"""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor

ANY_TEXT = "anytext"
"""The convertor's name in a route's path: ``/records/{source_key:anytext}``."""


class AnyText(Convertor[str]):
    """The rest of the path, as it is: slashes and line ends too."""

    regex = "(?s:.*)"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor(ANY_TEXT, AnyText())
