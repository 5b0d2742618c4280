"""Dependencies point one way: cli/api → engine → mapping, store, connectors → config.

Walks every import in the source tree and fails when an arrow points back up.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Each layer, and the layers it must never import.
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "app.config": ("app.mapping", "app.engine", "app.store", "app.api", "app.cli", "connectors"),
    "app.mapping": ("app.engine", "app.store", "app.api", "app.cli", "connectors"),
    "app.store": ("app.engine", "app.mapping", "app.api", "app.cli", "connectors"),
    "connectors": ("app.engine", "app.mapping", "app.store", "app.api", "app.cli"),
    "app.engine": ("app.api", "app.cli"),
    "app.errors": ("app.config", "app.mapping", "app.engine", "app.store", "app.api", "app.cli", "connectors"),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Modules imported at run time (imports under ``if TYPE_CHECKING:`` only serve types)."""
    found: set[str] = set()
    pending: list[ast.AST] = [ast.parse(path.read_text(encoding="utf-8"))]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            pending.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        pending.extend(ast.iter_child_nodes(node))
    return found


def _sources() -> list[Path]:
    return sorted(p for folder in ("app", "connectors") for p in (REPO / folder).rglob("*.py"))


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


@pytest.mark.parametrize("source", _sources(), ids=lambda p: str(p.relative_to(REPO)))
def test_no_import_points_back_up(source: Path) -> None:
    module = _module_name(source)
    layer = next((name for name in FORBIDDEN if _within(module, name)), None)
    if layer is None:
        return
    wrong = sorted(
        imported for imported in _imports(source) for banned in FORBIDDEN[layer] if _within(imported, banned)
    )
    assert wrong == [], f"{module} ({layer}) must not import {wrong}"


def test_the_walker_sees_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from typing import TYPE_CHECKING\nfrom app.engine.project import open_project\n"
        "def f():\n    import app.cli\nif TYPE_CHECKING:\n    import app.api\n"
    )

    assert _imports(bad) == {"typing", "app.engine.project", "app.cli"}
