"""Every route of SPEC 7 but the webhook ones, against a real ``brygga serve`` on real SQLite files."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from app.api.pagination import encode_cursor
from tests.api.conftest import ApiProject, ServeFactory
from tests.api.serve_process import Api
from tests.engine.conftest import Database, contact

T0, T1, T2 = "2024-03-01 12:00:00", "2024-03-01 12:05:00", "2024-03-01 12:10:00"
COUNT_FIELDS = {"read", "created", "updated", "deleted", "unchanged", "skipped", "failed"}
RUN_FIELDS = {"id", "sync", "trigger", "status", "started_at", "finished_at", "counts", "error"}
SYNC_FIELDS = {"name", "source", "target", "mode", "schedule", "webhook", "paused", "status", "last_run"}
SYNC_FIELDS |= {"next_run_at", "dead_letters"}
LOG_FIELDS = {"source_key", "target_key", "action", "error", "at"}
DEAD_LETTER_FIELDS = {"id", "sync", "source_key", "error", "attempts", "first_failed_at", "last_failed_at"}
ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


def run(api: Api, sync: str, **params: Any) -> dict[str, Any]:
    """Start a run through the API and wait for it to end; the finished run."""
    started = api.json("POST", f"/api/v1/syncs/{sync}/runs", 202, params=params)
    assert set(started) == {"run_id"} and isinstance(started["run_id"], int)
    return api.wait_for_run(started["run_id"])


def counts(**given: int) -> dict[str, int]:
    return {name: given.get(name, 0) for name in sorted(COUNT_FIELDS)}


def dead_letters(api: Api, sync: str | None = None) -> list[dict[str, Any]]:
    params = {"sync": sync} if sync else {}
    return [letter for page in api.pages("/api/v1/dead-letters", **params) for letter in page["items"]]


@contextmanager
def locked(database: Database) -> Iterator[None]:
    """Hold an exclusive lock on a SQLite database: nobody else can read or write it until the block ends."""
    connection = sqlite3.connect(database.path, isolation_level=None)
    try:
        connection.execute("BEGIN EXCLUSIVE")
        yield
        connection.execute("ROLLBACK")
    finally:
        connection.close()


def test_service_routes_answer_without_a_token(serve: ServeFactory, project: ApiProject) -> None:
    api = serve(project).anonymous

    assert api.json("GET", "/health") == {"status": "ok"}
    assert api.json("GET", "/ready") == {"status": "ready"}
    description = api.json("GET", "/openapi.json")
    assert description["info"]["title"] == "Brygga"
    assert {"/health", "/ready", "/metrics", "/api/v1/syncs", "/api/v1/runs/{run_id}/records"} <= set(
        description["paths"]
    )
    docs = api.get("/docs")
    assert docs.status_code == 200 and "swagger-ui" in docs.text and "/openapi.json" in docs.text
    metrics = api.get("/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    assert "brygga_runs_total" in metrics.text or "# TYPE brygga_runs counter" in metrics.text


def test_head_answers_as_get_does_without_a_body(serve: ServeFactory, project: ApiProject) -> None:
    served = serve(project)
    anonymous, operator = served.anonymous, served.operator

    for api, path in (
        (anonymous, "/health"),
        (anonymous, "/ready"),
        (anonymous, "/metrics"),
        (operator, "/api/v1/syncs"),
    ):
        got, head = api.request("GET", path), api.request("HEAD", path)
        assert (head.status_code, head.content) == (200, b""), path
        assert head.headers["content-type"] == got.headers["content-type"], path
    assert anonymous.request("HEAD", "/api/v1/syncs").status_code == 401  # the same checks as its GET
    assert operator.request("HEAD", "/api/v1/config/reload").status_code == 405  # a POST route stays one


def test_syncs_are_listed_by_name_page_by_page(serve: ServeFactory, project: ApiProject) -> None:
    api = serve(project).viewer

    everything = api.json("GET", "/api/v1/syncs")
    assert everything["next"] is None
    assert [sync["name"] for sync in everything["items"]] == ["companies", "contacts"]
    contacts = everything["items"][1]
    assert set(contacts) >= SYNC_FIELDS
    assert contacts | {"description": None} == {
        "name": "contacts", "description": None, "source": "crm.contacts", "target": "erp.customers",
        "mode": "upsert", "schedule": None, "webhook": False, "after": None, "paused": False, "status": "idle",
        "last_run": None, "next_run_at": None, "dead_letters": 0,
    }  # fmt: skip

    pages = list(api.pages("/api/v1/syncs", limit=1))
    assert [[sync["name"] for sync in page["items"]] for page in pages] == [["companies"], ["contacts"]]
    assert pages[0]["next"] is not None and pages[-1]["next"] is None
    assert api.json("GET", "/api/v1/syncs", params={"limit": 500})["items"] == everything["items"]

    for bad in ("not a cursor!", "abc"):
        assert "cursor" in api.json("GET", "/api/v1/syncs", 400, params={"cursor": bad})["detail"]
    # a cursor of another list (a run's id) or a forged one is no sync's name: refused, not a page from nowhere
    for position in (1, [1], {"a": 1}, None, True, 1.5):
        forged = encode_cursor(position)
        assert "cursor" in api.json("GET", "/api/v1/syncs", 400, params={"cursor": forged})["detail"], position
        assert "cursor" in api.json("GET", "/api/v1/runs", 400, params={"cursor": encode_cursor([position])})["detail"]
    assert "cursor" in api.json("GET", "/api/v1/runs", 400, params={"cursor": encode_cursor(None)})["detail"]
    assert "cursor" in api.json("GET", "/api/v1/runs", 400, params={"cursor": pages[0]["next"]})["detail"]
    for limit, expected in ((0, "Input should be"), (501, "Input should be"), (-1, "write a number in the digits")):
        refused = api.get("/api/v1/syncs", params={"limit": limit})
        assert refused.status_code == 422
        body = refused.json()  # errors are {"detail": "..."} (SPEC 7), the problems listed beside
        assert isinstance(body["detail"], str) and body["detail"].startswith(f"query.limit: {expected}")
        assert [problem["loc"] for problem in body["errors"]] == [["query", "limit"]]

    assert api.json("GET", "/api/v1/syncs/contacts") == contacts
    assert "nope" in api.json("GET", "/api/v1/syncs/nope", 404)["detail"]


def test_a_run_is_started_counted_and_logged(serve: ServeFactory, project: ApiProject) -> None:
    api = serve(project).operator
    project.crm.insert("contacts", [contact(1, at=T0), contact(2, at=T1), contact(3, at=T2)])

    finished = run(api, "contacts")

    assert set(finished) == RUN_FIELDS
    assert finished["sync"] == "contacts" and finished["trigger"] == "manual"
    assert finished["status"] == "succeeded" and finished["error"] is None
    assert ISO_TIME.match(finished["started_at"]) and ISO_TIME.match(finished["finished_at"])
    assert finished["finished_at"] >= finished["started_at"]
    assert finished["counts"] == counts(read=3, created=3)
    assert project.erp.rows("SELECT customer_no, email FROM customers ORDER BY 1") == [
        (n, f"person{n}@example.com") for n in (1, 2, 3)
    ]
    assert api.json("GET", f"/api/v1/runs/{finished['id']}") == finished

    log = [entry for page in api.pages(f"/api/v1/runs/{finished['id']}/records", limit=2) for entry in page["items"]]
    assert all(set(entry) >= LOG_FIELDS for entry in log)
    assert [(e["source_key"], e["target_key"], e["action"], e["error"]) for e in log] == [
        (key, key, "created", None) for key in ("1", "2", "3")
    ]
    assert all(ISO_TIME.match(entry["at"]) for entry in log)
    assert api.json("GET", f"/api/v1/runs/{finished['id']}/records")["items"] == log

    sync = api.json("GET", "/api/v1/syncs/contacts")
    assert sync["last_run"] == finished and sync["status"] == "idle"
    assert "sync" in api.json("POST", "/api/v1/syncs/nope/runs", 404)["detail"]


def test_full_runs_and_reset_read_everything_again(serve: ServeFactory, project: ApiProject) -> None:
    api = serve(project).operator
    project.crm.insert("contacts", [contact(1, at=T0), contact(2, at=T1), contact(3, at=T2)])
    assert run(api, "contacts")["counts"] == counts(read=3, created=3)

    # the stored cursor: only the rows at its last value are read again
    assert run(api, "contacts")["counts"] == counts(read=1, unchanged=1)
    assert run(api, "contacts", full="true")["counts"] == counts(read=3, unchanged=3)
    assert run(api, "contacts", full="false")["counts"] == counts(read=1, unchanged=1)

    reset = api.json("POST", "/api/v1/syncs/contacts/reset")
    assert reset["name"] == "contacts" and set(reset) >= SYNC_FIELDS
    # everything is read again; the ID map stays, so nothing is created twice
    assert run(api, "contacts")["counts"] == counts(read=3, unchanged=3)
    assert project.erp.rows("SELECT count(*) FROM customers") == [(3,)]
    assert run(api, "contacts")["counts"] == counts(read=1, unchanged=1)
    assert "nope" in api.json("POST", "/api/v1/syncs/nope/reset", 404)["detail"]


def test_a_second_run_of_a_running_sync_is_refused(serve: ServeFactory, project: ApiProject) -> None:
    api = serve(project).operator
    project.crm.insert("companies", [{"id": 1, "name": "Acme", "updated_at": T0}])
    project.crm.insert("contacts", [contact(1, email="")])

    with locked(project.erp):  # the run cannot write (or even read the ERP) until the lock goes
        run_id = api.json("POST", "/api/v1/syncs/companies/runs", 202)["run_id"]
        refused = api.json("POST", "/api/v1/syncs/companies/runs", 409)
        assert "running" in refused["detail"] and set(refused) == {"detail"}
        assert api.json("POST", "/api/v1/syncs/companies/runs", 409, params={"full": "true"})
        assert api.json("POST", "/api/v1/syncs/companies/dead-letters/retry", 409)
        assert api.json("GET", f"/api/v1/runs/{run_id}")["status"] == "running"
        assert api.json("GET", "/api/v1/syncs/companies")["status"] == "running"
        assert api.json("GET", "/api/v1/runs", params={"status": "running"})["items"][0]["id"] == run_id

    finished = api.wait_for_run(run_id)
    assert finished["status"] == "succeeded" and finished["counts"] == counts(read=1, created=1)
    assert project.erp.rows("SELECT account_no, name FROM accounts") == [("A1", "Acme")]
    assert run(api, "companies")["status"] == "succeeded"  # the lease went with the run


def test_a_paused_sync_still_takes_a_manual_run(serve: ServeFactory, project: ApiProject) -> None:
    api = serve(project).operator
    project.crm.insert("contacts", [contact(1)])

    paused = api.json("POST", "/api/v1/syncs/contacts/pause")
    assert set(paused) >= SYNC_FIELDS
    assert (paused["name"], paused["paused"], paused["status"], paused["next_run_at"]) == (
        "contacts", True, "paused", None,
    )  # fmt: skip
    assert api.json("GET", "/api/v1/syncs/contacts")["status"] == "paused"
    assert api.json("POST", "/api/v1/syncs/contacts/pause")["paused"] is True  # pausing twice is fine

    finished = run(api, "contacts")
    assert finished["status"] == "succeeded" and finished["counts"]["created"] == 1
    assert api.json("GET", "/api/v1/syncs/contacts")["status"] == "paused"

    resumed = api.json("POST", "/api/v1/syncs/contacts/resume")
    assert (resumed["paused"], resumed["status"]) == (False, "idle")
    assert resumed["last_run"]["id"] == finished["id"]
    for action in ("pause", "resume"):
        assert "nope" in api.json("POST", f"/api/v1/syncs/nope/{action}", 404)["detail"]


def test_runs_are_listed_newest_first_by_sync_and_status(serve: ServeFactory, project: ApiProject) -> None:
    api = serve(project).operator
    project.crm.insert("companies", [{"id": 1, "name": "Acme", "updated_at": T0}])
    project.crm.insert("contacts", [contact(1), contact(2, email="")])
    made = [run(api, "contacts"), run(api, "companies"), run(api, "contacts")]
    assert [r["status"] for r in made] == ["partial", "succeeded", "partial"]

    listed = api.json("GET", "/api/v1/runs")
    assert listed["next"] is None
    assert [r["id"] for r in listed["items"]] == [r["id"] for r in reversed(made)]
    assert listed["items"][0] == made[2]
    pages = list(api.pages("/api/v1/runs", limit=1))
    assert len(pages) == 3 and [page["items"][0] for page in pages] == listed["items"]

    by_sync = api.json("GET", "/api/v1/runs", params={"sync": "contacts"})["items"]
    assert [r["id"] for r in by_sync] == [made[2]["id"], made[0]["id"]]
    by_status = api.json("GET", "/api/v1/runs", params={"status": "succeeded"})["items"]
    assert [r["id"] for r in by_status] == [made[1]["id"]]
    both = api.json("GET", "/api/v1/runs", params={"sync": "companies", "status": "partial"})
    assert both == {"items": [], "next": None}

    assert api.get("/api/v1/runs", params={"status": "bogus"}).status_code == 422
    assert api.get("/api/v1/runs", params={"limit": 0}).status_code == 422
    for path in ("/api/v1/runs", f"/api/v1/runs/{made[0]['id']}/records"):
        assert "cursor" in api.json("GET", path, 400, params={"cursor": "InNvbWUgdGV4dCI"})["detail"]
    for path in ("/api/v1/runs/999999", "/api/v1/runs/999999/records"):
        assert "999999" in api.json("GET", path, 404)["detail"]


def test_a_record_story_shows_its_id_map_entry_and_log(serve: ServeFactory, project: ApiProject) -> None:
    api = serve(project).operator
    project.crm.insert("contacts", [contact(1, name="Ann", at=T0)])
    first = run(api, "contacts")
    project.crm.execute("UPDATE contacts SET first_name = 'Anna', updated_at = ? WHERE id = 1", T1)
    second = run(api, "contacts")
    assert second["counts"] == counts(read=1, updated=1)

    story = api.json("GET", "/api/v1/syncs/contacts/records/1")
    assert (story["sync"], story["source_key"]) == ("contacts", "1")
    assert story["id_map"]["target_key"] == "1" and story["id_map"]["hash"]
    assert "gone_from" not in story["id_map"], "a one-way answer has no two-way field"
    assert [(e["run_id"], e["action"], e["target_key"]) for e in story["log"]] == [
        (second["id"], "updated", "1"),
        (first["id"], "created", "1"),
    ]
    assert all(set(entry) >= LOG_FIELDS for entry in story["log"])

    unseen = api.json("GET", "/api/v1/syncs/contacts/records/404", 404)
    assert set(unseen) == {"detail"}
    assert "contacts" in unseen["detail"] and "'404'" in unseen["detail"] and "never" in unseen["detail"]
    unknown = api.json("GET", "/api/v1/syncs/nope/records/1", 404)["detail"]
    assert "nope" in unknown and "no sync" in unknown and unknown != unseen["detail"]


def test_a_key_known_only_by_its_dead_letter_has_a_story(serve: ServeFactory, project: ApiProject) -> None:
    api = serve(project).operator
    project.crm.insert("contacts", [contact(1, email="  ")])
    assert run(api, "contacts")["counts"] == counts(read=1, failed=1)
    project.crm.execute("DELETE FROM contacts")

    story = api.json("GET", "/api/v1/syncs/contacts/records/1")
    assert story["id_map"] is None and [entry["action"] for entry in story["log"]] == ["failed"]
    assert "'2'" in api.json("GET", "/api/v1/syncs/contacts/records/2", 404)["detail"]


def test_a_dead_letter_is_retried_once_its_source_row_is_fixed(serve: ServeFactory, project: ApiProject) -> None:
    api = serve(project).operator
    project.crm.insert("contacts", [contact(1), contact(2, email="  ")])
    failed = run(api, "contacts")
    assert failed["status"] == "partial" and failed["counts"] == counts(read=2, created=1, failed=1)

    [letter] = dead_letters(api)
    assert set(letter) >= DEAD_LETTER_FIELDS
    assert (letter["sync"], letter["source_key"], letter["attempts"]) == ("contacts", "2", 1)
    assert "email" in letter["error"] and letter["first_failed_at"] == letter["last_failed_at"]
    assert dead_letters(api, "contacts") == [letter] and dead_letters(api, "companies") == []
    assert api.json("GET", "/api/v1/syncs/contacts")["dead_letters"] == 1

    project.crm.execute("UPDATE contacts SET email = 'bo@example.com' WHERE id = 2")  # the cursor does not move
    retry = api.json("POST", f"/api/v1/dead-letters/{letter['id']}/retry", 202)
    retried = api.wait_for_run(retry["run_id"])

    assert (retried["trigger"], retried["status"]) == ("retry", "succeeded")
    assert retried["counts"] == counts(read=1, created=1)
    assert dead_letters(api) == []
    assert project.erp.rows("SELECT email FROM customers WHERE customer_no = 2") == [("bo@example.com",)]
    actions = [e["action"] for e in api.json("GET", "/api/v1/syncs/contacts/records/2")["log"]]
    assert actions == ["created", "failed"]
    assert api.json("GET", "/api/v1/syncs/contacts")["dead_letters"] == 0
    assert "dead letter" in api.json("POST", f"/api/v1/dead-letters/{letter['id']}/retry", 404)["detail"]


def test_every_dead_letter_of_a_sync_is_retried(serve: ServeFactory, project: ApiProject) -> None:
    api = serve(project).operator
    project.crm.insert("contacts", [contact(1, email=""), contact(2, email=""), contact(3)])
    assert run(api, "contacts")["counts"] == counts(read=3, created=1, failed=2)
    assert len(dead_letters(api, "contacts")) == 2

    project.crm.execute("UPDATE contacts SET email = 'fixed' || id || '@example.com' WHERE id IN (1, 2)")
    retry = api.json("POST", "/api/v1/syncs/contacts/dead-letters/retry", 202)
    retried = api.wait_for_run(retry["run_id"])

    assert (retried["trigger"], retried["counts"]) == ("retry", counts(read=2, created=2))
    assert dead_letters(api) == []
    assert project.erp.rows("SELECT customer_no, email FROM customers WHERE customer_no < 3 ORDER BY 1") == [
        (1, "fixed1@example.com"),
        (2, "fixed2@example.com"),
    ]
    assert "nope" in api.json("POST", "/api/v1/syncs/nope/dead-letters/retry", 404)["detail"]


def test_a_discarded_dead_letter_is_gone_and_its_story_says_so(serve: ServeFactory, project: ApiProject) -> None:
    api = serve(project).operator
    project.crm.insert("contacts", [contact(1, email="", at=T0), contact(2, email="", at=T1)])
    run(api, "contacts")
    first, second = dead_letters(api)

    discarded = api.delete(f"/api/v1/dead-letters/{first['id']}")
    assert discarded.status_code == 204 and discarded.content == b""

    assert dead_letters(api) == [second]
    assert api.json("GET", "/api/v1/syncs/contacts")["dead_letters"] == 1
    latest = api.json("GET", f"/api/v1/syncs/contacts/records/{first['source_key']}")["log"][0]
    assert latest["action"] == "skipped" and "discarded by admin" in latest["error"]
    assert "dead letter" in api.json("DELETE", f"/api/v1/dead-letters/{first['id']}", 404)["detail"]
    api.json("POST", f"/api/v1/dead-letters/{first['id']}/retry", 404)
    api.json("DELETE", "/api/v1/dead-letters/999999", 404)

    # a later run retries only the one left (the cursor's look at its last value reads it again: the same
    # record, counted once); the discarded row is before the cursor, so nothing reads it again
    assert run(api, "contacts")["counts"] == counts(read=1, failed=1)
    assert [letter["id"] for letter in dead_letters(api)] == [second["id"]]


def test_reload_takes_a_valid_config_and_refuses_a_broken_one(serve: ServeFactory, project: ApiProject) -> None:
    api = serve(project).operator
    assert api.json("POST", "/api/v1/config/reload") == {"syncs": ["companies", "contacts"]}

    project.write_sync("leads", "source: crm.contacts\ntarget: erp.customers\nfields: {customer_no: id}\n")
    assert api.json("POST", "/api/v1/config/reload") == {"syncs": ["companies", "contacts", "leads"]}
    assert [s["name"] for s in api.json("GET", "/api/v1/syncs")["items"]] == ["companies", "contacts", "leads"]

    project.write_sync("leads", "source: crm.contacts\ntarget: erp.customers\nfeilds: {customer_no: id}\n")
    project.write_sync("broken", "source: crm.nothing\ntarget: erp.customers\nfields: {customer_no: id}\n")
    refused = api.json("POST", "/api/v1/config/reload", 422)

    assert "config error" in refused["detail"]
    assert len(refused["errors"]) >= 2
    for error in refused["errors"]:
        assert re.match(r"^\S+\.yaml:\d+:\d+: \S", error), error
    assert any(re.match(r"^\S*leads\.yaml:3:1: .*feilds", error) for error in refused["errors"])
    assert any(re.match(r"^\S*broken\.yaml:1:\d+: .*nothing", error) for error in refused["errors"])

    # the running config stays, and still runs
    assert [s["name"] for s in api.json("GET", "/api/v1/syncs")["items"]] == ["companies", "contacts", "leads"]
    project.crm.insert("contacts", [contact(1)])
    assert run(api, "leads")["counts"] == counts(read=1, created=1)
