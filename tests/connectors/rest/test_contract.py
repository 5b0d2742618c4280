"""The contract suite (:mod:`connectors.testing`) over the ``rest`` kind, against the local test API."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.testing import ConnectorContract, Subject
from tests.connectors.rest.conftest import MakeSystem
from tests.connectors.rest.server import BEARER_TOKEN, ApiState, contacts

WRONG_TOKEN = "wrong-token-5e1f"
WRITE = {
    "create": {"method": "POST", "path": "/w/contacts"},
    "update": {"method": "PATCH", "path": "/w/contacts/{key}"},
    "delete": {"method": "DELETE", "path": "/w/contacts/{key}"},
}
PEOPLE: dict[str, Any] = {
    "key": "id",
    "path": "/w/contacts",
    "records": "data",
    "get": {"path": "/w/contacts/{key}"},
    "write": WRITE,
}
STREAMS = {"people": PEOPLE, "gone": {"key": "id", "path": "/no/such/path"}}
GUARDED = {"guarded": {"key": "id", "path": "/auth/bearer/contacts"}, **STREAMS}
"""A system whose first stream, the one ``check`` asks for, needs the bearer token."""


class TestRestContract(ConnectorContract):
    @pytest.fixture
    def subject(self, api: ApiState, make_system: MakeSystem) -> Subject:
        records: list[dict[str, Any]] = [
            {"id": 1, "name": "Ada", "email": "ada@a.se"},
            {"id": 2, "name": "Bo", "email": "bo@b.se"},
            {"id": 3, "name": "Cy", "email": "cy@c.se"},
        ]
        api.store.update({record["id"]: dict(record) for record in records})
        auth = {"type": "bearer", "token": "${TOKEN}"}
        return Subject(
            make=lambda: make_system(GUARDED, {"TOKEN": BEARER_TOKEN}, auth=auth),
            stream="people",
            key="id",
            records=records,
            new_records=[{"name": "Di", "email": "di@d.se"}, {"name": "Ed", "email": "ed@e.se"}],
            changed={"name": "Ada L"},
            refused={"name": "Fa", "email": "not an address"},
            unreachable=lambda: make_system(
                GUARDED, {"TOKEN": BEARER_TOKEN}, auth=auth, base_url="http://127.0.0.1:1/api"
            ),
            refusing=lambda: make_system(GUARDED, {"TOKEN": WRONG_TOKEN}, auth=auth),
            missing_stream="gone",
            secret=WRONG_TOKEN,
        )


class TestRestIncrementalContract(ConnectorContract):
    """A read-only stream read incrementally (``updated_since``), a page of two at a time by ``Link`` header."""

    @pytest.fixture
    def subject(self, api: ApiState, make_system: MakeSystem) -> Subject:
        api.contacts = contacts(7)
        stream = {
            "key": "id",
            "path": "/link/contacts",
            "params": {"per_page": 2},
            "pagination": {"type": "link_header"},
            "incremental": {"cursor": "updated_at", "param": "updated_since"},
        }
        return Subject(make=lambda: make_system({"people": stream}), stream="people", key="id", records=contacts(7))
