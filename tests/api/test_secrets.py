"""No secret value leaves the service: not in any API answer (body or header), not in its log.

The scan reads every answer every API test of this session gathered and the
log of every ``brygga serve`` they started, so it runs after them (files run
in name order); on its own it still walks every route of a served project
whose secrets are put where a careless service would show them: a sync's
description, a config error quoting a value, an alert URL whose delivery
fails.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.api.redaction import RedactSecrets
from app.config import SecretValues
from tests.api.conftest import ApiProject, Evidence, ServeFactory
from tests.api.serve_process import free_port, wait_until
from tests.api.test_auth import api_routes
from tests.api.test_e2e import dead_letters, run
from tests.engine.conftest import contact

ORDERS_SYNC = """\
source: shop.orders
target: erp.accounts
retry: {attempts: 1, backoff: 0s, max_backoff: 0s}
fields: {account_no: id, name: name}
"""


class AlertReceiver:
    """An HTTP server that answers every alert with 500 and keeps the paths it was sent to."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", 0)))
                receiver.paths.append(self.path)
                self.send_response(500)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def alert_receiver() -> Iterator[AlertReceiver]:
    receiver = AlertReceiver()
    yield receiver
    receiver.close()


def leaks(text: str, secrets: set[str]) -> list[str]:
    return sorted(secret for secret in secrets if secret in text)


def test_no_answer_and_no_log_shows_a_secret(
    serve: ServeFactory, project: ApiProject, evidence: Evidence, alert_receiver: AlertReceiver
) -> None:
    yaml = project.file.read_text(encoding="utf-8")
    yaml = yaml.replace("http://127.0.0.1:9/alerts", f"http://127.0.0.1:{alert_receiver.port}/alerts")
    yaml += f"""\
  shop:
    connector: sql
    url: "postgresql://brygga:${{TEST_DB_PASSWORD}}@127.0.0.1:{free_port()}/shop"
    streams:
      orders: {{table: orders, key: id}}
"""
    project.file.write_text(yaml, encoding="utf-8")
    project.write_sync("orders", ORDERS_SYNC)
    served = serve(project, {"BRYGGA_FAILING_AFTER": "1"})
    operator, viewer = served.operator, served.viewer
    project.crm.insert("contacts", [contact(1), contact(2, email="")])
    finished = run(operator, "contacts")
    [letter] = dead_letters(operator)

    # every route, as each caller
    values = {"name": "contacts", "source_key": "2", "run_id": finished["id"], "letter_id": letter["id"], "event_id": 1}
    for method, path, _ in api_routes(operator.json("GET", "/openapi.json")):
        for client in (served.anonymous, served.anonymous.as_("wrong-token"), viewer):
            client.request(method, path.format(**values))
    for path in ("/health", "/ready", "/metrics", "/docs", "/api/v1/syncs/nope", "/api/v1/runs/999999"):
        operator.get(path)
    operator.get("/api/v1/runs", params={"cursor": "bad"})
    described = operator.json("GET", "/api/v1/syncs/contacts")["description"]
    assert described == "Every CRM contact is a customer of *** in the ERP."

    # a config error that quotes a value from the environment
    project.file.write_text(
        project.file.read_text(encoding="utf-8").replace(
            "url: sqlite:///crm.db", 'url: sqlite:///crm.db\n    batch_size: "${TEST_TENANT}"'
        ),
        encoding="utf-8",
    )
    refused = operator.json("POST", "/api/v1/config/reload", 422)
    assert any("batch_size" in error and "'***'" in error for error in refused["errors"]), refused

    # a sync that cannot reach its source turns failing; its alert goes to a URL with a key, and fails
    assert run(operator, "orders")["status"] == "failed"
    wait_until(lambda: len(alert_receiver.paths) >= 3, 15, "the alert to be tried three times")
    assert alert_receiver.paths[0] == f"/alerts?key={project.secrets.alert_key}"
    wait_until(lambda: "could not send the failing alert" in served.process.log(), 10, "the alert failure logged")
    served.process.stop()
    assert "key=***" in served.process.log()

    secrets = {value for known in evidence.secrets for value in known.env().values()}
    secrets |= {quote(secret, safe="") for secret in secrets}
    assert len(evidence.exchanges) > 60 and len(evidence.processes) >= 1
    found = []
    for exchange in evidence.exchanges:
        shown = exchange.body + "\n" + "\n".join(f"{name}: {value}" for name, value in exchange.headers)
        found += [f"{exchange.method} {exchange.url} → {exchange.status}: {secret}" for secret in leaks(shown, secrets)]
    for process in evidence.processes:
        found += [f"log of {process.config}: {secret}" for secret in leaks(process.log(), secrets)]
    assert not found, "\n".join(found)


ESCAPED = 'quo"te\\back/slash lösen-€'


async def test_answers_are_scrubbed_of_every_form_in_body_and_headers() -> None:
    """A secret with a quote, a backslash, a space and non-ASCII is JSON-escaped in a body and
    percent-encoded in a header: both are found, and the body stays valid JSON of the right length."""

    async def leaky(request: Request) -> Response:
        location = f"/next?key={quote(ESCAPED, safe='')}"
        return JSONResponse({"detail": f"cannot use {ESCAPED!r}", "raw": ESCAPED}, headers={"Location": location})

    secrets = SecretValues()
    secrets.add(ESCAPED)
    app = RedactSecrets(Starlette(routes=[Route("/leaky", leaky)]), lambda: secrets)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        answer = await client.get("/leaky")

    assert answer.json() == {"detail": "cannot use '***'", "raw": "***"}
    assert answer.headers["location"] == "/next?key=***"
    assert int(answer.headers["content-length"]) == len(answer.content)
