"""A table of broken configs, each matched on its message and its exact FILE:LINE:COL.

Every case goes through :func:`open_project`, so config problems (app/config,
connectors/*/config.py) and mapping problems (paths, expressions, transforms)
are checked together, as ``brygga validate`` sees them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from _pytest.mark import ParameterSet

from app.engine.project import open_project
from app.errors import ConfigError
from tests.conftest import MINIMAL_PROJECT, ProjectWriter

Expected = tuple[str, int, int, str]
"""(file relative to the project, line, column, a part of the message)."""

P = "brygga.yaml"
A = "mappings/a.yaml"
B = "mappings/b.yaml"
ENVIRON = {"ERP_FOLDER": "erp"}

SYNC = """\
source: crm.contacts
target: erp.customers
fields:
  customer_no: id
"""
"""A valid sync of four lines: what a case appends starts on line 5."""

AFTER_SYNC = 5
AFTER_MINIMAL = MINIMAL_PROJECT.count("\n") + 1
"""The first line after :data:`MINIMAL_PROJECT`, where a case appends project settings."""

HEAD = "version: 1\nsystems:\n"
"""Two lines; the system a case writes after it starts on line 3."""


def case(
    id_: str, files: dict[str, str], *expected: Expected, marks: pytest.MarkDecorator | None = None
) -> ParameterSet:
    return pytest.param(files, list(expected), id=id_, marks=marks or ())


def sync(extra: str) -> dict[str, str]:
    """``mappings/a.yaml``: :data:`SYNC` with ``extra`` from line 5."""
    return {A: SYNC + extra}


def settings(extra: str) -> dict[str, str]:
    """``brygga.yaml``: the minimal project with ``extra`` from line :data:`AFTER_MINIMAL`."""
    return {P: MINIMAL_PROJECT + extra}


def system(text: str) -> dict[str, str]:
    """``brygga.yaml`` with one system, written from line 3 at column 3."""
    return {P: HEAD + text}


SQL_SYSTEM = """\
  crm:
    connector: sql
    url: sqlite:///crm.db
    streams:
      contacts: {table: contacts, key: id, cursor: updated_at}
"""
"""Lines 3–7 after :data:`HEAD`; the stream's flow mapping starts at 7:17."""

REST_SYSTEM = """\
  api:
    connector: rest
    base_url: https://api.example.com
"""
"""Lines 3–5 after :data:`HEAD`; a case adds options from line 6."""

CSV_SYSTEM = """\
  erp:
    connector: csv
    path: ${ERP_FOLDER}
    streams:
"""
"""Lines 3–6 after :data:`HEAD`; a case adds a stream on line 7."""


YAML_CASES = [
    case(
        "yaml-unclosed-flow-sequence",
        {A: "source: crm.contacts\ntarget: [erp.customers\nfields:\n  customer_no: id\n"},
        (A, 3, 7, "YAML syntax error: expected ',' or ']', but got ':' (while parsing a flow sequence)"),
    ),
    case(
        "yaml-bad-indentation",
        {A: "source: crm.contacts\n  target: erp.customers\n"},
        (A, 2, 9, "YAML syntax error: mapping values are not allowed here"),
    ),
    case(
        "yaml-tab-indentation",
        {A: "source: crm.contacts\ntarget: erp.customers\nfields:\n\tcustomer_no: id\n"},
        (A, 4, 1, "found character '\\t' that cannot start any token"),
    ),
    case(
        "yaml-duplicate-key-in-sync",
        sync("source: crm.users\n"),
        (A, AFTER_SYNC, 1, "duplicate key 'source' (first given at line 1): remove one"),
    ),
    case(
        "yaml-duplicate-key-in-project",
        settings("version: 1\n"),
        (P, AFTER_MINIMAL, 1, "duplicate key 'version' (first given at line 1): remove one"),
    ),
    case(
        "yaml-duplicate-field",
        sync("  customer_no: number\n"),
        (A, AFTER_SYNC, 3, "duplicate key 'customer_no' (first given at line 4)"),
    ),
    case(
        "yaml-top-level-list",
        {A: "- source: crm.contacts\n- target: erp.customers\n"},
        (A, 1, 1, "expected a mapping of keys at the top of the file"),
    ),
    case(
        "yaml-top-level-scalar-in-project",
        {P: "just some text\n"},
        (P, 1, 1, "expected a mapping of keys at the top of the file"),
    ),
    case(
        "yaml-two-documents",
        sync("---\n" + SYNC),
        (A, AFTER_SYNC, 1, "expected a single document in the stream, but found another document: a file holds one"),
    ),
    case(
        "yaml-key-that-is-a-list",
        sync("? [a, b]\n: c\n"),
        (A, AFTER_SYNC, 3, "a key must be a plain value"),
    ),
    case(
        "yaml-empty-sync-file",
        {A: "# nothing yet\n"},
        (A, 1, 1, "missing required key 'source'"),
        (A, 1, 1, "missing required key 'target'"),
        (A, 1, 1, "missing required key 'fields'"),
    ),
]

