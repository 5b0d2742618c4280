"""The dashboard's webhook events page: received deliveries listed, and replayed by an operator (SPEC 7.1)."""

from __future__ import annotations

import re

from tests.service.conftest import eventually
from tests.webhooks.conftest import InProcessFactory, contact

SAME_SITE = {"Origin": "http://127.0.0.1:8000"}


async def test_an_operator_replays_a_webhook_event_from_its_page(in_process: InProcessFactory) -> None:
    app = await in_process()
    browser = app.hooks  # no Authorization header: a browser, which signs in
    delivered = await app.send("local", {"items": [contact(1)]})
    event_id = delivered.json()["event_id"]
    await app.settled(event_id)
    signed = await browser.post("/sign-in", data={"token": app.project.secrets.operator}, headers=SAME_SITE)
    assert signed.status_code == 303

    page = await browser.get("/webhook-events", params={"system": "local"})

    assert page.status_code == 200
    row = re.search(rf'<tr><th scope="row">{event_id}</th>.*?</tr>', page.text, re.DOTALL)
    assert row is not None and "local" in row.group(0) and "processed" in row.group(0) and "Replay" in row.group(0)
    csrf = re.search(r'name="csrf" value="([^"]+)"', row.group(0))
    assert csrf is not None
    app.project.write_sync("local", name='"{{ record.name | upper }}"')
    assert (await app.api.post("/api/v1/config/reload")).status_code == 200

    replayed = await browser.post(
        f"/webhook-events/{event_id}/replay", data={"csrf": csrf.group(1), "back": "/webhook-events"}, headers=SAME_SITE
    )

    assert (replayed.status_code, replayed.headers["location"]) == (303, "/webhook-events")
    assert f"Webhook event {event_id} is processed again" in (await browser.get("/webhook-events")).text
    await eventually(lambda: app.project.customers()[0][1] == "NAME 1", 10, "the replay to write the new mapping's")
    await app.idle("local")
