"""A table of broken configs, each matched on its message and its exact FILE:LINE:COL.

Every case goes through :func:`open_workspace`, so config problems (app/config,
connectors/*/config.py) and mapping problems (paths, expressions, transforms)
are checked together, as ``brygga validate`` sees them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from _pytest.mark import ParameterSet

from app.config.kinds import installed_kinds
from app.engine.workspace import open_workspace
from app.errors import ConfigError
from tests.conftest import MINIMAL_PROJECT, ProjectWriter

Expected = tuple[str, int, int, str]
"""(file relative to the project, line, column, a part of the message)."""

P = "brygga.yaml"
A = "mappings/a.yaml"
B = "mappings/b.yaml"
ENVIRON = {
    "ERP_FOLDER": "erp",
    "WEBHOOK_TOKEN": "webhook-token-0123456789",
    "VIEWER_TOKEN": "viewer-token-0123456789",
    "OPERATOR_TOKEN": "operator-token-0123456789",
    "EMPTY": "",
    "SPACES": "    ",
    "SHORT": "abc123",
    "FROM_A_FILE": "token-read-from-a-file-0123\n",
    "NOT_UTF8": "caf\udce9",  # how Python holds environment bytes that are not UTF-8
    "WITH_NUL": "a\x00b",
}
"""Every case's environment: one value of each kind a hostile or careless environment gives."""

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
    case(
        "env-value-not-utf8",
        sync("description: ${NOT_UTF8}\n"),
        (A, AFTER_SYNC, 14, "environment variable NOT_UTF8 is not UTF-8 text (or holds a NUL character): set it"),
    ),
    case(
        "env-value-with-a-nul",
        system(SQL_SYSTEM.replace("sqlite:///crm.db", "sqlite:///${WITH_NUL}.db")),
        (P, 5, 10, "environment variable WITH_NUL is not UTF-8 text (or holds a NUL character)"),
    ),
    case(
        "env-reference-with-a-nul",
        sync('description: "${TEAM\\0}"\n'),
        (A, AFTER_SYNC, 14, "description: a NUL character (\\0) cannot be in config text"),
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
        (
            P,
            8,
            5,
            "systems.crm.pool: unknown key (valid keys: streams, batch_size, call_timeout, url, connector, webhook)",
        ),
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
        "decimal-mark-not-a-mark",
        sync("  credit: {from: credit, type: decimal, decimal_mark: ';'}\n"),
        (A, AFTER_SYNC, 55, "fields.credit.decimal_mark: ';' is not valid: choose . or ,"),
    ),
    case(
        "decimal-mark-without-a-number-type",
        sync("  credit: {from: credit, type: string, decimal_mark: ','}\n"),
        (
            A,
            AFTER_SYNC,
            54,
            "fields.credit.decimal_mark: only for type decimal, number or integer (the type is string)",
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

KINDS = installed_kinds()
"""The built-in kinds, and any other installed (the example connector, in CI)."""

CONNECTOR_KIND_CASES = [
    case(
        "unknown-connector-kind",
        system(SQL_SYSTEM.replace("connector: sql", "connector: sqll")),
        (
            P,
            4,
            16,
            f"systems.crm.connector: unknown connector kind 'sqll': choose {', '.join(KINDS[:-1])} or {KINDS[-1]} "
            "(did you mean",
        ),
    ),
    case(
        "missing-connector-kind",
        system(SQL_SYSTEM.replace("    connector: sql\n", "")),
        (P, 4, 5, f"systems.crm: missing required key 'connector' (one of: {', '.join(KINDS)})"),
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
        "state-url-port-not-a-number",
        settings("state: postgresql://postgres@127.0.0.1:xx/brygga\n"),
        (P, AFTER_MINIMAL, 8, "state: the port in this URL is not a number from 0 to 65535"),
    ),
    case(
        "state-url-port-beyond-65535",
        settings("state: postgresql://postgres@127.0.0.1:99999999/brygga\n"),
        (P, AFTER_MINIMAL, 8, "state: the port in this URL is not a number from 0 to 65535"),
    ),
    *(
        case(
            f"in-memory-state-{index}",
            settings(f'state: "{url}"\n'),
            (P, AFTER_MINIMAL, 8, "state: this is an in-memory SQLite database, forgotten when the process ends"),
        )
        for index, url in enumerate(
            [
                "sqlite://",
                "sqlite:///",
                "sqlite:///:memory:",
                "sqlite+aiosqlite:///:memory:",
                "sqlite:///%3Amemory%3A",
                "sqlite:///file::memory:?cache=shared&uri=true",
                "sqlite:///file:state?mode=memory&uri=true",
            ]
        )
    ),
    *(
        case(
            f"state-lock-timeout-{index}",
            settings(f'state: "sqlite:///brygga.db?timeout={given}"\n'),
            (P, AFTER_MINIMAL, 8, f"state: timeout='{given}' in the state URL is not a number of seconds between 0"),
        )
        for index, given in enumerate(["soon", "-1", "nan", "inf", "1e9", ""])
    ),
    case(
        "state-sqlite-with-two-slashes",
        settings("state: sqlite://brygga.db\n"),
        (P, AFTER_MINIMAL, 8, "state: a SQLite state database is sqlite:/// and its file, with three slashes"),
    ),
    case(
        "state-url-password-with-an-at-sign",
        settings("state: postgresql://brygga:p@ss@127.0.0.1:5432/brygga\n"),
        (P, AFTER_MINIMAL, 8, "state: the password in this URL holds a character URLs reserve (@, /, ?, #)"),
    ),
    case(
        "state-url-password-with-a-slash",
        settings("state: postgresql://brygga:p/ss@127.0.0.1/brygga\n"),
        (P, AFTER_MINIMAL, 8, "percent-encode those characters in it (@ as %40, / as %2F, ? as %3F, # as %23"),
    ),
    case(
        "system-url-password-with-an-at-sign",
        system(SQL_SYSTEM.replace("sqlite:///crm.db", "postgresql://crm:se@cret@db.example/crm")),
        (P, 5, 10, "systems.crm.url: the password in this URL holds a character URLs reserve"),
    ),
    case(
        "token-without-token",
        settings("api:\n  tokens:\n    - {name: ops, role: viewer}\n"),
        (P, AFTER_MINIMAL + 2, 7, "api.tokens[0]: missing required key 'token'"),
    ),
    case(
        "duplicate-token-name",
        settings(
            "api:\n  tokens:\n    - {name: ops, token: '${VIEWER_TOKEN}', role: viewer}\n"
            "    - {name: ops, token: '${OPERATOR_TOKEN}', role: operator}\n"
        ),
        (P, AFTER_MINIMAL + 3, 14, "api.tokens[1].name: duplicate token name 'ops': give each token its own name"),
    ),
    case(
        "alert-url-without-scheme",
        settings("alerts:\n  - {url: hooks.example.com/x}\n"),
        (P, AFTER_MINIMAL + 1, 11, "alerts[0].url: expected an http:// or https:// URL"),
    ),
    case(
        "alert-url-with-a-port-past-65535",
        settings("alerts:\n  - {url: 'https://hooks.example.com:99999/x'}\n"),
        (P, AFTER_MINIMAL + 1, 11, "alerts[0].url: the port in this URL is not a number from 0 to 65535"),
    ),
    case(
        "alert-on-given-as-a-string",
        settings("alerts:\n  - {url: 'https://hooks.example.com/x', on: failing}\n"),
        (P, AFTER_MINIMAL + 1, 46, "alerts[0].on: expected a list, got 'failing'"),
    ),
    case(
        "key-longer-than-yaml-reads",
        sync("  " + "k" * 1025 + ": id\n"),
        (A, AFTER_SYNC, 3, "this key is longer than 1024 characters: YAML keys are limited to 1024 characters"),
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
        "retention-zero-would-purge-a-running-sync",
        settings("retention: {runs: 0s}\n"),
        (
            P,
            AFTER_MINIMAL,
            19,
            "retention.runs: 0s is shorter than the least retention, 1h: a running sync's own runs and record log"
            " would be purged as they are written; keep them 1h or longer (30d is the default)",
        ),
    ),
    case(
        "retention-under-an-hour",
        settings("retention: {runs: 2h, records: 59m59s}\n"),
        (P, AFTER_MINIMAL, 32, "retention.records: 3599s is shorter than the least retention, 1h"),
    ),
    case(
        "retention-as-plain-seconds",
        settings("retention: {records: 60}\n"),
        (P, AFTER_MINIMAL, 22, "retention.records: 1m is shorter than the least retention, 1h"),
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
        "sql-url-port-beyond-65535",
        system(SQL_SYSTEM.replace("sqlite:///crm.db", "postgresql://ann@db:99999999/crm")),
        (P, 5, 10, "systems.crm.url: the port in this URL is not a number from 0 to 65535"),
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
        "sql-dotted-table-on-sqlite",
        system(SQL_SYSTEM.replace("table: contacts", "table: sales.q1")),
        (
            P,
            7,
            25,
            "systems.crm.streams.contacts.table: 'sales.q1' names table q1 in schema sales, and a SQLite database has "
            "no schema but main and temp: for one table whose name holds a dot, quote it (table: '\"sales.q1\"')",
        ),
    ),
    case(
        "sql-table-of-three-names",
        system(SQL_SYSTEM.replace("sqlite:///crm.db", "postgresql://u@h/db").replace("contacts,", "erp.sales.q1,")),
        (P, 7, 25, "systems.crm.streams.contacts.table: 'erp.sales.q1' is 3 names: write NAME or SCHEMA.NAME, and a"),
    ),
    case(
        "sql-table-quote-not-closed",
        system(SQL_SYSTEM.replace("table: contacts", "table: '\"sales.q1'")),
        (P, 7, 25, "systems.crm.streams.contacts.table: '\"sales.q1': a quote is not closed"),
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
        "rest-base-url-with-a-port-past-65535",
        system(REST_SYSTEM.replace("api.example.com", "127.0.0.1:99999") + REST_STREAM),
        (P, 5, 15, "systems.api.base_url: the port in this URL is not a number from 0 to 65535"),
    ),
    case(
        "rest-base-url-with-a-port-that-is-no-number",
        system(REST_SYSTEM.replace("api.example.com", "api.example.com:https") + REST_STREAM),
        (P, 5, 15, "systems.api.base_url: the port in this URL is not a number from 0 to 65535"),
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
        "rest-basic-username-with-a-colon",
        system(REST_SYSTEM + "    auth: {type: basic, username: 'us:er', password: secret-pw}\n" + REST_STREAM),
        (P, 6, 35, "systems.api.auth.username: a basic auth username cannot hold ':'"),
    ),
    case(
        "rest-bearer-token-empty",
        system(REST_SYSTEM + "    auth: {type: bearer, token: ''}\n" + REST_STREAM),
        (P, 6, 33, "systems.api.auth.token: the token is empty (a ${VAR} set to nothing gives that): set it to"),
    ),
    case(
        "rest-header-value-blank",
        system(REST_SYSTEM + "    auth: {type: header, name: X-Api-Key, value: '  '}\n" + REST_STREAM),
        (P, 6, 50, "systems.api.auth.value: the API key is only whitespace: set it to"),
    ),
    case(
        "rest-query-value-empty",
        system(REST_SYSTEM + "    auth: {type: query, name: api_key, value: ''}\n" + REST_STREAM),
        (P, 6, 47, "systems.api.auth.value: the API key is empty"),
    ),
    case(
        "rest-oauth2-client-secret-empty",
        system(
            REST_SYSTEM
            + "    auth: {type: oauth2, token_url: 'https://a.example/t', client_id: a, client_secret: ''}\n"
            + REST_STREAM
        ),
        (P, 6, 89, "systems.api.auth.client_secret: the client secret is empty"),
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
        "rest-records-path-unclosed-bracket",
        system(REST_SYSTEM + '    streams:\n      items: {path: /items, key: id, records: "data[0"}\n'),
        (P, 7, 47, "systems.api.streams.items.records: bad path 'data[0' at character 5: write names joined by dots"),
    ),
    case(
        "rest-total-path-stray-dot",
        system(REST_SYSTEM + "    streams:\n      items: {path: /items, key: id, total: {path: meta..total}}\n"),
        (P, 7, 52, "systems.api.streams.items.total.path: bad path 'meta..total' at character 5"),
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
        "rest-rate-limit-per-zero",
        system(REST_SYSTEM + "    rate_limit: {requests: 10, per: 0s}\n" + REST_STREAM),
        (P, 6, 37, "systems.api.rate_limit.per: must be more than 0 seconds"),
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
        "rest-get-path-placeholder-not-a-key-field",
        system(REST_SYSTEM + '    streams:\n      items: {path: /items, key: id, get: {path: "/items/{item}"}}\n'),
        (P, 7, 50, "systems.api.streams.items.get.path: '{item}' in '/items/{item}' is not a key field: use {key}, {i"),
    ),
    case(
        "rest-get-path-key-for-a-composite-key",
        system(REST_SYSTEM + '    streams:\n      items: {path: /items, key: [a, b], get: {path: "/items/{key}"}}\n'),
        (
            P,
            7,
            54,
            "systems.api.streams.items.get.path: {key} in '/items/{key}' stands for a one-field key; this key has"
            " several: use {a}, {b}",
        ),
    ),
    case(
        "rest-write-paths-placeholders",
        system(
            REST_SYSTEM
            + "    streams:\n      items:\n        path: /items/{key}\n        key: [order_no, line_no]\n"
            + '        write:\n          create: {method: POST, path: "/items/{key}"}\n'
            + "          update: {method: PATCH, path: '/orders/{order_no}/lines/{line_no}'}\n"
            + "          delete: {method: DELETE, path: '/orders/{order}/lines/{line_no}'}\n"
        ),
        (P, 8, 15, "systems.api.streams.items.path: the stream's `path` '/items/{key}' cannot have {…}: it lists"),
        (P, 11, 40, "systems.api.streams.items.write.create.path: `write.create` '/items/{key}' cannot have {…}"),
        (
            P,
            13,
            42,
            "systems.api.streams.items.write.delete.path: '{order}' in '/orders/{order}/lines/{line_no}' is not a key"
            " field: use {key}, {order_no}, {line_no}",
        ),
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
        "csv-encoding-not-of-text",
        system(CSV_SYSTEM + "      customers: {file: customers.csv, key: id, encoding: rot13}\n"),
        (P, 7, 59, "systems.erp.streams.customers.encoding: 'rot13' is not an encoding of text files: use one such"),
    ),
    case(
        "csv-encoding-of-domain-names",
        system(CSV_SYSTEM + "      customers: {file: customers.csv, key: id, encoding: idna}\n"),
        (P, 7, 59, "systems.erp.streams.customers.encoding: 'idna' is not an encoding of text files"),
    ),
    case(
        "csv-delimiter-of-two-characters",
        system(CSV_SYSTEM + "      customers: {file: customers.csv, key: id, delimiter: ';;'}\n"),
        (P, 7, 60, "systems.erp.streams.customers.delimiter: ';;' must be exactly one character"),
    ),
    case(
        "csv-delimiter-a-line-break",
        system(CSV_SYSTEM + '      customers: {file: customers.csv, key: id, delimiter: "\\n"}\n'),
        (P, 7, 60, "systems.erp.streams.customers.delimiter: cannot be a line break, which ends a row"),
    ),
    case(
        "csv-delimiter-and-quote-alike",
        system(CSV_SYSTEM + "      customers: {file: customers.csv, key: id, quotechar: ','}\n"),
        (P, 7, 18, "systems.erp.streams.customers: `delimiter` and `quotechar` are both ','"),
    ),
    case(
        "csv-file-empty",
        system(CSV_SYSTEM + '      customers: {file: "", key: id}\n'),
        (P, 7, 25, "systems.erp.streams.customers.file: is empty: name the file"),
    ),
    case(
        "csv-file-a-folder",
        system(CSV_SYSTEM + "      customers: {file: exports/.., key: id}\n"),
        (P, 7, 25, "systems.erp.streams.customers.file: 'exports/..' names a folder, not a file"),
    ),
    case(
        "xlsx-file-empty",
        system(CSV_SYSTEM.replace("connector: csv", "connector: xlsx") + '      customers: {file: " ", key: id}\n'),
        (P, 7, 25, "systems.erp.streams.customers.file: is empty: name the file"),
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
        system(SQL_SYSTEM + "    webhook: {verify: token, secret: '${WEBHOOK_TOKEN}', stream: contact}\n"),
        (P, 8, 66, "systems.crm.webhook.stream: no stream 'contact' in system crm: choose contacts (did you mean"),
    ),
    case(
        "webhook-max-body-not-a-size",
        system(SQL_SYSTEM + "    webhook: {verify: none, stream: contacts, max_body: lots}\n"),
        (P, 8, 57, "systems.crm.webhook.max_body: 'lots' is not a size: write a number of bytes or one with a unit"),
    ),
    case(
        "webhook-max-body-past-what-the-service-may-hold",
        system(SQL_SYSTEM + "    webhook: {verify: none, stream: contacts, max_body: 100GiB}\n"),
        (
            P,
            8,
            57,
            "systems.crm.webhook.max_body: 100GiB is more than the most max_body, 64MiB: the service holds each"
            " body whole while it checks it, so one sender could take its memory; allow 64MiB or less",
        ),
    ),
    case(
        "webhook-max-body-one-byte-past-64mib",
        system(SQL_SYSTEM + "    webhook: {verify: none, stream: contacts, max_body: 67108865}\n"),
        (P, 8, 57, "systems.crm.webhook.max_body: 67,108,865 bytes is more than the most max_body, 64MiB"),
    ),
    case(
        "webhook-max-body-zero",
        system(SQL_SYSTEM + "    webhook: {verify: none, stream: contacts, max_body: 0}\n"),
        (
            P,
            8,
            57,
            "systems.crm.webhook.max_body: 0 bytes is less than the least max_body, 1KiB: every delivery but the"
            " tiniest would be refused (413); allow 1KiB or more (1MiB is the default)",
        ),
    ),
    case(
        "webhook-max-body-under-1kib",
        system(SQL_SYSTEM + "    webhook: {verify: none, stream: contacts, max_body: 1000B}\n"),
        (P, 8, 57, "systems.crm.webhook.max_body: 1,000 bytes is less than the least max_body, 1KiB"),
    ),
    case(
        "webhook-fetch-from-a-rest-stream-without-get",
        system(REST_SYSTEM + REST_STREAM + "    webhook: {verify: none, stream: items, fetch: true}\n"),
        (P, 8, 51, "systems.api.webhook.fetch: items: the stream has no get, so no record can be fetched by key"),
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
        "schedule-cron-that-never-fires",
        sync("schedule: {cron: '0 6 30 2 *'}\n"),
        (A, AFTER_SYNC, 18, "schedule.cron: '0 6 30 2 *' is not a cron expression (it never fires: no month it names"),
    ),
    case(
        "schedule-cron-weekday-past-sunday",
        sync("schedule: {cron: '0 6 * * 1-8'}\n"),
        (A, AFTER_SYNC, 18, "schedule.cron: '0 6 * * 1-8' is not a cron expression (weekday '8' is not 0-7"),
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
        "test-expecting-an-empty-error",
        sync("tests:\n  - {name: no email, input: {id: 1}, error: ' '}\n"),
        (A, AFTER_SYNC + 1, 45, "tests[0].error: an empty error matches every error, so the test could not fail"),
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
    case(
        "test-lookups-unknown-sync",
        sync("tests:\n  - {name: t, input: {id: 1}, lookups: {nosuch: {1: X}}, output: {customer_no: 1}}\n"),
        (A, AFTER_SYNC + 1, 49, "tests[0].lookups.nosuch: no sync named 'nosuch'"),
    ),
    case(
        "a-boolean-for-a-count",
        sync("retry: {attempts: true, later_runs: false}\n"),
        (A, AFTER_SYNC, 19, "retry.attempts: expected a whole number, got true"),
        (A, AFTER_SYNC, 37, "retry.later_runs: expected a whole number, got false"),
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
                "      users: {table: users, key: id}\n"
                "    webhook: {verify: token, secret: '${WEBHOOK_TOKEN}', stream: users}\n",
            ),
            A: SYNC + "webhook: true\n",
        },
        (A, AFTER_SYNC, 10, "webhook: system crm has no webhook block for stream contacts"),
    ),
]

BROKEN_SYSTEM_CASES = [
    case(
        "a-sync-of-a-broken-source-system-is-still-checked",
        {
            P: MINIMAL_PROJECT.replace("    url: sqlite:///crm.db\n", ""),
            A: "source: crm.contactz\ntarget: erp.customer\nfields:\n  customer_no: id\n  sku: 'items[0.sku'\n",
        },
        (P, 4, 5, "systems.crm: missing required key 'url'"),
        (A, 1, 9, "source: system 'crm' has errors (above); its stream 'contactz' could not be checked"),
        (A, 2, 9, "target: system erp has no stream 'customer': choose customers or users"),
        (A, 5, 8, "fields.sku: bad path 'items[0.sku' at character 6"),
    ),
    case(
        "a-sync-of-a-broken-target-system-is-still-checked",
        {
            P: MINIMAL_PROJECT.replace("    path: erp\n", ""),
            A: SYNC + "mode: mirror\nafter: nothing\n",
        },
        (P, 10, 5, "systems.erp: missing required key 'path'"),
        (A, 2, 9, "target: system 'erp' has errors (above); its stream 'customers' could not be checked"),
        (A, AFTER_SYNC + 1, 8, "after: no sync named 'nothing'"),
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
        "where-with-a-character-jinja-cannot-read",
        sync('where: "{{ $status == 1 }}"\n'),
        (A, AFTER_SYNC, 8, "where: bad expression: unexpected char '$' at 1"),
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
        "target-rest-match-field-the-sync-does-not-write",
        {
            **into("api.contacts", "  name: name\nmode: insert\n"),
            P: TARGETS_PROJECT.replace(
                "      people: {path: /people, key: id}\n",
                "      people: {path: /people, key: id}\n      contacts:\n        {path: /contacts, key: id,"
                " match: {param: email, field: email}, write: {create: {method: POST, path: /contacts}}}\n",
            ),
        },
        (A, 2, 9, "target: api.contacts: the stream's match.field 'email' is not a field this sync writes, so no"),
    ),
    case(
        "target-webhook-system",
        into("hooks.events"),
        (A, 2, 9, "target: hooks.events: a webhook system only sends events: nothing can be written to it"),
    ),
]

ALIAS_BOMB = "".join(
    f"{name}: &{name} [{', '.join([f'*{previous}' if previous else 'lol'] * 9)}]\n"
    for previous, name in zip(["", *"abcdefgh"], "abcdefghi", strict=True)
)
"""The "billion laughs": nine lines whose last alias stands for 9⁹ (387 million) values."""

DEEP = 5000
"""Far deeper than Python's stack would survive, were the nesting not refused."""

HOSTILE_YAML_CASES = [
    case(
        "a-null-key-in-the-project-file",
        settings("~: 1\n"),
        (P, AFTER_MINIMAL, 1, "key null (~, null or nothing before the colon): a key here is a name: write one"),
    ),
    case(
        "a-null-key-in-a-sync",
        sync("retry:\n  attempts: 2\n  ~: 3\n"),
        (A, AFTER_SYNC + 2, 3, "retry: key null (~, null or nothing before the colon): a key here is a name"),
    ),
    case(
        "a-number-key-in-a-sync",
        sync("1.5: x\n"),
        (A, AFTER_SYNC, 1, "key 1.5: a key here is a name (text): write it in quotes if it is one, such as '1.5'"),
    ),
    case(
        "alias-bomb",
        sync(ALIAS_BOMB),
        (A, AFTER_SYNC + 5, 8, "the alias *e takes this file past 100,000 values (each alias repeats all that its"),
    ),
    case(
        "alias-bomb-in-the-project-file",
        settings(ALIAS_BOMB),
        (P, AFTER_MINIMAL + 5, 8, "the alias *e takes this file past 100,000 values"),
    ),
    case(
        "recursive-alias",
        sync("description: &loop [*loop]\n"),
        (A, AFTER_SYNC, 21, "the alias *loop is inside its own anchor &loop (line 5), so it would repeat forever"),
    ),
    case(
        "recursive-alias-through-a-merge",
        sync("tests:\n  - &case {name: x, skip: true, input: {<<: *case}}\n"),
        (A, AFTER_SYNC + 1, 45, "the alias *case is inside its own anchor &case (line 6)"),
    ),
    case(
        "recursive-alias-as-the-whole-file",
        {A: "&file\nsource: *file\n"},
        (A, 2, 9, "the alias *file is inside its own anchor &file (line 1)"),
    ),
    case(
        "undefined-alias",
        sync("description: *nothing\n"),
        (A, AFTER_SYNC, 14, "YAML syntax error: found undefined alias 'nothing'"),
    ),
    case(
        "deep-flow-nesting",
        sync("description: " + "[" * DEEP + "]" * DEEP + "\n"),
        (A, AFTER_SYNC, 113, "nested more than 100 levels deep: no config needs that many"),
    ),
    case(
        "deep-block-nesting",
        sync("tests:\n" + "".join(" " * level + "- \n" for level in range(150))),
        (A, AFTER_SYNC + 100, 100, "nested more than 100 levels deep"),
    ),
    case(
        "deep-nesting-through-an-alias",
        sync("x: &deep " + "[" * 60 + "]" * 60 + "\ny: " + "[" * 45 + "*deep" + "]" * 45 + "\n"),
        (A, AFTER_SYNC + 1, 49, "with what *deep holds, this is nested more than 100 levels deep"),
    ),
    case(
        "nul-byte-in-the-file",
        sync("description: a\x00b\n"),
        (A, AFTER_SYNC, 15, "a NUL character (U+0000) cannot be in a YAML file: remove it"),
    ),
    case(
        "control-character-in-the-file",
        sync("description: red \x1b[31m alert\n"),
        (A, AFTER_SYNC, 18, "the control character U+001B cannot be in a YAML file"),
    ),
    case(
        "nul-escape-in-a-value",
        sync('description: "a\\0b"\n'),
        (A, AFTER_SYNC, 14, "description: a NUL character (\\0) cannot be in config text: remove it"),
    ),
    case(
        "nul-escape-in-a-path",
        system(CSV_SYSTEM.replace("${ERP_FOLDER}", '"erp\\0/../../etc"') + "      customers: {file: c.csv, key: id}\n"),
        (P, 5, 11, "systems.erp.path: a NUL character (\\0) cannot be in config text"),
    ),
    case(
        "nul-escape-in-a-field-name",
        sync('  "customer\\0no": id\n'),
        (A, AFTER_SYNC, 3, "fields: key 'customer\\0no': a NUL character (\\0) cannot be in config text"),
    ),
    case(
        "lone-surrogate-escape",
        sync('description: "caf\\udce9"\n'),
        (A, AFTER_SYNC, 14, "description: \\udce9 is half of a UTF-16 pair, not a character: write the character"),
    ),
    case(
        "python-object-tag",
        sync("description: !!python/object/apply:os.system [echo hi]\n"),
        (A, AFTER_SYNC, 14, "description: the tag !!python/object/apply:os.system is not supported: config values"),
    ),
    case(
        "custom-tag",
        sync("description: !vault secret/crm\n"),
        (A, AFTER_SYNC, 14, "description: the tag !vault is not supported"),
    ),
    case(
        "binary-tag",
        sync("description: !!binary aGVsbG8=\n"),
        (A, AFTER_SYNC, 14, "description: the tag !!binary is not supported"),
    ),
    case(
        "set-tag-on-a-mapping",
        sync("retry: !!set {attempts: 2}\n"),
        (A, AFTER_SYNC, 8, "retry: the tag !!set is not supported"),
    ),
    case(
        "int-tag-on-text",
        sync("retry: {attempts: !!int three}\n"),
        (A, AFTER_SYNC, 19, "retry.attempts: 'three' is not a valid !!int: fix the value or remove the tag"),
    ),
    case(
        "bool-tag-on-text",
        sync("webhook: !!bool maybe\n"),
        (A, AFTER_SYNC, 10, "webhook: 'maybe' is not a valid !!bool"),
    ),
    case(
        "number-of-5000-digits",
        sync("retry: {attempts: " + "9" * 5000 + "}\n"),
        (A, AFTER_SYNC, 19, "retry.attempts: a number of more than 4,300 digits: write it in quotes, as text"),
    ),
    case(
        "hexadecimal-number-of-5000-digits",
        sync("retry: {attempts: 0x" + "f" * 5000 + "}\n"),
        (A, AFTER_SYNC, 19, "retry.attempts: a number of more than 4,300 digits"),
    ),
    case(
        "number-beyond-64-bits",
        sync("retry: {attempts: 18446744073709551616}\n"),
        (A, AFTER_SYNC, 19, "retry.attempts: must be at most 100, got the number 18446744073709551616"),
    ),
    case(
        "batch-size-beyond-64-bits",
        system(SQL_SYSTEM + "    batch_size: 99999999999999999999999\n"),
        (P, 8, 17, "systems.crm.batch_size: must be at most 100000, got the number 99999999999999999999999"),
    ),
    case(
        "number-beyond-floats",
        sync("retry: {attempts: 1e999}\n"),
        (A, AFTER_SYNC, 19, "retry.attempts: input should be a finite number"),
    ),
    case("empty-project-file", {P: ""}, (P, 1, 1, "missing required key 'systems'")),
    case("project-file-of-only-a-comment", {P: "# to do\n"}, (P, 1, 1, "missing required key 'systems'")),
    case(
        "project-file-that-is-a-list",
        {P: "- version: 1\n- systems: {}\n"},
        (P, 1, 1, "expected a mapping of keys at the top of the file"),
    ),
    case(
        "unknown-top-level-key",
        settings("frobnicate: true\n"),
        (P, AFTER_MINIMAL, 1, "frobnicate: unknown key (valid keys: version, state, api, systems, mappings,"),
    ),
    case(
        "systems-left-empty",
        {P: "version: 1\nsystems:\n"},
        (P, 2, 9, "systems: expected a mapping (key: value), got nothing (null)"),
    ),
    case(
        "tab-indentation-in-the-project",
        {P: MINIMAL_PROJECT.replace("    connector: csv", "\tconnector: csv")},
        (P, 10, 1, "found character '\\t' that cannot start any token"),
    ),
]

NAME_CASES = [
    case(
        "sync-name-with-a-slash",
        {A: "name: crm/contacts\n" + SYNC},
        (A, 1, 7, "name: 'crm/contacts' is not a sync name: use letters, digits, '-', '_' and '.'"),
    ),
    case(
        "sync-name-that-climbs-up",
        {A: "name: ../../etc/passwd\n" + SYNC},
        (A, 1, 7, "name: '../../etc/passwd' is not a sync name"),
    ),
    case(
        "sync-file-name-that-is-no-sync-name",
        {"mappings/crm contacts.yaml": SYNC},
        (
            "mappings/crm contacts.yaml",
            1,
            1,
            "the file name 'crm contacts' is no sync name, and a sync without name: is named after its file: rename",
        ),
    ),
    case(
        "stream-name-with-a-space",
        system(SQL_SYSTEM.replace("contacts:", "all contacts:")),
        (P, 7, 7, "systems.crm.streams.all contacts: not a stream name: use letters, digits, '-' and '_'"),
    ),
    case(
        "sync-name-longer-than-a-state-database-indexes",
        {A: f"name: {'n' * 201}\n" + SYNC},
        (A, 1, 7, "name: a sync name has 200 characters at most, this one 201"),
    ),
    case(
        "system-name-longer-than-a-state-database-indexes",
        system(SQL_SYSTEM.replace("crm:", f"{'s' * 201}:")),
        (P, 3, 3, "systems: a system name has 200 characters at most, this one 201"),
    ),
    case(
        "system-name-with-a-line-end",
        system(SQL_SYSTEM.replace("crm:", '"crm\\n":')),
        (P, 3, 3, "systems: 'crm\\n' is not a system name: use letters, digits, '-' and '_' (no dots or spaces)"),
    ),
    case(
        "stream-name-with-a-line-end",
        system(SQL_SYSTEM.replace("contacts:", '"contacts\\n":')),
        (P, 7, 7, "systems.crm.streams.contacts\\n: not a stream name: use letters, digits, '-' and '_'"),
    ),
]

DURATION_CASES = [
    case(
        "duration-infinite",
        sync("schedule: {every: .inf}\n"),
        (A, AFTER_SYNC, 19, "schedule.every: a duration can be at most 36500d (a hundred years)"),
    ),
    case(
        "duration-not-a-number",
        sync("schedule: {every: .nan}\n"),
        (A, AFTER_SYNC, 19, "schedule.every: .nan is not a duration: write a number with a unit"),
    ),
    case(
        "duration-beyond-64-bits",
        sync("retry: {backoff: 99999999999999999999999999999}\n"),
        (A, AFTER_SYNC, 18, "retry.backoff: a duration can be at most 36500d (a hundred years)"),
    ),
    case(
        "duration-in-days-beyond-dates",
        settings("retention: {runs: 99999999999d}\n"),
        (P, AFTER_MINIMAL, 19, "retention.runs: a duration can be at most 36500d"),
    ),
    case(
        "duration-negative",
        sync("retry: {max_backoff: -1}\n"),
        (A, AFTER_SYNC, 22, "retry.max_backoff: a duration cannot be negative"),
    ),
    case(
        "duration-negative-with-a-unit",
        sync("schedule: {every: -5m}\n"),
        (A, AFTER_SYNC, 19, "schedule.every: '-5m' is not a duration"),
    ),
    case(
        "duration-zero",
        sync("schedule: {every: 0s}\n"),
        (A, AFTER_SYNC, 19, "schedule.every: run at most once a second: use 1s or more"),
    ),
    case(
        "every-error-at-once-beside-a-misspelt-mode",  # the parts' own checks are not left for a second round
        sync("  name: {from: a, value: b}\nmode: upsrt\nschedule: {every: 0s}\n"),
        (A, AFTER_SYNC, 9, "fields.name: give exactly one of from, value, template, lookup"),
        (A, AFTER_SYNC + 1, 7, "mode: 'upsrt' is not valid: choose upsert, insert, update or mirror"),
        (A, AFTER_SYNC + 2, 19, "schedule.every: run at most once a second: use 1s or more"),
    ),
    case(
        "mapping-errors-beside-a-misspelt-mode",  # transforms and expressions are the compiler's: checked too
        sync('  name: {from: a, transform: [lowr]}\n  full: "{{ record.a ~ }}"\nmode: upsrt\n'),
        (A, AFTER_SYNC, 31, "fields.name.transform[0]: unknown transform 'lowr' (did you mean 'lower'?)"),
        (A, AFTER_SYNC + 1, 9, "fields.full: bad expression"),
        (A, AFTER_SYNC + 2, 7, "mode: 'upsrt' is not valid"),
    ),
    case(
        "unknown-streams-beside-a-misspelt-mode",  # the references too: they showed once the mode was mended
        {A: "source: crm.contact\ntarget: erpp.customers\nfields:\n  customer_no: id\nmode: upsrt\n"},
        (A, 1, 9, "source: system crm has no stream 'contact': choose contacts or users (did you mean 'contacts'?)"),
        (A, 2, 9, "target: no system 'erpp'"),
        (A, 5, 7, "mode: 'upsrt' is not valid"),
    ),
    case(
        "two-way-mapping-errors-beside-a-misspelt-winner",
        {
            A: "two_way: {a: crm.contacts, b: erp.customers, wins: c}\n"
            "where: {a: '{{ record.x == }}'}\n"
            "to_b: {customer_no: id, name: {from: n, transform: [uper]}}\n"
            "to_a: {id: customer_no}\n"
        },
        (A, 1, 52, "two_way.wins: 'c' is not valid"),
        (A, 2, 12, "where.a: bad expression"),
        (A, 3, 53, "to_b.name.transform[0]: unknown transform 'uper' (did you mean 'upper'?)"),
    ),
]

MAPPINGS_PATTERN_CASES = [
    case(
        "mappings-outside-the-project",
        settings("mappings: ['../shared/*.yaml']\n"),
        (P, AFTER_MINIMAL, 12, "mappings[0]: '../shared/*.yaml' is outside the project's folder ("),
    ),
    case(
        "mappings-climbing-out-through-a-folder",
        settings("mappings: ['mappings/../../*.yaml']\n"),
        (P, AFTER_MINIMAL, 12, "mappings[0]: 'mappings/../../*.yaml' is outside the project's folder"),
    ),
    case(
        "mappings-absolute",
        settings("mappings: ['/etc/**/*.conf']\n"),
        (P, AFTER_MINIMAL, 12, "mappings[0]: '/etc/**/*.conf' is outside the project's folder"),
    ),
    case(
        "mappings-the-project-folder-itself",
        settings("mappings: ['.']\n"),
        (P, AFTER_MINIMAL, 12, "mappings[0]: '.' is a folder: name the files in it, such as ./*.yaml"),
    ),
    case(
        "mappings-a-folder",
        {**settings("mappings: [mappings/]\n"), A: SYNC},
        (P, AFTER_MINIMAL, 12, "mappings[0]: 'mappings/' is a folder: name the files in it, such as mappings/*.yaml"),
    ),
    case(
        "mappings-empty-pattern",
        settings("mappings: ['']\n"),
        (P, AFTER_MINIMAL, 12, "mappings[0]: an empty pattern: write one such as mappings/*.yaml"),
    ),
    case(
        "mappings-the-project-file-itself",
        settings("mappings: [./brygga.yaml]\n"),
        (P, AFTER_MINIMAL, 12, "mappings[0]: './brygga.yaml' is this project file itself, not a sync file"),
    ),
    case(
        "mappings-an-unclosed-set",
        settings("mappings: ['mappings/[a-']\n"),
        (P, AFTER_MINIMAL, 12, "mappings[0]: 'mappings/[a-' opens a set of characters with '[' at 10 that no ']'"),
    ),
]

SECRET_ADVICE = 'such as the output of python3 -c "import secrets; print(secrets.token_hex(16))"'

SECRET_CASES = [
    case(
        "webhook-token-empty",
        system(SQL_SYSTEM + "    webhook: {verify: token, secret: '${EMPTY}', stream: contacts}\n"),
        (
            P,
            8,
            38,
            "systems.crm.webhook.secret: the secret is empty (0 characters; a ${VAR} set to nothing gives that):"
            f" use at least 16 random characters, {SECRET_ADVICE}",
        ),
    ),
    case(
        "webhook-github-secret-empty",
        system(SQL_SYSTEM + "    webhook: {verify: github, secret: '', stream: contacts}\n"),
        (P, 8, 39, "systems.crm.webhook.secret: the secret is empty (0 characters"),
    ),
    case(
        "webhook-secret-of-spaces",
        system(SQL_SYSTEM + "    webhook: {verify: token, secret: '${SPACES}', stream: contacts}\n"),
        (P, 8, 38, "systems.crm.webhook.secret: the secret is only whitespace (4 characters): use at least 16"),
    ),
    case(
        "webhook-secret-with-a-line-end",
        system(SQL_SYSTEM + "    webhook: {verify: github, secret: '${FROM_A_FILE}', stream: contacts}\n"),
        (P, 8, 39, "systems.crm.webhook.secret: the secret begins or ends with whitespace (a line end from a file?)"),
    ),
    case(
        "webhook-secret-given-as-a-number",
        system(SQL_SYSTEM + "    webhook: {verify: token, secret: 1234567890123456789, stream: contacts}\n"),
        (P, 8, 38, "systems.crm.webhook.secret: expected text, got a number (for text, write it in quotes)"),
    ),
    case(
        "webhook-standard-secret-empty",
        system(SQL_SYSTEM + "    webhook: {verify: standard, secret: '${EMPTY}', stream: contacts}\n"),
        (P, 8, 41, "systems.crm.webhook.secret: the secret is empty (0 characters"),
    ),
    case(
        "webhook-standard-secret-not-base64",
        system(SQL_SYSTEM + "    webhook: {verify: standard, secret: 'whsec_not-base64!', stream: contacts}\n"),
        (P, 8, 41, "systems.crm.webhook.secret: a Standard Webhooks secret is whsec_ followed by base64"),
    ),
    case(
        "webhook-secret-is-an-api-token",
        {
            P: MINIMAL_PROJECT.replace(
                "      users: {table: users, key: id}\n",
                "      users: {table: users, key: id}\n"
                "    webhook: {verify: token, secret: '${OPERATOR_TOKEN}', stream: users}\n",
            )
            + "api:\n  tokens:\n    - {name: admin, token: '${OPERATOR_TOKEN}', role: operator}\n",
        },
        (
            P,
            9,
            38,
            "systems.crm.webhook.secret: the same value as api.tokens[0].token ('admin', operator): whoever sends"
            " crm's webhooks could use the API with it; give each its own",
        ),
    ),
    case(
        "api-token-empty",
        settings("api:\n  tokens:\n    - {name: ops, token: '${EMPTY}', role: viewer}\n"),
        (P, AFTER_MINIMAL + 2, 26, "api.tokens[0].token: the token is empty (0 characters; a ${VAR} set to nothing"),
    ),
    case(
        "api-token-of-spaces",
        settings("api:\n  tokens:\n    - {name: ops, token: '${SPACES}', role: viewer}\n"),
        (P, AFTER_MINIMAL + 2, 26, "api.tokens[0].token: the token is only whitespace (4 characters)"),
    ),
    case(
        "api-token-with-a-line-end",
        settings("api:\n  tokens:\n    - {name: ops, token: '${FROM_A_FILE}', role: viewer}\n"),
        (P, AFTER_MINIMAL + 2, 26, "api.tokens[0].token: the token begins or ends with whitespace"),
    ),
    case(
        "api-token-with-an-accented-letter",
        settings("api:\n  tokens:\n    - {name: ops, token: 'operator-tokén-0123456789', role: viewer}\n"),
        (
            P,
            AFTER_MINIMAL + 2,
            26,
            "api.tokens[0].token: the token holds a character outside ASCII at character 13: it is sent in an HTTP"
            " header (Authorization: Bearer), which carries only ASCII letters, digits, punctuation and spaces,"
            " so no client could send it",
        ),
    ),
    case(
        "api-token-with-a-euro-sign",
        settings("api:\n  tokens:\n    - {name: ops, token: '€€€€-operator-0123456789', role: viewer}\n"),
        (P, AFTER_MINIMAL + 2, 26, "api.tokens[0].token: the token holds a character outside ASCII at character 1"),
    ),
    case(
        "api-token-with-a-line-end-inside",
        settings('api:\n  tokens:\n    - {name: ops, token: "operator-token\\n0123456789", role: viewer}\n'),
        (P, AFTER_MINIMAL + 2, 26, "api.tokens[0].token: the token holds a control character (a line end or tab?)"),
    ),
    case(
        "api-token-with-a-nul-inside",
        settings('api:\n  tokens:\n    - {name: ops, token: "operator-token\\x7f0123456789", role: viewer}\n'),
        (P, AFTER_MINIMAL + 2, 26, "api.tokens[0].token: the token holds a control character"),
    ),
    case(
        "webhook-bearer-token-not-ascii",
        system(SQL_SYSTEM + "    webhook: {verify: token, secret: 'webhook-tokén-0123456789', stream: contacts}\n"),
        (P, 8, 38, "systems.crm.webhook.secret: the secret holds a character outside ASCII at character 12"),
    ),
    case(
        "api-token-for-two-roles",
        settings(
            "api:\n  tokens:\n    - {name: ops, token: '${VIEWER_TOKEN}', role: viewer}\n"
            "    - {name: admin, token: '${VIEWER_TOKEN}', role: operator}\n"
        ),
        (
            P,
            AFTER_MINIMAL + 3,
            28,
            "api.tokens[1].token: the same token as api.tokens[0] ('ops', viewer): a token stands for one holder"
            " with one role, so give each entry its own",
        ),
    ),
    case(
        "api-token-twice-for-one-role",
        settings(
            "api:\n  tokens:\n    - {name: ann, token: '${VIEWER_TOKEN}', role: viewer}\n"
            "    - {name: bo, token: '${VIEWER_TOKEN}', role: viewer}\n"
        ),
        (P, AFTER_MINIMAL + 3, 25, "api.tokens[1].token: the same token as api.tokens[0] ('ann', viewer)"),
    ),
]

SHORT_SECRET_CASES = [
    case(
        "webhook-github-secret-short",
        system(SQL_SYSTEM + "    webhook: {verify: github, secret: '${SHORT}', stream: contacts}\n"),
        (
            P,
            8,
            39,
            "systems.crm.webhook.secret: the secret is 6 characters long, fewer than the 16 that put it past"
            f" guessing: use 16 or more random characters, {SECRET_ADVICE}",
        ),
    ),
    case(
        "webhook-standard-key-short",
        system(SQL_SYSTEM + "    webhook: {verify: standard, secret: whsec_c2hvcnQta2V5, stream: contacts}\n"),
        (
            P,
            8,
            41,
            "systems.crm.webhook.secret: the key in this Standard Webhooks secret is 9 bytes, fewer than the 16 that"
            " put it past guessing: use the secret the sender gives, or make one with python3 -c",
        ),
    ),
    case(
        "api-token-short",
        settings("api:\n  tokens:\n    - {name: ops, token: hunter2, role: viewer}\n"),
        (
            P,
            AFTER_MINIMAL + 2,
            26,
            "api.tokens[0].token: the token is 7 characters long, fewer than the 16 that put it past guessing",
        ),
    ),
]
"""Secrets and tokens that work but could be guessed: warnings at their place, not errors (SPEC 8 refuses
only empty ones)."""

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
    *BROKEN_SYSTEM_CASES,
    *TARGET_CASES,
    *HOSTILE_YAML_CASES,
    *NAME_CASES,
    *DURATION_CASES,
    *MAPPINGS_PATTERN_CASES,
    *SECRET_CASES,
]