INTERPOLATION_CASES = [
    case(
        "env-var-unset-in-project",
        system(SQL_SYSTEM.replace("sqlite:///crm.db", "${CRM_URL}")),
        (P, 5, 10, "environment variable CRM_URL is not set: set it, or give a default with ${CRM_URL:-value}"),
    ),
    case(
        "env-var-unset-in-sync",
        sync("description: Owned by ${TEAM}\n"),
        (A, AFTER_SYNC, 14, "environment variable TEAM is not set"),
    ),
    case(
        "env-var-malformed",
        system(SQL_SYSTEM.replace("sqlite:///crm.db", "${CRM DATABASE}")),
        (P, 5, 10, "'${CRM DATABASE}' is not a variable reference: write ${NAME} or ${NAME:-default}"),
    ),
    case(
        "env-var-unclosed",
        system(SQL_SYSTEM.replace("sqlite:///crm.db", "${CRM_DATABASE_URL")),
        (P, 5, 10, "unclosed '${CRM_DATABASE_URL': end the reference with '}' (write '$${' for a literal '${')"),
    ),
    case(
        "env-var-empty-name",
        sync("description: ${}\n"),
        (A, AFTER_SYNC, 14, "'${}' is not a variable reference"),
    ),
]

UNKNOWN_KEY_CASES = [
    case(
        "unknown-sync-key-lists-the-valid-ones",
        sync("colour: red\n"),
        (A, AFTER_SYNC, 1, "colour: unknown key (valid keys: name, description, source, target, mode, schedule,"),
    ),
    case(
        "misspelt-sync-key",
        sync("shedule: {every: 5m}\n"),
        (A, AFTER_SYNC, 1, "shedule: unknown key (did you mean 'schedule'?)"),
    ),
    case(
        "misspelt-field-key",
        sync("  name: {form: first_name}\n"),
        (A, AFTER_SYNC, 10, "fields.name.form: unknown key (did you mean 'from'?)"),
    ),
    case(
        "misspelt-project-key",
        settings("retension: {runs: 7d}\n"),
        (P, AFTER_MINIMAL, 1, "retension: unknown key (did you mean 'retention'?)"),
    ),
    case(
        "misspelt-stream-key",
        system(SQL_SYSTEM.replace("{table: contacts,", "{tabel: contacts,")),
        (P, 7, 18, "systems.crm.streams.contacts.tabel: unknown key (did you mean 'table'?)"),
    ),
    case(
        "unknown-system-option",
        system(SQL_SYSTEM + "    pool: 5\n"),
        (P, 8, 5, "systems.crm.pool: unknown key (valid keys: streams, batch_size, url, connector, webhook)"),
    ),
    case(
        "misspelt-auth-key",
        system(
            REST_SYSTEM + "    auth: {type: bearer, tokn: abc}\n    streams:\n      items: {path: /items, key: id}\n"
        ),
        (P, 6, 11, "systems.api.auth: missing required key 'token'"),
        (P, 6, 26, "systems.api.auth.tokn: unknown key (did you mean 'token'?)"),
    ),
]

TYPE_CASES = [
    case(
        "bool-that-is-text",
        sync("webhook: sometimes\n"),
        (A, AFTER_SYNC, 10, "webhook: expected true or false, got 'sometimes'"),
    ),
    case(
        "field-given-as-a-number",
        sync("  vat_rate: 25\n"),
        (A, AFTER_SYNC, 13, "fields.vat_rate: a field is a source path (name: id), an expression"),
    ),
    case(
        "field-given-as-a-bool",
        sync("  active: true\n"),
        (A, AFTER_SYNC, 11, "or lookup; for a constant write {value: true}"),
    ),
    case(
        "field-given-as-null",
        sync("  name:\n"),
        (A, AFTER_SYNC, 8, "for a constant write {value: null}"),
    ),
    case(
        "field-key-that-is-a-number",
        sync("  5: id\n"),
        (A, AFTER_SYNC, 3, "fields[5]: expected text, got the number 5 (for text, write '5')"),
    ),
    case(
        "sync-name-that-is-a-number",
        {A: "name: 5\n" + SYNC},
        (A, 1, 7, "name: expected text, got the number 5"),
    ),
    case(
        "mappings-given-as-a-string",
        settings("mappings: mappings/*.yaml\n"),
        (P, AFTER_MINIMAL, 11, "mappings: expected a list, got 'mappings/*.yaml'"),
    ),
    case(
        "tests-given-as-a-mapping",
        sync("tests: {name: one}\n"),
        (A, AFTER_SYNC, 8, "tests: expected a list, got a mapping"),
    ),
    case(
        "system-given-as-a-string",
        system("  crm: sql\n"),
        (P, 3, 8, "systems.crm: expected a mapping (key: value), got 'sql'"),
    ),
    case(
        "system-name-that-is-a-number",
        system(SQL_SYSTEM.replace("crm:", "123:")),
        (P, 3, 3, "systems[123]: expected text, got the number 123 (for text, write '123')"),
    ),
    case(
        "map-given-as-a-list",
        sync("  country: {from: country, map: [SE, NO]}\n"),
        (A, AFTER_SYNC, 33, "fields.country.map: expected a mapping (key: value), got a list"),
    ),
    case(
        "required-that-is-text",
        sync("  email: {from: email, required: maybe}\n"),
        (A, AFTER_SYNC, 34, "fields.email.required: expected true or false, got 'maybe'"),
    ),
    case(
        "test-input-that-is-a-number",
        sync("tests:\n  - {name: one, input: 5, skip: true}\n"),
        (A, AFTER_SYNC + 1, 24, "tests[0].input: expected a mapping (key: value), got the number 5"),
    ),
    case(
        "number-out-of-range",
        sync("retry: {attempts: 0}\n"),
        (A, AFTER_SYNC, 19, "retry.attempts: must be at least 1, got the number 0"),
    ),
]

