"""A delivery's odd items fail alone; its good records land (SPEC 5, 8), against a real ``brygga serve``.

A record nested deeper than 200 levels used to get the whole delivery refused (400), and so did a list of
records with one item that is no object (a number, text, null) or, with ``fetch: true``, bare keys
(``{"changed": [5, 6]}``): the good records in it never landed. Now the delivery is accepted; each odd item
fails alone into the dead letters, saying where it is and what it is.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.webhooks.conftest import Served, WebhookProject, body_of, contact, standard_headers

Serve = Callable[[WebhookProject], Served]
CRM_ANN = {"id": 5, "name": "Ann", "email": "a@x.se"}
CRM_BO = {"id": 6, "name": "Bo", "email": "b@x.se"}


def nested(levels: int) -> Any:
    """Text of ``levels`` lists, one in the other (JSON text, spliced in by :func:`with_deep`)."""
    return "[" * levels + "]" * levels


def with_deep(payload: dict[str, Any], levels: int) -> bytes:
    """``payload`` as JSON with the placeholder ``"DEEP"`` made ``levels`` lists deep."""
    return body_of(payload).replace(b'"DEEP"', nested(levels).encode())


def dead_letters(served: Served, sync: str) -> dict[str, str]:
    letters = served.api.json("GET", "/api/v1/dead-letters", params={"sync": sync, "limit": 500})["items"]
    return {letter["source_key"]: letter["error"] for letter in letters}


@pytest.mark.parametrize(
    ("levels", "mapped"),
    [(199, False), (20_000, False), (300, True), (20_000, True)],
    ids=["199 levels", "20,000 levels", "300 levels, mapped", "20,000 levels, mapped"],
)
def test_a_record_nested_deep_does_not_stop_its_sibling(
    serve: Serve, project: WebhookProject, levels: int, mapped: bool
) -> None:
    if mapped:
        project.write_sync("signed", name="deep")
    served = serve(project)
    body = with_deep({"data": [{**contact(1), "deep": "DEEP"}, contact(2)]}, levels)

    answer = served.send("signed", body, standard_headers(project.secrets.standard, body))

    assert answer.status_code == 202, answer.text
    assert answer.json()["records"] == 2
    [event] = served.settled(1)
    if not mapped:  # a field no sync maps holds nothing up, however deep (as for a polled REST record)
        assert event["status"] == "processed", event
        assert [row[0] for row in project.customers()] == [1, 2]
        assert dead_letters(served, "signed") == {}
        return
    assert event["status"] == "failed" and "record 1" in event["error"], event
    assert project.customers() == [(2, None, "p2@example.com")]  # its name is mapped from deep: it has none
    [(key, error)] = dead_letters(served, "signed").items()
    assert key == "1" and "field 'name'" in error and "nested deeper than 254 levels" in error, error


def test_items_that_are_no_records_fail_alone_and_the_record_lands(serve: Serve, project: WebhookProject) -> None:
    served = serve(project)
    body = body_of({"items": [1, "x", None, contact(4), [contact(5)], True]})

    answer = served.send("local", body, {})

    assert answer.status_code == 202, answer.text
    assert answer.json()["records"] == 6
    [event] = served.settled(1)
    event_id = event["id"]
    assert event["status"] == "failed" and "items[0] is the number 1, not a record" in event["error"], event
    assert [row[0] for row in project.customers()] == [4]
    assert dead_letters(served, "local") == {
        f"(not a record) event {event_id} items[0]": "items[0] is the number 1, not a record: send each record as a"
        " JSON object",
        f"(not a record) event {event_id} items[1]": "items[1] is the text 'x', not a record: send each record as a"
        " JSON object",
        f"(not a record) event {event_id} items[2]": "items[2] is null, not a record: send each record as a JSON"
        " object",
        f"(not a record) event {event_id} items[4]": "items[4] is a list of 1 items, not a record: send each record"
        " as a JSON object",
        f"(not a record) event {event_id} items[5]": "items[5] is the value true, not a record: send each record as"
        " a JSON object",
    }


def test_a_list_of_100000_numbers_fails_item_by_item_and_the_record_in_it_lands(
    serve: Serve, project: WebhookProject
) -> None:
    served = serve(project)
    body = body_of([0] * 99_999 + [contact(7)])
    tokened = {"authorization": f"Bearer {project.secrets.sender_token}"}

    answer = served.send("tokened", body, tokened)

    assert answer.status_code == 202, answer.text
    assert answer.json()["records"] == 100_000
    [event] = served.settled(1, timeout=120)
    assert event["status"] == "failed" and "[0] is the number 0" in event["error"], event
    assert [row[0] for row in project.customers()] == [7]
    assert project.stored()["dead_letters"] == 99_999
    assert served.api.get("/health").status_code == 200


def test_thin_events_take_bare_keys(serve: Serve, project: WebhookProject) -> None:
    project.crm.insert("contacts", [CRM_ANN, CRM_BO])
    served = serve(project)
    body = body_of({"changed": [5, "6", 7, True, "5\u0000"]})

    answer = served.send("shop", body, {})

    assert answer.status_code == 202, answer.text
    [event] = served.settled(1)
    assert event["status"] == "failed", event
    assert project.customers() == [(5, "Ann", "a@x.se"), (6, "Bo", "b@x.se")]
    letters = dead_letters(served, "shop")
    assert letters.keys() == {"7", f"(not a record) event {event['id']} changed[3]", "5\\x00"}, letters
    assert "has no record 7" in letters["7"]
    assert letters[f"(not a record) event {event['id']} changed[3]"] == (
        "changed[3] is the value true, not a record: send each record as an object, or a key as text or a whole number"
    )
    assert "NUL byte" in letters["5\\x00"]


def test_a_bare_key_fails_alone_where_the_key_has_two_fields(serve: Serve, project: WebhookProject) -> None:
    text = project.file.read_text(encoding="utf-8")
    one_field = "streams: {contacts: {table: contacts, key: id}}\n    webhook: {verify: none, stream: contacts, records"
    assert one_field in text
    project.file.write_text(text.replace(one_field, one_field.replace("key: id", "key: [id, email]")), "utf-8")
    project.crm.insert("contacts", [CRM_ANN, CRM_BO])
    served = serve(project)
    body = body_of({"changed": [5, {"id": 6, "email": "b@x.se"}]})

    answer = served.send("shop", body, {})

    assert answer.status_code == 202, answer.text
    [event] = served.settled(1)
    assert event["status"] == "failed", event
    assert project.customers() == [(6, "Bo", "b@x.se")]
    assert dead_letters(served, "shop") == {
        f"(not a record) event {event['id']} changed[0]": "changed[0] is the bare key 5, but the stream's key is id,"
        " email: send each key as an object of its key fields"
    }


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"[" * 1024 * 1024, "never closed"),
        (body_of({"items": 12}), "no record or list of records at 'items'"),
        (body_of({"other": []}), "no record or list of records at 'items'"),
        (b'{"items": [' + b"[" * 5000 + b"}" * 5000 + b"]}", "closes nothing open"),
    ],
    ids=["1 MiB of [", "a number at records", "nothing at records", "lists closed by }"],
)
def test_a_body_without_records_or_not_json_is_still_refused(
    serve: Serve, project: WebhookProject, body: bytes, detail: str
) -> None:
    served = serve(project)

    answer = served.send("local", body, {})

    assert answer.status_code == 400, answer.text
    assert detail in json.loads(answer.text)["detail"]
    assert served.api.get("/health").status_code == 200
    assert project.stored()["webhook_events"] == 0
