"""The service's settings: defaults, each overridable by a ``BRYGGA_<FIELD>`` variable, checked."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from app.engine.settings import ServiceSettings
from tests.cli.helpers import run_brygga
from tests.conftest import MINIMAL_PROJECT


def test_each_setting_comes_from_its_variable_and_command_line_options_win() -> None:
    environ = {
        "BRYGGA_FAILING_AFTER": "2",
        "BRYGGA_BACKOFF": "1s",
        "BRYGGA_STALLED_AFTER": "2s",
        "BRYGGA_WATCH_EVERY": "1s",
        "BRYGGA_LEASE_TTL": "3s",
        "BRYGGA_SHUTDOWN_GRACE": "3s",
        "BRYGGA_RETENTION_EVERY": "5m",
        "BRYGGA_PORT": "9000",
        "BRYGGA_HEADER_TIMEOUT": "2s",
        "BRYGGA_BODY_TIMEOUT": "1m",
        "BRYGGA_MAX_CONNECTIONS": "50",
        "BRYGGA_MAX_WEBHOOK_BYTES": "32MiB",
        "BRYGGA_ALLOWED_HOSTS": " brygga.example.com,, proxy:8443 ",
        "BRYGGA_LOG_LEVEL": "Debug",
        "BRYGGA_LOG_FORMAT": "JSON",
        "BRYGGA_CONFIG": "elsewhere.yaml",  # found by find_project_file, not here
    }

    settings = ServiceSettings.from_environment(environ, port=8123, host=None)

    assert settings == ServiceSettings(
        config=Path("brygga.yaml"),
        port=8123,
        failing_after=2,
        backoff=timedelta(seconds=1),
        stalled_after=timedelta(seconds=2),
        watch_every=timedelta(seconds=1),
        lease_ttl=timedelta(seconds=3),
        shutdown_grace=timedelta(seconds=3),
        retention_every=timedelta(minutes=5),
        header_timeout=timedelta(seconds=2),
        body_timeout=timedelta(minutes=1),
        max_connections=50,
        max_webhook_bytes=32 * 1024 * 1024,
        allowed_hosts=("brygga.example.com", "proxy:8443"),
        log_level="debug",
        log_format="json",
    )
    assert ServiceSettings.from_environment({}) == ServiceSettings()


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("BRYGGA_FAILING_AFTER", "two", r"^BRYGGA_FAILING_AFTER: invalid literal"),
        ("BRYGGA_BACKOFF", "soon", r"^BRYGGA_BACKOFF: "),
        ("BRYGGA_LEASE_TTL", "0s", r"^BRYGGA_LEASE_TTL: must be longer than 0s"),
        ("BRYGGA_WATCH_EVERY", "0s", r"^BRYGGA_WATCH_EVERY: must be longer than 0s"),
        ("BRYGGA_FAILING_AFTER", "0", r"^BRYGGA_FAILING_AFTER: must be 1 or more, not 0"),
        ("BRYGGA_HEADER_TIMEOUT", "0s", r"^BRYGGA_HEADER_TIMEOUT: must be longer than 0s"),
        ("BRYGGA_BODY_TIMEOUT", "never", r"^BRYGGA_BODY_TIMEOUT: "),
        ("BRYGGA_MAX_CONNECTIONS", "0", r"^BRYGGA_MAX_CONNECTIONS: must be 1 or more, not 0"),
        ("BRYGGA_LOG_FORMAT", "xml", r"^BRYGGA_LOG_FORMAT: must be text or json, not 'xml'$"),
        ("BRYGGA_LOG_LEVEL", "loud", r"^BRYGGA_LOG_LEVEL: must be debug, info, warning or error, not 'loud'$"),
    ],
)
def test_a_variable_that_does_not_parse_or_is_out_of_range_is_named(variable: str, value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ServiceSettings.from_environment({variable: value})


def test_settings_made_in_code_are_checked_too() -> None:
    with pytest.raises(ValueError, match=r"^stalled_after: must be longer than 0s"):
        ServiceSettings(stalled_after=timedelta(0))


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("BRYGGA_PORT", "", r"^BRYGGA_PORT: invalid literal '': write a whole number such as 3$"),
        ("BRYGGA_HOST", " ", r"^BRYGGA_HOST: is empty: write an address to listen on, such as 127.0.0.1$"),
        ("BRYGGA_BACKOFF", "", r"^BRYGGA_BACKOFF: '' is not a duration"),
        ("BRYGGA_LOG_LEVEL", "", r"^BRYGGA_LOG_LEVEL: must be debug, info, warning or error, not ''$"),
        ("BRYGGA_LOG_LEVEL", "info\0", r"^BRYGGA_LOG_LEVEL: 'info\\x00' has a character that is not printable"),
        ("BRYGGA_HOST", "127.0.0.1\nX-Forged: 1", r"^BRYGGA_HOST: '127.0.0.1\\nX-Forged: 1' has a character"),
        ("BRYGGA_ALLOWED_HOSTS", "proxy\udcff", r"^BRYGGA_ALLOWED_HOSTS: 'proxy\\udcff' has a character"),
        ("BRYGGA_FAILING_AFTER", "9" * 5000, r"^BRYGGA_FAILING_AFTER: '9{40}'… is too large: write a whole number"),
        ("BRYGGA_MAX_CONNECTIONS", "12345678901", r"^BRYGGA_MAX_CONNECTIONS: must be 1000000000 or less"),
        ("BRYGGA_PORT", "65536", r"^BRYGGA_PORT: must be 65535 or less, not 65536$"),
        ("BRYGGA_PORT", "-1", r"^BRYGGA_PORT: must be 0 or more, not -1$"),
        ("BRYGGA_MAX_CONNECTIONS", "-5", r"^BRYGGA_MAX_CONNECTIONS: must be 1 or more, not -5$"),
        ("BRYGGA_LEASE_TTL", "99999999d", r"^BRYGGA_LEASE_TTL: a duration can be at most 36500d"),
        ("BRYGGA_SHUTDOWN_GRACE", "-5", r"^BRYGGA_SHUTDOWN_GRACE: '-5' is not a duration: write a number with a unit"),
        ("BRYGGA_BODY_TIMEOUT", "1e400", r"^BRYGGA_BODY_TIMEOUT: "),
        ("BRYGGA_MAX_WEBHOOK_BYTES", "0", r"^BRYGGA_MAX_WEBHOOK_BYTES: must be more than 0 bytes and at most 1TiB"),
        ("BRYGGA_MAX_WEBHOOK_BYTES", "2TiB", r"^BRYGGA_MAX_WEBHOOK_BYTES: must be more than 0 bytes and at most 1TiB"),
        ("BRYGGA_MAX_WEBHOOK_BYTES", "lots", r"^BRYGGA_MAX_WEBHOOK_BYTES: 'lots' is not a size: write a number of"),
        ("BRYGGA_MAX_WEBHOOK_BYTES", "-1MiB", r"^BRYGGA_MAX_WEBHOOK_BYTES: '-1MiB' is not a size"),
        ("BRYGGA_MAX_WEBHOOK_BYTES", "9" * 5000, r"^BRYGGA_MAX_WEBHOOK_BYTES: '9{40}'… is not a size"),
    ],
)
def test_hostile_values_are_refused_saying_what_to_write(variable: str, value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as refused:
        ServiceSettings.from_environment({variable: value})

    assert str(refused.value).isprintable()  # a NUL or a line break in a value never reaches the log raw


def test_every_bad_variable_is_named_at_once_and_other_variables_are_not_settings() -> None:
    environ = {"BRYGGA_PORT": "x", "BRYGGA_LOG_FORMAT": "xml", "BRYGGA_REQUIRE_SERVICES": "1", "brygga_port": "1"}

    with pytest.raises(ValueError) as refused:
        ServiceSettings.from_environment(environ)

    assert str(refused.value).splitlines() == [
        "BRYGGA_PORT: invalid literal 'x': write a whole number such as 3",
        "BRYGGA_LOG_FORMAT: must be text or json, not 'xml'",
    ]
    assert ServiceSettings.from_environment({"brygga_port": "1", "BRYGGA_REQUIRE_SERVICES": "1"}) == ServiceSettings()


def test_settings_made_in_code_read_no_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRYGGA_PORT", "9000")

    assert ServiceSettings().port == 8000
    assert ServiceSettings.from_environment().port == 9000
    assert ServiceSettings.from_environment(port=8123).port == 8123


def test_a_bad_value_given_in_code_or_on_the_command_line_is_named_by_its_field() -> None:
    with pytest.raises(ValueError, match=r"^port: must be 65535 or less, not 70000$"):
        ServiceSettings.from_environment({"BRYGGA_PORT": "9000"}, port=70000)
    with pytest.raises(ValueError, match=r"^host: is empty"):
        ServiceSettings(host="")


def test_brygga_status_with_bad_variables_exits_2_naming_each_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "brygga.yaml").write_text(MINIMAL_PROJECT, encoding="utf-8")
    env = {"BRYGGA_STALLED_AFTER": "0s", "BRYGGA_FAILING_AFTER": "1\nforged log line", "BRYGGA_PORT": "-1"}

    result = run_brygga("status", cwd=tmp_path, env=env)

    assert result.returncode == 2
    assert "BRYGGA_FAILING_AFTER: '1\\nforged log line' has a character that is not printable" in result.stderr
    assert "BRYGGA_STALLED_AFTER: must be longer than 0s" in result.stderr
    assert "BRYGGA_PORT: must be 0 or more, not -1" in result.stderr
    assert "\nforged log line" not in result.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["brygga.yaml"]  # no state database made