ENUM_CASES = [
    case(
        "bad-mode",
        sync("mode: upsret\n"),
        (
            A,
            AFTER_SYNC,
            7,
            "mode: 'upsret' is not valid: choose upsert, insert, update or mirror (did you mean 'upsert'?)",
        ),
    ),
    case(
        "bad-field-type",
        sync("  credit: {from: credit.limit, type: int}\n"),
        (
            A,
            AFTER_SYNC,
            38,
            "fields.credit.type: 'int' is not valid: choose string, integer, number, decimal, boolean,",
        ),
    ),
    case(
        "bad-version",
        {P: MINIMAL_PROJECT.replace("version: 1", "version: 2")},
        (P, 1, 10, "version: the number 2 is not valid: choose 1"),
    ),
    case(
        "version-in-quotes",
        {P: MINIMAL_PROJECT.replace("version: 1", "version: '1'")},
        (P, 1, 10, "version: '1' is text: write 1 without quotes"),
    ),
    case(
        "bad-token-role",
        settings("api:\n  tokens:\n    - {name: ops, token: abc, role: admin}\n"),
        (P, AFTER_MINIMAL + 2, 37, "api.tokens[0].role: 'admin' is not valid: choose viewer or operator"),
    ),
    case(
        "bad-alert-event",
        settings("alerts:\n  - {url: 'https://hooks.example.com/x', on: [failing, broken]}\n"),
        (P, AFTER_MINIMAL + 1, 56, "alerts[0].on[1]: 'broken' is not valid: choose failing, recovered or stalled"),
    ),
    case(
        "bad-webhook-verify",
        system(SQL_SYSTEM + "    webhook: {verify: hmac, secret: abcd, stream: contacts}\n"),
        (P, 8, 23, "systems.crm.webhook.verify: 'hmac' is not valid: choose standard, github, token or none"),
    ),
]

CONNECTOR_KIND_CASES = [
    case(
        "unknown-connector-kind",
        system(SQL_SYSTEM.replace("connector: sql", "connector: sqll")),
        (
            P,
            4,
            16,
            "systems.crm.connector: unknown connector kind 'sqll': choose csv, rest, sql or webhook (did you mean",
        ),
    ),
    case(
        "missing-connector-kind",
        system(SQL_SYSTEM.replace("    connector: sql\n", "")),
        (P, 4, 5, "systems.crm: missing required key 'connector' (one of: csv, rest, sql, webhook)"),
    ),
    case(
        "system-name-with-a-dot",
        system(SQL_SYSTEM.replace("crm:", "crm.eu:")),
        (P, 3, 3, "systems: 'crm.eu' is not a system name: use letters, digits, '-' and '_' (no dots or spaces)"),
    ),
    case(
        "stream-name-with-a-dot",
        system(SQL_SYSTEM.replace("contacts:", "contacts.v2:")),
        (P, 7, 7, "systems.crm.streams.contacts.v2: not a stream name: use letters, digits"),
    ),
    case(
        "system-without-streams",
        system(
            SQL_SYSTEM.replace(
                "    streams:\n      contacts: {table: contacts, key: id, cursor: updated_at}\n", "    streams: {}\n"
            )
        ),
        (P, 6, 14, "systems.crm.streams: a system needs at least one stream"),
    ),
]

PROJECT_CASES = [
    case("missing-systems", {P: "version: 1\n"}, (P, 1, 1, "missing required key 'systems'")),
    case(
        "bad-state-url",
        settings("state: brygga.db\n"),
        (P, AFTER_MINIMAL, 8, "state: the state database must be sqlite:///FILE or postgresql://USER@HOST/DB"),
    ),
    case(
        "token-without-token",
        settings("api:\n  tokens:\n    - {name: ops, role: viewer}\n"),
        (P, AFTER_MINIMAL + 2, 7, "api.tokens[0]: missing required key 'token'"),
    ),
    case(
        "duplicate-token-name",
        settings(
            "api:\n  tokens:\n    - {name: ops, token: a, role: viewer}\n    - {name: ops, token: b, role: operator}\n"
        ),
        (P, AFTER_MINIMAL + 3, 14, "api.tokens[1].name: duplicate token name 'ops': give each token its own name"),
    ),
    case(
        "alert-url-without-scheme",
        settings("alerts:\n  - {url: hooks.example.com/x}\n"),
        (P, AFTER_MINIMAL + 1, 11, "alerts[0].url: expected an http:// or https:// URL"),
    ),
    case(
        "alert-on-given-as-a-string",
        settings("alerts:\n  - {url: 'https://hooks.example.com/x', on: failing}\n"),
        (P, AFTER_MINIMAL + 1, 46, "alerts[0].on: expected a list, got 'failing'"),
    ),
    case(
        "retention-not-a-duration",
        settings("retention: {runs: 30 days}\n"),
        (
            P,
            AFTER_MINIMAL,
            19,
            "retention.runs: '30 days' is not a duration: write a number with a unit, such as 500ms",
        ),
    ),
    case(
        "retention-negative",
        settings("retention: {records: -5}\n"),
        (P, AFTER_MINIMAL, 22, "retention.records: a duration cannot be negative"),
    ),
    case(
        "mappings-file-not-found",
        settings("mappings: [mappings/*.yaml, crm/contacts.yaml]\n"),
        (P, AFTER_MINIMAL, 29, "mappings[1]: file not found: crm/contacts.yaml (paths are relative to this file)"),
    ),
]

