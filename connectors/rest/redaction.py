"""Keep credentials out of every message and log line.

Each open connector keeps its secrets (the configured token, password, API
key or client secret, and every OAuth2 token it fetched) in a
:class:`~app.config.SecretValues`, and scrubs its own messages with it. httpx
itself logs each request's URL (``HTTP Request: GET https://…?api_key=…``),
which carries an API key sent as a query parameter: a filter on httpx's logger
scrubs those lines with the secrets of every open connector.
"""

from __future__ import annotations

import logging
import weakref

from connectors.base import SecretValues

_LOGGERS = ("httpx",)


class _OpenSecrets(logging.Filter):
    """Scrubs the secrets of every open connector from httpx's log lines."""

    def __init__(self) -> None:
        super().__init__()
        self.owners: weakref.WeakSet[SecretValues] = weakref.WeakSet()

    def filter(self, record: logging.LogRecord) -> bool:
        owners = list(self.owners)
        if owners:
            text = message = record.getMessage()
            for secrets in owners:
                text = secrets.redact(text)
            if text != message:
                record.msg, record.args = text, None
        return True


_FILTER = _OpenSecrets()


def watch_logs(secrets: SecretValues) -> None:
    """Scrub ``secrets`` from httpx's log lines until :func:`unwatch_logs`."""
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    _FILTER.owners.add(secrets)


def unwatch_logs(secrets: SecretValues) -> None:
    _FILTER.owners.discard(secrets)
