"""The access log of a real ``brygga serve`` never shows a token a client put in a URL (SPEC 2, 7).

Clients put tokens in query strings (``?token=``, ``?api_key=``, a presigned
URL's signature): the value of each parameter whose name looks secret is
hidden, and every configured secret is hidden wherever it shows in the line.
"""

from __future__ import annotations

from urllib.parse import quote

import httpx

from tests.api.conftest import ApiProject, ServeFactory
from tests.api.serve_process import wait_until

SENT = "client-sent-value"
"""What clients put in their URLs: no configured secret, so only a parameter's name can hide it."""


def test_the_access_log_hides_secret_query_values_and_configured_secrets(
    serve: ServeFactory, project: ApiProject
) -> None:
    served = serve(project)
    secrets = project.secrets
    shown = {
        f"/health?token={SENT}1": "/health?token=***",
        f"/api/v1/syncs?api_key={SENT}2&limit=5": "/api/v1/syncs?api_key=***&limit=5",
        f"/api/v1/runs?access_token={SENT}3&sync=contacts": "/api/v1/runs?access_token=***&sync=contacts",
        f"/docs?X-Amz-Date=20240101&X-Amz-Signature={SENT}4": "/docs?X-Amz-Date=20240101&X-Amz-Signature=***",
        f"/health?%74oken={SENT}5": "/health?%74oken=***",
        f"/ready?password={SENT}6&sig={SENT}7&clientSecret={SENT}8&apiKey={SENT}9": (
            "/ready?password=***&sig=***&clientSecret=***&apiKey=***"
        ),
        f"/metrics?Authorization=Bearer+{SENT}10&page=2": "/metrics?Authorization=***&page=2",
        f"/health?q={quote(secrets.operator)}&tenant={secrets.tenant.upper()}": (
            f"/health?q=***&tenant={secrets.tenant.upper()}"
        ),
        f"/api/v1/syncs/{quote(secrets.viewer)}": "/api/v1/syncs/***",
        f"/health?{SENT}11": f"/health?{SENT}11",  # no name, no value: nothing says it is secret
    }

    with httpx.Client(base_url=served.process.url, timeout=10) as client:
        for target in shown:
            client.get(target)
    wait_until(lambda: f'"GET /health?{SENT}11 HTTP/1.1"' in served.process.log(), 10, "the last request logged")
    log = served.process.log()

    for target, line in shown.items():
        assert f'"GET {line} HTTP/1.1"' in log, target
    for number in range(1, 11):
        assert f"{SENT}{number}" not in log.replace(f"{SENT}11", "")
    for secret in secrets.env().values():
        assert secret not in log and quote(secret) not in log