SQL_CASES = [
    case(
        "sql-not-a-url",
        system(SQL_SYSTEM.replace("sqlite:///crm.db", "crm.db")),
        (P, 5, 10, "systems.crm.url: not a database URL: write sqlite:///crm.db, postgresql://user@host/db or"),
    ),
    case(
        "sql-unsupported-database",
        system(SQL_SYSTEM.replace("sqlite:///crm.db", "oracle://crm@db.example.com/crm")),
        (P, 5, 10, "systems.crm.url: database 'oracle' is not supported"),
    ),
    case(
        "sql-sqlite-with-a-password",
        system(SQL_SYSTEM.replace("sqlite:///crm.db", "sqlite://crm:secret@localhost/crm.db")),
        (P, 5, 10, "systems.crm.url: a SQLite database is a file: write sqlite:///PATH, without user, password"),
    ),
    case(
        "sql-missing-url",
        system(SQL_SYSTEM.replace("    url: sqlite:///crm.db\n", "")),
        (P, 4, 5, "systems.crm: missing required key 'url'"),
    ),
    case(
        "sql-lookback-without-cursor",
        system(SQL_SYSTEM.replace("cursor: updated_at}", "lookback: 5m}")),
        (P, 7, 54, "systems.crm.streams.contacts.lookback: lookback needs a cursor column"),
    ),
    case(
        "sql-query-that-writes",
        system(SQL_SYSTEM.replace("table: contacts,", "query: 'DELETE FROM contacts',")),
        (P, 7, 25, "systems.crm.streams.contacts.query: a query must be a read-only SELECT (or WITH … SELECT)"),
    ),
    case(
        "sql-neither-table-nor-query",
        system(SQL_SYSTEM.replace("table: contacts, ", "")),
        (P, 7, 17, "systems.crm.streams.contacts: missing required key 'table' (or 'query' for a stream that is only"),
    ),
    case(
        "sql-delete-mode-text",
        system(SQL_SYSTEM.replace("cursor: updated_at}", "delete: soft}")),
        (P, 7, 52, "systems.crm.streams.contacts.delete: 'soft' is not a delete mode: write 'hard' or {soft: COLUMN}"),
    ),
    case(
        "sql-delete-mode-empty",
        system(SQL_SYSTEM.replace("cursor: updated_at}", "delete: {}}")),
        (P, 7, 52, "systems.crm.streams.contacts.delete: write 'hard' or {soft: COLUMN}"),
    ),
    case(
        "sql-empty-key",
        system(SQL_SYSTEM.replace("key: id", "key: []")),
        (P, 7, 40, "systems.crm.streams.contacts.key: must not be empty"),
    ),
    case(
        "sql-batch-size-zero",
        system(SQL_SYSTEM + "    batch_size: 0\n"),
        (P, 8, 17, "systems.crm.batch_size: must be at least 1, got the number 0"),
    ),
]

REST_STREAM = "    streams:\n      items: {path: /items, key: id}\n"

