"""Must show 1 of issue 23: every Brygga error is drawn in app/errors.py's tree and has an exit code and an
HTTP status in the two tables (one per face).

Every module of ``app`` and ``connectors`` is imported first, so subclasses defined anywhere are found.
A subclass inherits its parent's row: the tables are read through the class's MRO, as ``main()`` and the
API's handler read them, and a row must be found before the root (the root has none on purpose, so a new
direct child of ``BryggaError`` fails here until it is given its rows).
"""

from __future__ import annotations

import importlib
import pkgutil
import re

import pytest

import app
import app.errors
import connectors
from app.api import errors as api_errors
from app.api.auth import Refused
from app.cli import exit_codes
from app.engine import (
    UnknownWebhookSystem,
    WebhookBadBody,
    WebhookBusy,
    WebhookFromWebPage,
    WebhookNotProven,
    WebhookRejected,
    WebhookTooLarge,
)
from app.errors import BryggaError


def _import_everything() -> None:
    for package in (app, connectors):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            importlib.import_module(module.name)


def _subclasses(kind: type[BryggaError]) -> list[type[BryggaError]]:
    found: list[type[BryggaError]] = []
    for child in kind.__subclasses__():
        found += [child, *_subclasses(child)]
    return found


_import_everything()
ERRORS = sorted(set(_subclasses(BryggaError)), key=lambda kind: f"{kind.__module__}.{kind.__qualname__}")
IDS = [kind.__qualname__ for kind in ERRORS]


def _drawn() -> set[str]:
    tree = (app.errors.__doc__ or "").split("Retry decisions")[0]
    return set(re.findall(r"[─└├]── (\w+)", tree))


def test_the_walk_finds_the_errors_of_connectors_too() -> None:
    assert len(ERRORS) >= 30
    assert {"CsvFileError", "NotFoundHttpError", "UnknownKindError", "WebhookNotProven"} <= set(IDS)


@pytest.mark.parametrize("kind", ERRORS, ids=IDS)
def test_every_error_is_drawn_in_the_tree(kind: type[BryggaError]) -> None:
    assert kind.__name__ in _drawn(), f"add {kind.__module__}.{kind.__qualname__} to the tree in app/errors.py"


def test_the_tree_draws_nothing_that_does_not_exist() -> None:
    assert _drawn() == {kind.__name__ for kind in ERRORS}


@pytest.mark.parametrize("kind", ERRORS, ids=IDS)
def test_every_error_has_an_exit_code(kind: type[BryggaError]) -> None:
    listed = exit_codes.listed_type(kind)
    assert listed is not None and listed is not BryggaError, f"{kind.__qualname__}: no row in EXIT_CODES"
    assert exit_codes.EXIT_CODES[listed] in (1, 2)


@pytest.mark.parametrize("kind", ERRORS, ids=IDS)
def test_every_error_has_an_http_status(kind: type[BryggaError]) -> None:
    listed = api_errors.listed_type(kind)
    assert listed is not None and listed is not BryggaError, f"{kind.__qualname__}: no row in HTTP_STATUSES"
    assert 400 <= api_errors.HTTP_STATUSES[listed] <= 599


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        (WebhookNotProven, 401),
        (WebhookFromWebPage, 403),
        (UnknownWebhookSystem, 404),
        (WebhookTooLarge, 413),
        (WebhookBadBody, 400),
        (WebhookBusy, 503),
    ],
)
def test_a_rejection_is_answered_with_the_status_spec_5_gives_it(kind: type[WebhookRejected], status: int) -> None:
    assert api_errors.http_status(kind("reason", "detail")) == status


@pytest.mark.parametrize("kind", [kind for kind in ERRORS if issubclass(kind, Refused) and kind is not Refused])
def test_a_refusals_status_code_agrees_with_the_table(kind: type[Refused]) -> None:
    assert kind("x").status_code == api_errors.http_status(kind("x"))


def test_the_builtin_bases_kept_are_those_callers_rely_on() -> None:
    """``connector_class`` documents a ``TypeError`` (the connector contract); nothing relied on
    ``UnknownKindError`` being a ``LookupError``."""
    from app.config.kinds import BrokenKindError, UnknownKindError

    assert issubclass(BrokenKindError, TypeError)
    assert not issubclass(UnknownKindError, LookupError)
