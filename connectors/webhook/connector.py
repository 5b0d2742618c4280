"""The ``webhook`` connector class: nothing to poll or write."""

from __future__ import annotations

from app.config import StreamOptions, SystemOptions
from connectors.base import Connector


class WebhookSystem(SystemOptions):
    """A system known only by the events it pushes; its ``webhook`` block is required."""

    streams: dict[str, StreamOptions]


class WebhookConnector(Connector):
    """Records arrive only through ``POST /webhooks/{system}``."""

    options_model = WebhookSystem
