"""A kind's options model is read without its connector (issue 18): the same model, and the same URLs."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from app.config.kinds import installed_kinds, load_kind, options_model
from connectors.sql.backends import split_url


@pytest.mark.parametrize("kind", installed_kinds())
def test_the_options_entry_point_names_the_connectors_own_model(kind: str) -> None:
    assert options_model(kind) is getattr(load_kind(kind), "options_model", None)


@pytest.mark.parametrize(
    "text",
    [
        "sqlite:///crm.db",
        "sqlite://",
        "sqlite:////abs/path.db",
        "postgresql://user:p%40ss@db.example.com:5433/crm?sslmode=require",
        "postgresql+asyncpg://u@[::1]:5432/x",
        "mysql+pymysql://root@127.0.0.1/erp",
        "mariadb://root:@localhost/erp",
        "sqlite://user@host/x.db",
    ],
)
def test_a_database_url_is_split_as_sqlalchemy_reads_it(text: str) -> None:
    ours, theirs = split_url(text), make_url(text)

    assert (ours.backend, ours.host, ours.port) == (theirs.get_backend_name(), theirs.host, theirs.port)
    assert bool(ours.username) == bool(theirs.username) and bool(ours.password) == bool(theirs.password)


@pytest.mark.parametrize("text", ["crm.db", "://x", "postgresql://h:port/db"])
def test_what_sqlalchemy_refuses_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        split_url(text)
    with pytest.raises((ArgumentError, ValueError)):
        make_url(text)
