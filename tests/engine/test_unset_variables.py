"""A system is never opened with an unset ``${VAR}``'s text in place of its value."""

from __future__ import annotations

import pytest

from app.config import Needs
from app.engine.connections import Connections
from app.engine.workspace import open_workspace
from app.errors import PermanentError
from tests.conftest import ProjectWriter

PROJECT = """\
version: 1
systems:
  shop:
    connector: rest
    base_url: https://shop.example.com
    auth: {type: bearer, token: "${SHOP_TOKEN}"}
    streams:
      orders: {path: /orders, key: id}
"""


async def test_a_system_with_an_unset_variable_is_not_opened_even_when_a_command_loaded_it(
    write_project: ProjectWriter,
) -> None:
    workspace = open_workspace(write_project({"brygga.yaml": PROJECT}), {}, Needs.testing(None))
    connections = Connections(workspace.project)

    with pytest.raises(PermanentError, match=r"^system shop: ") as refused:
        await connections.get("shop")

    assert str(refused.value).endswith(
        "/brygga.yaml:6:33: environment variable SHOP_TOKEN is not set: set it, or give a default with"
        " ${SHOP_TOKEN:-value}"
    )
    await connections.close()
