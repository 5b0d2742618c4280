"""``match``: records already in the target are found by a mapped field, so they are adopted, not duplicated."""

from __future__ import annotations

from typing import Any

import pytest

from app.errors import PermanentError
from connectors.base import Write, WriteAction
from tests.connectors.rest.conftest import MakeSystem
from tests.connectors.rest.server import ApiState

STREAM: dict[str, Any] = {
    "key": "id",
    "path": "/w/contacts",
    "records": "data",
    "params": {"active": True},
    "write": {"create": {"method": "POST", "path": "/w/contacts"}},
    "match": {"param": "email", "field": "email"},
}


def hold(api: ApiState, *emails: str) -> None:
    """Records already in the target, before any sync."""
    for number, email in enumerate(emails, start=501):
        api.store[number] = {"id": number, "email": email, "name": f"Old {number}"}


async def test_can_match_only_streams_with_a_match_option(make_system: MakeSystem) -> None:
    plain = {key: value for key, value in STREAM.items() if key != "match"}
    connector = make_system({"matched": STREAM, "plain": plain})

    assert connector.can_match("matched") and not connector.can_match("plain")
    assert await connector.match("plain", [{"email": "a@a.se"}]) == [None]


async def test_each_record_gets_the_key_of_the_one_record_with_its_value(
    api: ApiState, make_system: MakeSystem
) -> None:
    hold(api, "ann@a.se", "bo@b.se")
    connector = make_system({"contacts": STREAM})

    found = await connector.match("contacts", [{"email": "bo@b.se"}, {"email": "new@n.se"}, {"email": "ANN@a.se"}])

    assert found == ["502", None, "501"]
    asked = sorted((seen.param("email") or "", seen.param("active")) for seen in api.requests("/api/w/contacts"))
    assert asked == [("ANN@a.se", "true"), ("bo@b.se", "true"), ("new@n.se", "true")]


async def test_a_record_without_a_value_is_not_looked_up(api: ApiState, make_system: MakeSystem) -> None:
    connector = make_system({"contacts": STREAM})

    assert await connector.match("contacts", [{"email": None}, {"name": "x"}, {"email": ""}]) == [None, None, None]
    assert api.seen == []


async def test_an_api_that_ignores_the_parameter_does_not_make_us_adopt_a_stranger(
    api: ApiState, make_system: MakeSystem
) -> None:
    hold(api, "ann@a.se", "bo@b.se")
    api.ignore_filter = True
    connector = make_system({"contacts": STREAM})

    assert await connector.match("contacts", [{"email": "cy@c.se"}, {"email": "bo@b.se"}]) == [None, "502"]


async def test_several_records_with_the_value_adopt_none_and_their_create_is_refused(
    api: ApiState, make_system: MakeSystem
) -> None:
    hold(api, "ann@a.se", "ann@a.se", "bo@b.se")
    connector = make_system({"contacts": STREAM})
    records = [{"email": "ann@a.se", "name": "Ann"}, {"email": "cy@c.se", "name": "Cy"}]

    found = await connector.match("contacts", records)
    results = await connector.write("contacts", [Write(WriteAction.CREATE, record, None) for record in records])

    assert found == [None, None]
    assert isinstance(results[0].error, PermanentError)
    assert str(results[0].error) == (
        "crm.contacts: writing: not created: 2 records in crm.contacts already have this email (keys 501, 502), "
        "so `match` cannot tell which one this record is; merge them in the system, then retry the dead letter"
    )
    assert results[1].ok
    assert sorted(row["email"] for row in api.store.values()) == ["ann@a.se", "ann@a.se", "bo@b.se", "cy@c.se"]


async def test_once_the_duplicates_are_merged_the_record_is_adopted(api: ApiState, make_system: MakeSystem) -> None:
    hold(api, "ann@a.se", "ann@a.se")
    connector = make_system({"contacts": STREAM})
    assert await connector.match("contacts", [{"email": "ann@a.se"}]) == [None]
    del api.store[502]

    assert await connector.match("contacts", [{"email": "ann@a.se"}]) == ["501"]
    [result] = await connector.write("contacts", [Write(WriteAction.CREATE, {"email": "ann@a.se"}, None)])
    assert result.ok  # no longer refused (the engine would update 501; a create is what was asked here)


