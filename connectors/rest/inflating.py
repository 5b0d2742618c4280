"""An answer's ``Content-Encoding`` undone without ever holding more than ``max_answer`` of it.

httpx undoes each layer of a network read whole before its caller sees a
byte: a few kilobytes of gzip inside gzip (``Content-Encoding: gzip, gzip``)
inflate to gigabytes in that one step, which ends the process before any size
can be looked at. Here every layer is undone with zlib's own bound
(``max_length``), one layer after the other as the header lists them, so no
layer makes more than ``max_answer`` bytes, however the answer was packed.

``gzip`` and ``deflate`` (zlib-wrapped, or raw as some servers send it) are
undone, ``identity`` is nothing to undo, and a coding Brygga did not ask for
(it asks for ``gzip, deflate``) is left as it is, as httpx leaves it: the body
then fails as not JSON.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import httpx

ASKED = "gzip, deflate"
"""The ``Accept-Encoding`` Brygga sends: the codings :class:`Inflater` undoes."""


class TooLarge(Exception):
    """An answer larger than allowed once its codings are undone."""


class _Layer:
    """One coding, undone with a bound on what it makes."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self.decompressor = zlib.decompressobj(zlib.MAX_WBITS | 16 if coding == "gzip" else zlib.MAX_WBITS)
        self.first = coding == "deflate"  # deflate is zlib-wrapped or raw: told by its first bytes
        self.made = 0

    def undo(self, data: bytes, most: int) -> bytes:
        """``data`` decoded, of at most ``most`` bytes made by this layer in all.

        :raises TooLarge: when it would make more
        :raises httpx.DecodingError: when ``data`` is not in this coding
        """
        first, self.first = self.first, False
        try:
            made = self.decompressor.decompress(data, most - self.made + 1)
        except zlib.error as exc:
            if not first:
                raise httpx.DecodingError(f"the answer is not valid {self.coding}: {exc}") from exc
            self.decompressor = zlib.decompressobj(-zlib.MAX_WBITS)
            return self.undo(data, most)
        self.made += len(made)
        if self.made > most:
            raise TooLarge
        return made


class Inflater:
    """Undoes ``codings`` (in the order the header lists them, the first applied first), making at most
    ``most`` bytes in each layer.

    :param codings: the answer's ``Content-Encoding`` values
    """

    def __init__(self, codings: Sequence[str], most: int) -> None:
        names = [coding.strip().lower() for coding in codings]
        self.layers = [_Layer(name) for name in reversed(names) if name in ("gzip", "deflate")]
        self.most = most

    def undo(self, data: bytes) -> bytes:
        """The decoded bytes of the next raw piece of the body.

        :raises TooLarge: when a layer would make more than ``most`` bytes
        :raises httpx.DecodingError: when the body is not in the codings it names
        """
        for layer in self.layers:
            if not data:
                break
            data = layer.undo(data, self.most)
        return data


def inflater(response: httpx.Response, most: int) -> Inflater:
    """The :class:`Inflater` of ``response``'s ``Content-Encoding``."""
    return Inflater(response.headers.get_list("content-encoding", split_commas=True), most)