REST_CASES = [
    case(
        "rest-base-url-without-scheme",
        system(REST_SYSTEM.replace("https://api.example.com", "api.example.com") + REST_STREAM),
        (P, 5, 15, "systems.api.base_url: expected an http:// or https:// URL"),
    ),
    case(
        "rest-auth-type-typo",
        system(REST_SYSTEM + "    auth: {type: beaer, token: abc}\n" + REST_STREAM),
        (
            P,
            6,
            18,
            "systems.api.auth.type: unknown type 'beaer': choose bearer, basic, header, query or oauth2 (did you",
        ),
    ),
    case(
        "rest-auth-without-type",
        system(REST_SYSTEM + "    auth: {token: abc}\n" + REST_STREAM),
        (P, 6, 11, "systems.api.auth: missing required key 'type' (one of: bearer, basic, header, query, oauth2)"),
    ),
    case(
        "rest-auth-missing-field",
        system(REST_SYSTEM + "    auth: {type: basic, username: brygga}\n" + REST_STREAM),
        (P, 6, 11, "systems.api.auth: missing required key 'password'"),
    ),
    case(
        "rest-oauth2-relative-token-url",
        system(
            REST_SYSTEM + "    auth: {type: oauth2, token_url: /token, client_id: a, client_secret: b}\n" + REST_STREAM
        ),
        (P, 6, 37, "systems.api.auth.token_url: expected an http:// or https:// URL"),
    ),
    case(
        "rest-pagination-type-typo",
        system(REST_SYSTEM + "    streams:\n      items: {path: /items, key: id, pagination: {type: pages}}\n"),
        (
            P,
            7,
            57,
            "systems.api.streams.items.pagination.type: unknown type 'pages': choose link_header, page, offset,",
        ),
    ),
    case(
        "rest-cursor-pagination-without-path",
        system(REST_SYSTEM + "    streams:\n      items: {path: /items, key: id, pagination: {type: cursor}}\n"),
        (P, 7, 50, "systems.api.streams.items.pagination: missing required key 'path'"),
    ),
    case(
        "rest-rate-limit",
        system(REST_SYSTEM + "    rate_limit: {requests: 0, per: 1 sec}\n" + REST_STREAM),
        (P, 6, 28, "systems.api.rate_limit.requests: must be at least 1, got the number 0"),
        (P, 6, 36, "systems.api.rate_limit.per: '1 sec' is not a duration"),
    ),
    case(
        "rest-rate-limit-without-requests",
        system(REST_SYSTEM + "    rate_limit: {per: 1s}\n" + REST_STREAM),
        (P, 6, 17, "systems.api.rate_limit: missing required key 'requests'"),
    ),
    case(
        "rest-timeout-not-a-duration",
        system(REST_SYSTEM + "    timeout: fast\n" + REST_STREAM),
        (P, 6, 14, "systems.api.timeout: 'fast' is not a duration: write a number with a unit"),
    ),
    case(
        "rest-timeout-zero",
        system(REST_SYSTEM + "    timeout: 0s\n" + REST_STREAM),
        (P, 6, 14, "systems.api.timeout: must be more than 0 seconds"),
    ),
    case(
        "rest-max-pages-zero",
        system(REST_SYSTEM + "    streams:\n      items: {path: /items, key: id, max_pages: 0}\n"),
        (P, 7, 49, "systems.api.streams.items.max_pages: must be at least 1, got the number 0"),
    ),
    case(
        "rest-write-method-typo",
        system(
            REST_SYSTEM
            + "    streams:\n      items: {path: /items, key: id, write: {create: {method: POTS, path: /items}}}\n"
        ),
        (
            P,
            7,
            63,
            "systems.api.streams.items.write.create.method: 'POTS' is not valid: choose GET, POST, PUT, PATCH or",
        ),
    ),
    case(
        "rest-total-names-neither",
        system(REST_SYSTEM + "    streams:\n      items: {path: /items, key: id, total: {}}\n"),
        (P, 7, 45, "systems.api.streams.items.total: give exactly one of header and path"),
    ),
    case(
        "rest-match-without-create",
        system(
            REST_SYSTEM + "    streams:\n      items: {path: /items, key: id, match: {param: email, field: email}}\n"
        ),
        (P, 7, 45, "systems.api.streams.items.match: match is used before a create: add write.create"),
    ),
    case(
        "rest-incremental-without-param",
        system(REST_SYSTEM + "    streams:\n      items: {path: /items, key: id, incremental: {cursor: updated_at}}\n"),
        (P, 7, 51, "systems.api.streams.items.incremental: missing required key 'param'"),
    ),
    case(
        "rest-param-given-as-a-list",
        system(REST_SYSTEM + "    streams:\n      items: {path: /items, key: id, params: {status: [a, b]}}\n"),
        (P, 7, 55, "systems.api.streams.items.params.status: expected text, a number or true/false, got a list"),
    ),
    case(
        "rest-concurrency-too-high",
        system(REST_SYSTEM + "    concurrency: 1000\n" + REST_STREAM),
        (P, 6, 18, "systems.api.concurrency: must be at most 256, got the number 1000"),
    ),
]

CSV_CASES = [
    case(
        "csv-unknown-encoding",
        system(CSV_SYSTEM + "      customers: {file: customers.csv, key: id, encoding: utf-9}\n"),
        (P, 7, 59, "systems.erp.streams.customers.encoding: unknown encoding 'utf-9': use one such as utf-8, cp1252"),
    ),
    case(
        "csv-delimiter-of-two-characters",
        system(CSV_SYSTEM + "      customers: {file: customers.csv, key: id, delimiter: ';;'}\n"),
        (P, 7, 60, "systems.erp.streams.customers.delimiter: ';;' must be exactly one character"),
    ),
    case(
        "csv-stream-without-file",
        system(CSV_SYSTEM + "      customers: {key: id}\n"),
        (P, 7, 18, "systems.erp.streams.customers: missing required key 'file'"),
    ),
    case(
        "csv-system-without-path",
        system(CSV_SYSTEM.replace("    path: ${ERP_FOLDER}\n", "") + "      customers: {file: c.csv, key: id}\n"),
        (P, 4, 5, "systems.erp: missing required key 'path'"),
    ),
]

