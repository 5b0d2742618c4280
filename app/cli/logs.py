"""The service's log: where ``brygga serve`` writes it, at what level, and in which format.

Every record, uvicorn's access and error logs included, goes to standard
error through one handler, as text or as one JSON object per line
(``BRYGGA_LOG_FORMAT``), at ``BRYGGA_LOG_LEVEL``. APScheduler's line for each
job it runs (several a minute) is left out unless the level is ``debug``.
Secrets are scrubbed by the filters the app puts on this handler and on the
access logger (:mod:`app.api.app`, :mod:`app.api.redaction`), before either
format sees a record.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from app.cli.output import OneLineFormatter
from app.engine import FIELDS

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
CHATTY_LOGGERS = ("apscheduler",)
"""Loggers that write a line for every job they run: WARNING and above only, unless the level is debug."""


class JsonFormatter(logging.Formatter):
    """A record as one JSON object: ``time`` (ISO 8601, UTC), ``level``, ``logger``, ``message``, the facts a
    record carries in its :data:`~app.engine.run_log.FIELDS` (a run's line: ``sync``, ``run_id``, ...),
    and ``exc_info`` with the traceback of an exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        facts = getattr(record, FIELDS, None)
        if isinstance(facts, dict):
            entry.update({name: value for name, value in facts.items() if name not in entry})
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc_info"] = record.exc_text
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(OneLineFormatter):
    """:data:`TEXT_FORMAT`, each record on one line (see :class:`~app.cli.output.OneLineFormatter`)."""


def configure_logging(level: str, log_format: str) -> None:
    """Send every log record to standard error at ``level`` (``debug`` … ``error``) in ``log_format``
    (``text`` or ``json``), uvicorn's included."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in UVICORN_LOGGERS:  # through the root's handler: uvicorn is then run without a log config of its own
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET if level == "debug" else logging.WARNING)
