"""A value from ``${VAR}`` in every place a config has, each one wrong there: the errors never show it.

Not as it is, nor in an escaped form (URL-quoted, JSON or Python escapes),
nor a part of it; and a value that is no text at all (bytes that are not
UTF-8) is an error that names its variable, not a traceback.
"""

from __future__ import annotations

import json
from urllib.parse import quote, quote_plus

import pytest

from app.engine.workspace import open_workspace
from app.errors import ConfigError
from tests.conftest import ProjectWriter

PROJECT = """\
version: 1
state: "${S}"
api:
  tokens:
    - {name: "${S}", token: "${S}", role: "${S}"}
systems:
  crm:
    connector: sql
    url: "${S}"
    batch_size: "${S}"
    streams:
      contacts: {table: "${S}", key: "${S}", cursor: "${S}", lookback: "${S}", delete: "${S}", query: "${S}"}
    webhook: {verify: "${S}", secret: "${S}", stream: "${S}", records: "${S}", max_body: "${S}", fetch: "${S}"}
  api:
    connector: rest
    base_url: "${S}"
    auth: {type: "${S}", token: "${S}"}
    headers: {X-Key: "${S}"}
    timeout: "${S}"
    rate_limit: {requests: "${S}", per: "${S}"}
    concurrency: "${S}"
    streams:
      items: {path: "${S}", key: id, records: "${S}", params: {a: "${S}"}, pagination: {type: "${S}"}}
  shop:
    connector: webhook
    streams: {orders: {key: id}}
    webhook: {verify: github, secret: "x${S}", stream: orders, delete_when: "{{ ${S} }}"}
  erp:
    connector: csv
    path: "${S}"
    streams:
      customers: {file: "${S}", key: id, delimiter: "${S}", encoding: "${S}"}
mappings: ["${S}", "mappings/*.yaml"]
retention: {runs: "${S}", records: "${S}"}
alerts:
  - {url: "${S}", on: ["${S}"]}
"""

BAD_SYNC = """\
name: "${S}"
description: "${S}"
source: "${S}"
target: "${S}"
mode: "${S}"
schedule: {every: "${S}"}
webhook: "${S}"
after: "${S}"
fields:
  b: {from: "${S}", transform: ["${S}"], map: {x: "${S}"}, type: "${S}", default: "${S}", required: "${S}"}
  d: {lookup: {sync: "${S}", from: "${S}"}}
retry: {attempts: "${S}", backoff: "${S}", max_backoff: "${S}", later_runs: "${S}"}
tests:
  - {name: "${S}", input: {a: "${S}"}, error: "${S}", skip: "${S}"}
"""

COMPILED_SYNC = """\
source: crm.contacts
target: erp.customers
schedule: {cron: "${S}"}
where: "{{ ${S} }}"
fields:
  a: "{{ record['${S}'] | ${S} }}"
  b: "${S}"
  c: {from: id, transform: ["truncate:${S}"]}
  d: {from: id, type: integer, default: "${S}"}
after: "${S}"
"""


@pytest.mark.parametrize(
    "secret",
    [
        pytest.param("plain-secret-value-0123456789", id="plain"),
        pytest.param('Sëcret "quoted" \\back/slash+plus ø 0123', id="quotes-backslash-non-ascii"),
        pytest.param("line one\nline two\ttab-9f3a", id="line-end-and-tab"),
        pytest.param("{{ zz_9 }} ${OTHER} %s {0}", id="looks-like-a-template"),
    ],
)
def test_a_secret_in_every_place_is_in_no_error(write_project: ProjectWriter, secret: str) -> None:
    project = write_project({"brygga.yaml": PROJECT, "mappings/a.yaml": BAD_SYNC, "mappings/b.yaml": COMPILED_SYNC})

    with pytest.raises(ConfigError) as caught:
        open_workspace(project, {"S": secret})

    forms = {
        secret,
        quote(secret, safe=""),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
        secret.encode("unicode_escape").decode("ascii"),
    }
    parts = {secret[start : start + 8] for start in range(len(secret) - 7)}
    shown = str(caught.value)
    assert len(caught.value.issues) >= 30  # the places were reached, not one early error
    assert [form for form in forms if form in shown] == []
    assert [part for part in parts if part in shown] == []


def test_a_value_that_is_not_text_is_named_by_its_variable_in_every_place(write_project: ProjectWriter) -> None:
    project = write_project({"brygga.yaml": PROJECT, "mappings/a.yaml": BAD_SYNC, "mappings/b.yaml": COMPILED_SYNC})

    with pytest.raises(ConfigError) as caught:
        open_workspace(project, {"S": "caf\udce9-bytes-from-latin-1"})

    messages = {issue.message for issue in caught.value.issues}
    assert "environment variable S is not UTF-8 text (or holds a NUL character): set it to UTF-8 text" in messages
    assert "caf" not in str(caught.value)
