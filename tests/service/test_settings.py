"""The service's settings: defaults, each overridable by a ``BRYGGA_<FIELD>`` variable, checked."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from app.engine.settings import ServiceSettings


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
