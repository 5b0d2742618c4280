"""The ``sql`` connector class."""

from __future__ import annotations

from connectors.base import Connector
from connectors.sql.config import SqlSystem


class SqlConnector(Connector):
    """SQLite, PostgreSQL and MariaDB/MySQL tables, read incrementally on a cursor column."""

    options_model = SqlSystem