WEBHOOK_CASES = [
    case(
        "webhook-without-secret",
        system(SQL_SYSTEM + "    webhook: {verify: standard, stream: contacts}\n"),
        (P, 8, 23, "systems.crm.webhook.verify: standard needs a secret: add 'secret: ${YOUR_SECRET}'"),
    ),
    case(
        "webhook-none-with-secret",
        system(SQL_SYSTEM + "    webhook: {verify: none, secret: abcd, stream: contacts}\n"),
        (P, 8, 37, "systems.crm.webhook.secret: verify: none checks no secret: remove it, or choose standard"),
    ),
    case(
        "webhook-unknown-stream",
        system(SQL_SYSTEM + "    webhook: {verify: token, secret: abcd, stream: contact}\n"),
        (P, 8, 52, "systems.crm.webhook.stream: no stream 'contact' in system crm: choose contacts (did you mean"),
    ),
    case(
        "webhook-max-body-not-a-size",
        system(SQL_SYSTEM + "    webhook: {verify: none, stream: contacts, max_body: lots}\n"),
        (P, 8, 57, "systems.crm.webhook.max_body: 'lots' is not a size: write a number of bytes or one with a unit"),
    ),
    case(
        "webhook-system-without-webhook-block",
        system("  shop:\n    connector: webhook\n    streams:\n      orders: {key: id}\n"),
        (P, 3, 3, "systems.shop: a webhook system needs a webhook block"),
    ),
    case(
        "webhook-stream-with-an-option-it-lacks",
        system(
            "  shop:\n    connector: webhook\n    streams:\n      orders: {key: id, table: orders}\n"
            "    webhook: {verify: none, stream: orders}\n"
        ),
        (P, 6, 25, "systems.shop.streams.orders.table: unknown key (valid keys: key)"),
    ),
]

SYNC_CASES = [
    case(
        "schedule-with-every-and-cron",
        sync("schedule: {every: 5m, cron: '*/5 * * * *'}\n"),
        (A, AFTER_SYNC, 11, "schedule: give exactly one of every and cron"),
    ),
    case(
        "schedule-with-neither",
        sync("schedule: {}\n"),
        (A, AFTER_SYNC, 11, "schedule: give exactly one of every and cron"),
    ),
    case(
        "schedule-bad-cron",
        sync("schedule: {cron: '61 * * * *'}\n"),
        (A, AFTER_SYNC, 18, "schedule.cron: '61 * * * *' is not a cron expression"),
    ),
    case(
        "schedule-cron-in-words",
        sync("schedule: {cron: every monday}\n"),
        (A, AFTER_SYNC, 18, "use five fields such as '*/5 * * * *'"),
    ),
    case(
        "schedule-every-not-a-duration",
        sync("schedule: {every: 5 minutes}\n"),
        (A, AFTER_SYNC, 19, "schedule.every: '5 minutes' is not a duration"),
    ),
    case(
        "schedule-every-below-a-second",
        sync("schedule: {every: 100ms}\n"),
        (A, AFTER_SYNC, 19, "schedule.every: run at most once a second: use 1s or more"),
    ),
    case(
        "field-with-two-sources",
        sync("  segment: {from: segment, value: smb}\n"),
        (A, AFTER_SYNC, 12, "fields.segment: give exactly one of from, value, template, lookup (found from and value)"),
    ),
    case(
        "field-without-a-source",
        sync("  segment: {type: string}\n"),
        (A, AFTER_SYNC, 12, "fields.segment: give exactly one of from, value, template, lookup (found none)"),
    ),
    case(
        "fields-empty",
        {A: "source: crm.contacts\ntarget: erp.customers\nfields: {}\n"},
        (A, 3, 9, "fields: must not be empty"),
    ),
    case(
        "fields-missing",
        {A: "source: crm.contacts\ntarget: erp.customers\n"},
        (A, 1, 1, "missing required key 'fields'"),
    ),
    case(
        "test-without-expectation",
        sync("tests:\n  - name: active contact\n    input: {id: 1}\n"),
        (A, AFTER_SYNC + 1, 5, "tests[0]: a test expects exactly one of output, skip: true, error"),
    ),
    case(
        "test-with-two-expectations",
        sync("tests:\n  - {name: archived, input: {id: 1}, skip: true, error: email}\n"),
        (A, AFTER_SYNC + 1, 5, "tests[0]: a test expects exactly one of output, skip: true, error"),
    ),
    case(
        "test-without-name",
        sync("tests:\n  - {input: {id: 1}, skip: true}\n"),
        (A, AFTER_SYNC + 1, 5, "tests[0]: missing required key 'name'"),
    ),
    case(
        "source-not-system-dot-stream",
        {A: SYNC.replace("crm.contacts", "contacts")},
        (A, 1, 9, "source: 'contacts' is not a stream: write SYSTEM.STREAM, such as crm.contacts"),
    ),
    case(
        "source-with-two-dots",
        {A: SYNC.replace("crm.contacts", "crm.contacts.v2")},
        (A, 1, 9, "source: 'crm.contacts.v2' is not a stream: write SYSTEM.STREAM"),
    ),
    case(
        "source-unknown-system",
        {A: SYNC.replace("crm.contacts", "crn.contacts")},
        (A, 1, 9, "source: no system 'crn': choose crm or erp (did you mean 'crm'?)"),
    ),
    case(
        "source-unknown-stream",
        {A: SYNC.replace("crm.contacts", "crm.contact")},
        (A, 1, 9, "source: system crm has no stream 'contact': choose contacts or users (did you mean 'contacts'?)"),
    ),
    case(
        "target-unknown-stream",
        {A: SYNC.replace("erp.customers", "erp.customer")},
        (A, 2, 9, "target: system erp has no stream 'customer': choose customers or users (did you mean 'customers'?)"),
    ),
    case(
        "lookup-unknown-sync",
        {
            A: SYNC + "  account_manager: {lookup: {sync: user, from: owner_id}}\n",
            "mappings/users.yaml": "source: crm.users\ntarget: erp.users\nfields:\n  user_no: id\n",
        },
        (A, AFTER_SYNC, 36, "fields.account_manager.lookup.sync: no sync named 'user' (did you mean 'users'?)"),
    ),
    case(
        "lookup-without-from",
        sync("  owner: {lookup: {sync: a}}\n"),
        (A, AFTER_SYNC, 19, "fields.owner.lookup: missing required key 'from'"),
    ),
    case("after-unknown-sync", sync("after: nothere\n"), (A, AFTER_SYNC, 8, "after: no sync named 'nothere'")),
    case("after-itself", sync("after: a\n"), (A, AFTER_SYNC, 8, "after: a sync cannot run after itself")),
    case(
        "after-cycle",
        {A: SYNC + "after: b\n", B: SYNC + "after: a\n"},
        (A, AFTER_SYNC, 8, "after: 'b' leads back to a: break the cycle"),
        (B, AFTER_SYNC, 8, "after: 'a' leads back to b: break the cycle"),
    ),
    case(
        "duplicate-sync-name",
        {A: "name: contacts\n" + SYNC, B: "name: contacts\n" + SYNC},
        (B, 1, 7, "name: duplicate sync name 'contacts' (also mappings/a.yaml:1:7): rename one"),
    ),
    case(
        "sync-name-equal-to-another-file-stem",
        {A: SYNC, B: "name: a\n" + SYNC},
        (B, 1, 7, "name: duplicate sync name 'a' (also mappings/a.yaml, named after its file): rename one"),
    ),
    case(
        "sync-name-with-a-space",
        {A: "name: crm contacts\n" + SYNC},
        (A, 1, 7, "name: 'crm contacts' is not a sync name: use letters, digits, '-', '_' and '.'"),
    ),
    case(
        "webhook-true-without-webhook-block",
        sync("webhook: true\n"),
        (
            A,
            AFTER_SYNC,
            10,
            "webhook: system crm has no webhook block for stream contacts: add one, or remove webhook: true",
        ),
    ),
    case(
        "webhook-true-on-another-stream",
        {
            P: MINIMAL_PROJECT.replace(
                "      users: {table: users, key: id}\n",
                "      users: {table: users, key: id}\n    webhook: {verify: token, secret: abcd, stream: users}\n",
            ),
            A: SYNC + "webhook: true\n",
        },
        (A, AFTER_SYNC, 10, "webhook: system crm has no webhook block for stream contacts"),
    ),
]

