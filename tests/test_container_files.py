"""The Dockerfile and docker-compose.yml name commands and paths this project has (no Docker engine runs here)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

from tests.cli.helpers import run_brygga

REPO = Path(__file__).resolve().parents[1]


def _dockerfile() -> str:
    return (REPO / "Dockerfile").read_text(encoding="utf-8")


def _compose() -> dict[str, object]:
    loaded = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_the_dockerfile_copies_what_exists_and_runs_as_a_user() -> None:
    text = _dockerfile()
    copied = [part for line in re.findall(r"^COPY (.+)$", text, re.M) for part in line.split()[:-1]]

    assert copied and all((REPO / path).exists() for path in copied), copied
    assert re.search(r"^FROM python:3\.1[1-9]-slim", text, re.M)
    assert re.search(r"^USER brygga$", text, re.M)
    assert 'CMD ["brygga", "serve", "--host", "0.0.0.0", "--port", "8000"]' in text


def test_the_image_command_is_a_console_script_of_the_project() -> None:
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]

    assert "brygga" in scripts
    assert run_brygga("serve", "--help").returncode == 0


def test_compose_runs_brygga_with_a_postgresql_state_and_required_tokens() -> None:
    services = _compose()["services"]
    assert isinstance(services, dict)
    brygga, state = services["brygga"], services["state"]

    assert state["image"].startswith("postgres:")
    assert brygga["command"][:2] == ["brygga", "serve"] and "0.0.0.0" in brygga["command"]
    environment = brygga["environment"]
    assert environment["BRYGGA_STATE_URL"].startswith("postgresql://")
    assert ":?" in environment["BRYGGA_OPS_TOKEN"] and ":?" in environment["BRYGGA_ADMIN_TOKEN"]
    for volume in brygga["volumes"]:
        local = volume.split(":")[0]
        assert local == "./demo" or (REPO / local).exists(), volume


def test_the_project_compose_runs_reads_its_state_url_and_has_tokens(tmp_path: Path) -> None:
    text = (REPO / "brygga.yaml").read_text(encoding="utf-8")

    assert "${BRYGGA_STATE_URL:-sqlite:///demo/brygga.db}" in text
    assert "${BRYGGA_OPS_TOKEN" in text and "${BRYGGA_ADMIN_TOKEN" in text


def test_serve_refuses_every_address_without_tokens(tmp_path: Path) -> None:
    (tmp_path / "brygga.yaml").write_text("version: 1\nsystems: {}\n")

    result = run_brygga("serve", "--host", "0.0.0.0", "-c", str(tmp_path / "brygga.yaml"))

    assert result.returncode == 2
    assert "refusing to listen on 0.0.0.0 without api.tokens" in result.stderr
