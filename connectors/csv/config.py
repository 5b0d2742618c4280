"""Options of a ``csv`` system and its streams (SPEC 4)."""

from __future__ import annotations

import codecs
from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from connectors.base import StreamOptions
from connectors.table_file.config import FileName, FolderSystem

_NOT_FOR_FILES = frozenset({"idna", "punycode"})
"""Text encodings of domain names: they refuse most text, so no file of records is written in them."""


def _encoding(value: str) -> str:
    try:
        info = codecs.lookup(value)
    except LookupError:
        raise ValueError(f"unknown encoding '{value}': use one such as utf-8, cp1252 or latin-1") from None
    if not info._is_text_encoding or info.name in _NOT_FOR_FILES:  # rot13, base64, hex, zlib: not for text
        raise ValueError(f"'{value}' is not an encoding of text files: use one such as utf-8, cp1252 or latin-1")
    return value


def _one_character(value: str) -> str:
    if len(value) != 1:
        raise ValueError(f"'{value}' must be exactly one character (for a tab write \"\\t\")")
    if value in "\r\n":
        raise ValueError("cannot be a line break, which ends a row: use one such as ',', ';' or \"\\t\"")
    return value


Character = Annotated[str, AfterValidator(_one_character)]


class CsvStream(StreamOptions):
    """One CSV file in the system's folder."""

    file: FileName = Field(description="The file's name, relative to the system's folder.")
    delimiter: Character = Field(",", description="The field separator.")
    quotechar: Character = Field('"', description="The quote character.")
    encoding: Annotated[str, AfterValidator(_encoding)] = Field(
        "utf-8", description="The file's encoding; a UTF-8 BOM is always understood."
    )

    @model_validator(mode="after")
    def _delimiter_is_not_the_quote(self) -> CsvStream:
        if self.delimiter == self.quotechar:
            raise ValueError(
                f"`delimiter` and `quotechar` are both {self.delimiter!r}: a row could not be split; set them apart"
            )
        return self


class CsvSystem(FolderSystem):
    """A folder of CSV files."""

    streams: dict[str, CsvStream]  # type: ignore[assignment]
