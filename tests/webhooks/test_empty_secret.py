"""Defence in depth: the verifier itself refuses a webhook whose secret is empty or blank.

Config validation refuses such a secret (tests/config/test_broken_configs.py),
so these configs are built past it: were that check ever bypassed or broken,
an empty secret must still not be an open door.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pydantic import SecretStr

from app.config import WebhookConfig
from app.config.systems import WebhookVerify
from app.engine.webhook_checks import WebhookNotProven, WebhookRejected, verify
from tests.webhooks.conftest import body_of, contact, github_headers

BODY = body_of(contact(1))
Headers = Callable[[str], dict[str, str]]


@pytest.mark.parametrize(
    ("kind", "secret", "headers"),
    [
        pytest.param("token", "", lambda secret: {"authorization": "Bearer "}, id="token-empty"),
        pytest.param("token", "", lambda secret: {"authorization": "Bearer  "}, id="token-empty-two-spaces"),
        pytest.param("github", "", lambda secret: github_headers(secret, BODY), id="github-empty"),
        pytest.param("github", "  \n", lambda secret: github_headers(secret, BODY), id="github-blank"),
        pytest.param("standard", "", lambda secret: {"webhook-id": "msg_1"}, id="standard-empty"),
    ],
)
def test_a_webhook_without_a_real_secret_takes_no_delivery(kind: WebhookVerify, secret: str, headers: Headers) -> None:
    webhook = WebhookConfig.model_construct(verify=kind, secret=SecretStr(secret), stream="contacts")

    with pytest.raises(WebhookRejected) as refused:
        verify(webhook, BODY, headers(secret), "203.0.113.9")

    assert (type(refused.value), refused.value.reason) == (WebhookNotProven, "no secret")
