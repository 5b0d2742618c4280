"""The ``csv`` connector class."""

from __future__ import annotations

from connectors.base import Connector
from connectors.csv.config import CsvSystem


class CsvConnector(Connector):
    """CSV files in a folder, rewritten atomically."""

    options_model = CsvSystem
