"""The ``rest`` connector class."""

from __future__ import annotations

from connectors.base import Connector
from connectors.rest.config import RestSystem


class RestConnector(Connector):
    """A JSON HTTP API, described in YAML."""

    options_model = RestSystem