MAPPING_CASES = [
    case(
        "bad-path",
        sync("  sku: 'items[0.sku'\n"),
        (
            A,
            AFTER_SYNC,
            8,
            "fields.sku: bad path 'items[0.sku' at character 6: write names joined by dots, [N] for list",
        ),
    ),
    case(
        "bad-path-in-from",
        sync("  city: {from: address..city}\n"),
        (A, AFTER_SYNC, 16, "fields.city.from: bad path 'address..city' at character 8"),
    ),
    case(
        "bad-path-in-lookup",
        sync("  owner: {lookup: {sync: a, from: 'owner[.'}}\n"),
        (A, AFTER_SYNC, 35, "fields.owner.lookup.from: bad path 'owner[.'"),
    ),
    case(
        "bad-jinja-syntax",
        sync("  name: '{{ record.first_name }'\n"),
        (A, AFTER_SYNC, 9, "fields.name: bad expression: unexpected '}'"),
    ),
    case(
        "bad-jinja-syntax-in-template",
        sync("  name: {template: '{{ record.first_name '}\n"),
        (A, AFTER_SYNC, 20, "fields.name.template: bad expression: unexpected end of template"),
    ),
    case(
        "unknown-jinja-filter",
        sync("  name: '{{ record.first_name | shout }}'\n"),
        (A, AFTER_SYNC, 9, "fields.name: bad expression: no filter named 'shout' (did you mean 'sort'?)"),
    ),
    case(
        "bad-where-syntax",
        sync('where: "{{ record.status == }}"\n'),
        (A, AFTER_SYNC, 8, "where: bad expression: unexpected 'end of template'"),
    ),
    case(
        "where-unknown-filter",
        sync('where: "{{ record.status | shout }}"\n'),
        (A, AFTER_SYNC, 8, "where: bad expression: no filter named 'shout' (did you mean 'sort'?)"),
    ),
    case(
        "where-that-is-a-template",
        sync('where: "status {{ record.status }}"\n'),
        (A, AFTER_SYNC, 8, "where: a condition is one expression: write {{ record.status != 'archived' }}"),
    ),
    case(
        "unknown-transform",
        sync("  email: {from: email, transform: [strip, lowr]}\n"),
        (
            A,
            AFTER_SYNC,
            43,
            "fields.email.transform[1]: unknown transform 'lowr' (did you mean 'lower'?); built in: strip,",
        ),
    ),
    case(
        "transform-with-bad-argument",
        sync("  name: {from: name, transform: ['truncate:x']}\n"),
        (A, AFTER_SYNC, 34, "fields.name.transform[0]: 'x' is not a length: write a whole number, such as truncate:40"),
    ),
    case(
        "transform-without-its-argument",
        sync("  name: {from: name, transform: [truncate]}\n"),
        (A, AFTER_SYNC, 34, "fields.name.transform[0]: truncate needs an argument: write truncate:N"),
    ),
    case(
        "transform-with-an-argument-it-takes-not",
        sync("  name: {from: name, transform: ['strip:3']}\n"),
        (A, AFTER_SYNC, 34, "fields.name.transform[0]: strip takes no argument: write strip"),
    ),
    case(
        "transform-given-as-a-number",
        sync("  name: {from: name, transform: [5]}\n"),
        (A, AFTER_SYNC, 34, "fields.name.transform[0]: expected text, got the number 5"),
    ),
    case(
        "default-that-does-not-fit-its-type",
        sync("  credit: {from: credit, type: integer, default: lots}\n"),
        (
            A,
            AFTER_SYNC,
            50,
            "fields.credit.default: the default does not fit type integer: cannot convert 'lots' to integer",
        ),
    ),
]