def found_issues(project: Path) -> list[tuple[str, int, int, str]]:
    """Every issue ``open_workspace`` reports, as (file relative to the project, line, column, message)."""
    with pytest.raises(ConfigError) as caught:
        open_workspace(project, ENVIRON)
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


@pytest.mark.parametrize(("files", "expected"), SHORT_SECRET_CASES)
def test_a_short_secret_is_a_warning_at_its_place(
    write_project: ProjectWriter, files: dict[str, str], expected: list[Expected]
) -> None:
    project = open_workspace(write_project(files), ENVIRON).project

    found = [
        (issue.file.relative_to(project.file.parent).as_posix(), issue.line, issue.col, issue.message)
        for issue in project.warnings
    ]
    assert [
        (file, line, col, want if want in message else message)
        for (file, line, col, message), (*_, want) in zip(found, expected, strict=True)
    ] == expected


def test_the_table_is_large_and_every_case_is_distinct() -> None:
    ids = [param.id for param in CASES]

    assert len(ids) >= 45
    assert len(set(ids)) == len(ids)


def test_tab_indentation_says_to_use_spaces(write_project: ProjectWriter) -> None:
    found = found_issues(write_project({A: "source: crm.contacts\nfields:\n\tcustomer_no: id\n"}))

    assert [(line, col) for _, line, col, _ in found] == [(3, 1)]
    assert found[0][3].endswith("; indent with spaces, not tabs")