async def test_a_value_that_cannot_be_asked_for_is_not_looked_up_and_its_create_fails_alone(
    api: ApiState, make_system: MakeSystem
) -> None:
    hold(api, "ann@a.se")
    connector = make_system({"contacts": STREAM})
    records = [{"email": "ann@a.se"}, {"email": "b\udcffo@b.se"}]

    keys = await connector.match("contacts", records)
    results = await connector.write("contacts", [Write(WriteAction.CREATE, record, None) for record in records[1:]])

    assert keys == ["501", None]
    assert len(api.requests("/api/w/contacts", "GET")) == 1
    assert isinstance(results[0].error, PermanentError) and "not valid Unicode" in str(results[0].error)
    assert api.requests("/api/w/contacts", "POST") == []


def _creates(records: list[dict[str, Any]]) -> list[Write]:
    return [Write(WriteAction.CREATE, record, None) for record in records]


async def test_an_api_that_ignores_the_parameter_does_not_make_us_update_a_record_without_the_field(
    api: ApiState, make_system: MakeSystem
) -> None:
    """The record without an email was adopted: the create of cy@c.se became an update of someone else."""
    hold(api, "bo@b.se")
    api.store[600] = {"id": 600, "name": "No Email"}
    api.ignore_filter = True
    connector = make_system({"contacts": STREAM})

    found = await connector.match("contacts", [{"email": "cy@c.se"}, {"email": "bo@b.se"}])
    [refused] = await connector.write("contacts", _creates([{"email": "cy@c.se", "name": "Cy"}]))

    assert found == [None, "501"]
    assert isinstance(refused.error, PermanentError)
    assert "not created" in str(refused.error)
    assert "the API answered 1 record(s) without `email` to the look-up of email=cy@c.se" in str(refused.error)
    assert api.store[600] == {"id": 600, "name": "No Email"}
    assert api.requests("/api/w/contacts", "POST") == []


async def test_a_list_that_leaves_the_field_out_refuses_the_create_instead_of_adopting_or_duplicating(
    api: ApiState, make_system: MakeSystem
) -> None:
    api.store[600] = {"id": 600, "name": "Ann"}  # the API filters by email, but its list leaves the field out
    connector = make_system({"contacts": STREAM})
    api.ignore_filter = True

    assert await connector.match("contacts", [{"email": "ann@a.se"}]) == [None]
    [refused] = await connector.write("contacts", _creates([{"email": "ann@a.se"}]))

    assert isinstance(refused.error, PermanentError)
    assert "make the list include `email`" in str(refused.error)


async def test_a_record_with_the_value_but_no_key_is_neither_adopted_nor_duplicated(
    api: ApiState, make_system: MakeSystem
) -> None:
    api.store[600] = {"id": None, "email": "ann@a.se"}
    connector = make_system({"contacts": STREAM})

    assert await connector.match("contacts", [{"email": "ann@a.se"}]) == [None]
    [refused] = await connector.write("contacts", _creates([{"email": "ann@a.se"}]))

    assert isinstance(refused.error, PermanentError)
    assert "a record with this email (ann@a.se) but without its key `id`" in str(refused.error)
    assert api.requests("/api/w/contacts", "POST") == []


async def test_an_api_listing_every_record_is_warned_of_once_and_only_the_equal_one_adopted(
    api: ApiState, make_system: MakeSystem, caplog: pytest.LogCaptureFixture
) -> None:
    hold(api, "ann@a.se", "bo@b.se", "cy@c.se")
    api.ignore_filter = True
    connector = make_system({"contacts": STREAM})

    found = await connector.match("contacts", [{"email": "cy@c.se"}, {"email": " BO@b.se "}, {"email": "dan@d.se"}])
    results = await connector.write("contacts", _creates([{"email": "dan@d.se"}]))

    assert found == ["503", "502", None]
    assert results[0].ok
    assert caplog.text.count("seems to ignore or widen the `email` parameter") == 1
