"""The log of a real ``brygga serve`` for ops: a line per finished run, no scheduler chatter, JSON on request.

Runs are started through the API and waited for by polling it; the log is
read from the process's standard error once it has stopped (so every line
is written), and with ``BRYGGA_LOG_FORMAT=json`` each of its lines must be
one JSON object.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import httpx

from tests.api.conftest import ApiProject, Served, ServeFactory
from tests.api.serve_process import free_port, wait_until
from tests.api.test_e2e import counts, run
from tests.cli.helpers import run_brygga
from tests.engine.conftest import contact

SHOP = """\
  shop:
    connector: sql
    url: "postgresql://brygga:${{TEST_DB_PASSWORD}}@127.0.0.1:{port}/shop"
    streams:
      orders: {{table: orders, key: id}}
"""
ORDERS_SYNC = """\
source: shop.orders
target: erp.accounts
retry: {attempts: 1, backoff: 0s, max_backoff: 0s}
fields: {account_no: id, name: name}
"""
SCHEDULED_SYNC = """\
source: crm.companies
target: erp.accounts
schedule: {every: 1s}
fields:
  account_no: "{{ 'A' ~ record.id }}"
  name: name
"""
JSON_KEYS = {"time", "level", "logger", "message"}
RUN_KEYS = {"sync", "run_id", "trigger", "status", "counts", "duration_s", "error"}
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$")
CHATTER = ("executed successfully", "Running job")


def stopped_log(served: Served) -> tuple[str, str]:
    """Stop the service (its log is then complete); its standard output and standard error."""
    served.process.stop()
    logs = served.process.logs
    return (logs / "serve.out").read_text(encoding="utf-8"), (logs / "serve.err").read_text(encoding="utf-8")


def with_shop(project: ApiProject) -> None:
    """Add a system whose database does not answer, with a password from the environment in its URL."""
    project.file.write_text(project.file.read_text(encoding="utf-8") + SHOP.format(port=free_port()), "utf-8")
    project.write_sync("orders", ORDERS_SYNC)


def scheduled_runs(served: Served, at_least: int) -> None:
    """Wait until the scheduled sync ``companies`` has finished ``at_least`` runs."""

    def enough() -> bool:
        runs = served.viewer.json("GET", "/api/v1/runs", params={"sync": "companies", "status": "succeeded"})
        return len(runs["items"]) >= at_least

    wait_until(enough, 20, f"{at_least} scheduled runs of companies", interval=0.1)


def test_json_log_is_an_object_per_line_with_a_line_per_run(serve: ServeFactory, project: ApiProject) -> None:
    with_shop(project)
    served = serve(project, {"BRYGGA_LOG_FORMAT": "json"})
    secrets = project.secrets
    project.crm.insert("contacts", [contact(1), contact(2, email="")])
    partial = run(served.operator, "contacts")
    failed = run(served.operator, "orders")
    assert (partial["status"], failed["status"]) == ("partial", "failed")
    with httpx.Client(base_url=served.process.url, timeout=10) as client:
        client.get(f"/health?token=sent-{secrets.operator}")
        client.get(f"/api/v1/syncs/{quote(secrets.viewer)}")
    out, err = stopped_log(served)

    entries = [json.loads(line) for line in err.splitlines()]  # every line one object: none else
    assert out == ""
    assert all(set(entry) >= JSON_KEYS and ISO_UTC.match(entry["time"]) for entry in entries), entries
    loggers = {entry["logger"] for entry in entries}
    assert {"uvicorn.error", "uvicorn.access", "brygga.runs", "brygga.service"} <= loggers, loggers
    assert any("Uvicorn running on" in entry["message"] for entry in entries)
    accessed = [entry["message"] for entry in entries if entry["logger"] == "uvicorn.access"]
    assert any('"GET /health?token=*** HTTP/1.1" 200' in message for message in accessed), accessed
    assert any('"GET /api/v1/syncs/*** HTTP/1.1" 401' in message for message in accessed), accessed

    runs = {entry["run_id"]: entry for entry in entries if entry["logger"] == "brygga.runs"}
    assert set(runs) == {partial["id"], failed["id"]}
    line = runs[partial["id"]]
    assert set(line) == JSON_KEYS | RUN_KEYS and line["level"] == "INFO"
    assert (line["sync"], line["trigger"], line["status"], line["error"]) == ("contacts", "manual", "partial", None)
    assert line["counts"] == counts(read=2, created=1, failed=1) == partial["counts"]
    assert isinstance(line["duration_s"], float) and 0 <= line["duration_s"] < 20
    assert line["message"].startswith(f"run finished: sync=contacts run={partial['id']} trigger=manual ")
    broken = runs[failed["id"]]
    assert (broken["sync"], broken["status"]) == ("orders", "failed")
    assert (
        broken["error"] == failed["error"]
        and broken["error"]
        and f"error={json.dumps(broken['error'])}" in (broken["message"])
    )
    for secret in secrets.env().values():
        assert secret not in err and quote(secret) not in err


def test_text_log_has_a_line_per_run_and_no_scheduler_chatter(serve: ServeFactory, project: ApiProject) -> None:
    project.write_sync("companies", SCHEDULED_SYNC)
    served = serve(project, {"BRYGGA_WATCH_EVERY": "200ms"})
    project.crm.insert("contacts", [contact(1)])
    manual = run(served.operator, "contacts")
    scheduled_runs(served, 3)
    _, err = stopped_log(served)

    lines = [line for line in err.splitlines() if "brygga.runs: run finished: sync=contacts " in line]
    assert len(lines) == 1, err
    assert re.search(
        rf" INFO brygga\.runs: run finished: sync=contacts run={manual['id']} trigger=manual status=succeeded "
        r"read=1 created=1 updated=0 deleted=0 unchanged=0 skipped=0 failed=0 duration=\d+\.\d\ds$",
        lines[0],
    ), lines[0]
    assert re.search(r"run finished: sync=companies run=\d+ trigger=schedule status=succeeded read=0 ", err)
    assert not any(chatter in err for chatter in CHATTER), err


def test_debug_level_shows_the_scheduler_at_work(serve: ServeFactory, project: ApiProject) -> None:
    project.write_sync("companies", SCHEDULED_SYNC)
    served = serve(project, {"BRYGGA_LOG_LEVEL": "debug"})
    scheduled_runs(served, 2)
    _, err = stopped_log(served)

    assert all(chatter in err for chatter in CHATTER), err


def test_an_unknown_log_format_stops_serve_with_exit_2(project: ApiProject) -> None:
    env = {**project.secrets.env(), "BRYGGA_LOG_FORMAT": "xml"}
    done = run_brygga("serve", "-c", str(project.file), "--port", str(free_port()), env=env, timeout=30)

    assert done.returncode == 2, done.stderr
    assert "BRYGGA_LOG_FORMAT: must be text or json, not 'xml'" in done.stderr