TARGETS_PROJECT = (
    MINIMAL_PROJECT
    + """\
  reports:
    connector: sql
    url: sqlite:///reports.db
    streams:
      totals: {query: "SELECT region AS id, COUNT(*) AS n FROM orders GROUP BY region", key: id}
  api:
    connector: rest
    base_url: https://api.example.com
    streams:
      people: {path: /people, key: id}
      notes:
        path: /notes
        key: id
        write: {create: {method: POST, path: /notes}, update: {method: PUT, path: "/notes/{key}"}}
  hooks:
    connector: webhook
    streams: {events: {key: id}}
    webhook: {verify: none, stream: events}
"""
)
"""The minimal project and targets a sync cannot write to, or not in every mode."""


def into(target: str, extra: str = "") -> dict[str, str]:
    """A sync from ``erp.customers`` into ``target`` (line 2, value at column 9), ``extra`` from line 5."""
    return {P: TARGETS_PROJECT, A: f"source: erp.customers\ntarget: {target}\nfields:\n  id: customer_no\n{extra}"}


TARGET_CASES = [
    case(
        "target-sql-query-stream",
        into("reports.totals"),
        (A, 2, 9, "target: reports.totals: the stream is a read-only query: give it a table to write to"),
    ),
    case(
        "target-sql-mirror-without-delete",
        into("crm.contacts", "mode: mirror\n"),
        (A, 5, 7, "mode: mirror: mirror deletes the rows whose source record is gone, but the target stream has no"),
    ),
    case(
        "target-rest-stream-without-write",
        into("api.people"),
        (A, 2, 9, "target: api.people: the stream has no write block: add write: {create: …, update: …} to it"),
    ),
    case(
        "target-rest-mirror-without-delete",
        into("api.notes", "mode: mirror\n"),
        (A, 5, 7, "mode: mirror: mirror deletes records, but the target stream has no write.delete: add one"),
    ),
    case(
        "target-webhook-system",
        into("hooks.events"),
        (A, 2, 9, "target: hooks.events: a webhook system only sends events: nothing can be written to it"),
    ),
]

CASES = [
    *YAML_CASES,
    *INTERPOLATION_CASES,
    *UNKNOWN_KEY_CASES,
    *TYPE_CASES,
    *ENUM_CASES,
    *CONNECTOR_KIND_CASES,
    *PROJECT_CASES,
    *SQL_CASES,
    *REST_CASES,
    *CSV_CASES,
    *WEBHOOK_CASES,
    *SYNC_CASES,
    *MAPPING_CASES,
    *TARGET_CASES,
]


def found_issues(project: Path) -> list[tuple[str, int, int, str]]:
    """Every issue ``open_project`` reports, as (file relative to the project, line, column, message)."""
    with pytest.raises(ConfigError) as caught:
        open_project(project, ENVIRON)
    return [
        (issue.file.relative_to(project.parent).as_posix(), issue.line, issue.col, issue.message)
        for issue in caught.value.issues
    ]


@pytest.mark.parametrize(("files", "expected"), CASES)
def test_broken_config_is_reported_at_its_place(
    write_project: ProjectWriter, files: dict[str, str], expected: list[Expected]
) -> None:
    found = found_issues(write_project(files))

    # Show the whole message where the expected part is missing, so a failure reads as a diff.
    shown = [
        (file, line, col, want if want in message else message)
        for (file, line, col, message), (_, _, _, want) in zip(found, expected, strict=False)
    ]
    assert shown + found[len(expected) :] == expected


def test_the_table_is_large_and_every_case_is_distinct() -> None:
    ids = [param.id for param in CASES]

    assert len(ids) >= 45
    assert len(set(ids)) == len(ids)


def test_tab_indentation_says_to_use_spaces(write_project: ProjectWriter) -> None:
    found = found_issues(write_project({A: "source: crm.contacts\nfields:\n\tcustomer_no: id\n"}))

    assert [(line, col) for _, line, col, _ in found] == [(3, 1)]
    assert found[0][3].endswith("; indent with spaces, not tabs")