def test_a_signing_key_may_hold_any_character(write_project: ProjectWriter) -> None:
    """A signing secret is an HMAC key, never sent in a header: UTF-8 letters and symbols are fine in it."""
    webhook = "    webhook: {verify: github, secret: 'signing-secrét-€-0123456789', stream: contacts}\n"

    project = open_workspace(write_project(system(SQL_SYSTEM + webhook)), ENVIRON).project

    assert project.warnings == []


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://brygga:p%40ss%2Fw%3Fo%23rd@127.0.0.1:5432/brygga",
        "postgresql://brygga:pa:ss@127.0.0.1/brygga",
        "postgresql://brygga@127.0.0.1/brygga?application_name=a@b",
        "sqlite:///state@home.db",
    ],
)
def test_a_url_read_one_way_is_no_error(write_project: ProjectWriter, url: str) -> None:
    """Percent-encoded passwords, a ':' in one, an '@' after the host or in a file name: no false alarm."""
    open_workspace(write_project(settings(f"state: '{url}'\n")), ENVIRON)


_ADAPTERS_MADE = """
import pydantic
made = []
real = pydantic.TypeAdapter.__init__
pydantic.TypeAdapter.__init__ = lambda self, *args, **kwargs: made.append(args) or real(self, *args, **kwargs)
import app.config.broken_syncs
print(len(made))
"""


def test_the_validators_of_broken_sync_files_are_made_only_for_a_broken_file() -> None:
    """Every command that loads a project imports the module; its two validators took ~20 ms to make (issue 22)."""
    result = subprocess.run([sys.executable, "-c", _ADAPTERS_MADE], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "0"


@pytest.mark.parametrize("retention", ["{runs: 1h, records: 1h}", "{runs: 36500d, records: 3600}", "{runs: 5200w}"])
def test_a_retention_from_an_hour_to_a_hundred_years_is_no_error(write_project: ProjectWriter, retention: str) -> None:
    open_workspace(write_project(settings(f"retention: {retention}\n")), ENVIRON)


@pytest.mark.parametrize("size", ["1KiB", "1024", "64MiB", "67108864", "25MB"])
def test_a_max_body_from_1kib_to_64mib_is_no_error(write_project: ProjectWriter, size: str) -> None:
    webhook = f"    webhook: {{verify: none, stream: contacts, max_body: {size}}}\n"
    project = open_workspace(write_project(system(SQL_SYSTEM + webhook)), ENVIRON).project

    assert project.systems["crm"].webhook is not None
