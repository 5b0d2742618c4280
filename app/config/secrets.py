"""Secret values: everything that came into the config from the environment.

SPEC 2 promises that values from ``${...}`` never appear in logs, API
answers or errors. Rather than trusting every printer to remember which
fields are sensitive, every value read from the environment is collected
here and scrubbed from text at the output boundaries.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import quote

REDACTED = "***"

# Shorter values (a port, a flag) cannot be secret in any useful sense, and
# scrubbing them would garble ordinary output.
MIN_SECRET_LENGTH = 4


class SecretValues:
    """A set of secret strings and a fast way to scrub them from text."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def add(self, value: str) -> None:
        """Remember ``value`` (and its URL-encoded form) as secret."""
        if len(value) < MIN_SECRET_LENGTH:
            return
        for variant in (value, quote(value, safe="")):
            if variant not in self._values:
                self._values.add(variant)
                self._pattern = None

    def update(self, other: SecretValues) -> None:
        for value in other._values:
            self.add(value)

    def __contains__(self, value: object) -> bool:
        return value in self._values

    def __len__(self) -> int:
        return len(self._values)

    def redact(self, text: str) -> str:
        """Return ``text`` with every secret value replaced by ``***``."""
        if not self._values:
            return text
        if self._pattern is None:
            longest_first = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in longest_first))
        return self._pattern.sub(REDACTED, text)


class RedactingFilter(logging.Filter):
    """A logging filter that scrubs secret values from every record it passes."""

    def __init__(self, secrets: SecretValues) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg = self.secrets.redact(message)
        record.args = None
        if record.exc_info and record.exc_text is None and record.exc_info[1] is not None:
            record.exc_text = self.secrets.redact(logging.Formatter().formatException(record.exc_info))
        return True
