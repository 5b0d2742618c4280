"""Dependencies point one way: cli/api → engine → mapping, store, connectors → config.

Walks every import in the source tree and fails when an arrow points back up, when a connector reaches
into ``app`` past the SDK (``connectors.base``), when a face (CLI, API) goes round the engine, or when a
module reaches past another package's facade (``app.config``, ``app.store``, ``app.engine``,
``app.mapping``) into its modules (see docs/architecture.md).
"""

from __future__ import annotations

import ast
import importlib
import re
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
    "app.api": ("app.store", "app.mapping", "connectors"),
    "app.cli": ("app.store", "app.mapping", "connectors"),
}

SDK = ("connectors.base", "connectors.ordering", "connectors.testing")
"""The connector SDK: the only connector modules that import ``app`` (they are its public surface)."""

FACES_ROUND_THE_ENGINE = {
    ("app.cli.runs", "app.mapping"),
    ("app.cli.checks", "app.mapping"),
}
"""Faces that still import a layer under the engine for a tool of its own (showing a value, ``brygga test``):
known, listed so that none is added; remove a line when its import goes. (Types the engine
hands over are imported under ``TYPE_CHECKING``, which the walker passes.)"""


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


FACADES = ("app.config", "app.store", "app.engine", "app.mapping")
"""Packages whose ``__init__`` is their public surface: other packages import these names, never the
modules behind them, so a package can rename or split its modules without touching its callers."""


def _imports(path: Path, *, for_types: bool = False) -> set[str]:
    """Modules imported at run time (imports under ``if TYPE_CHECKING:`` only serve types), or with
    ``for_types`` every module imported, those for types included."""
    found: set[str] = set()
    pending: list[ast.AST] = [ast.parse(path.read_text(encoding="utf-8"))]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            pending.extend(node.body if for_types else node.orelse)
            if for_types:
                pending.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        pending.extend(ast.iter_child_nodes(node))
    return found


def wrong_imports(module: str, imported: set[str]) -> list[str]:
    """The imports of ``module`` that break the layering."""
    if _within(module, "examples"):  # a third-party connector: Brygga's SDK and nothing else of Brygga
        brygga = (name for name in imported if _within(name, "app") or _within(name, "connectors"))
        return sorted(name for name in brygga if name != "connectors.base")
    if _within(module, "connectors") and not any(_within(module, sdk) for sdk in SDK):
        return sorted(name for name in imported if _within(name, "app"))
    layer = next((name for name in FORBIDDEN if _within(module, name)), None)
    if layer is None:
        return []
    wrong = (name for name in imported for banned in FORBIDDEN[layer] if _within(name, banned))
    return sorted(name for name in wrong if (module, name) not in FACES_ROUND_THE_ENGINE)


def bypassed_facades(module: str, imported: set[str]) -> list[str]:
    """The imports of ``module`` that reach into another package's modules past its facade."""
    return sorted(
        name
        for name in imported
        for facade in FACADES
        if _within(name, facade) and name != facade and not _within(module, facade)
    )


def _sources() -> list[Path]:
    folders = [REPO / "app", REPO / "connectors", *sorted((REPO / "examples").glob("*/src"))]
    return sorted(p for folder in folders for p in folder.rglob("*.py"))


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


@pytest.mark.parametrize("source", _sources(), ids=lambda p: str(p.relative_to(REPO)))
def test_no_import_points_back_up(source: Path) -> None:
    module = _module_name(source)
    wrong = wrong_imports(module, _imports(source))
    assert wrong == [], f"{module} must not import {wrong}"


@pytest.mark.parametrize("source", _sources(), ids=lambda p: str(p.relative_to(REPO)))
def test_no_import_bypasses_a_facade(source: Path) -> None:
    module = _module_name(source)
    bypassing = bypassed_facades(module, _imports(source, for_types=True))
    facades = sorted({facade for name in bypassing for facade in FACADES if _within(name, facade)})
    assert bypassing == [], f"{module} imports {bypassing}: import from {facades} instead (add the name there)"


@pytest.mark.parametrize(
    ("module", "imported", "bypassing"),
    [
        ("app.cli.runs", {"app.engine.runner"}, ["app.engine.runner"]),
        ("app.api.routes.syncs", {"app.engine", "app.store.history"}, ["app.store.history"]),
        ("app.engine.one_way_run", {"app.mapping.hashing", "app.engine.planning"}, ["app.mapping.hashing"]),
        ("app.engine.one_way_run", {"app.mapping", "app.store", "app.config", "app.engine.planning"}, []),
        ("app.store.store", {"app.config.base", "app.store.history"}, ["app.config.base"]),
        ("connectors.base", {"app.config.systems", "app.errors"}, ["app.config.systems"]),
        ("app.mapping.compiler", {"app.mapping.paths", "app.records"}, []),
    ],
)
def test_a_bypassing_import_is_caught(module: str, imported: set[str], bypassing: list[str]) -> None:
    assert bypassed_facades(module, imported) == bypassing


def test_the_checker_catches_a_bypass_in_source(tmp_path: Path) -> None:
    """The whole check over a module's text, as the test above runs it over every source file: a bypass
    under ``TYPE_CHECKING`` counts too (a type imported from a module ties the caller to that module)."""
    source = tmp_path / "face.py"
    source.write_text(
        "from typing import TYPE_CHECKING\nfrom app.engine import Engine\nfrom app.engine.runner import RunOptions\n"
        "if TYPE_CHECKING:\n    from app.store.history import Story\n    from app.store import RunInfo\n"
    )

    assert bypassed_facades("app.cli.face", _imports(source, for_types=True)) == [
        "app.engine.runner",
        "app.store.history",
    ]
    assert bypassed_facades("app.cli.face", _imports(source)) == ["app.engine.runner"]


@pytest.mark.parametrize(
    ("module", "imported", "wrong"),
    [
        ("connectors.jsonl.connector", {"app.records"}, ["app.records"]),
        ("connectors.jsonl.connector", {"app.config", "connectors.base", "json"}, ["app.config"]),
        ("connectors.jsonl.connector", {"connectors.base", "connectors.jsonl.files"}, []),
        ("connectors.sql.writing", {"app.engine"}, ["app.engine"]),
        ("connectors.base", {"app.config", "app.errors"}, []),
        ("connectors.base", {"app.store"}, ["app.store"]),
        ("app.api.routes.syncs", {"app.store.history"}, ["app.store.history"]),
        ("app.cli.status", {"app.mapping"}, ["app.mapping"]),
        ("app.cli.status", {"connectors.base", "app.engine"}, ["connectors.base"]),
        ("app.api.routes.runs", {"app.engine", "app.config"}, []),
        ("examples.jsonl.src.brygga_jsonl.connector", {"connectors.base", "brygga_jsonl.files", "orjson"}, []),
        ("examples.jsonl.src.brygga_jsonl.connector", {"connectors.csv.files"}, ["connectors.csv.files"]),
        ("examples.jsonl.src.brygga_jsonl.files", {"app.records", "connectors.base"}, ["app.records"]),
    ],
)
def test_a_violating_import_is_caught(module: str, imported: set[str], wrong: list[str]) -> None:
    assert wrong_imports(module, imported) == wrong


def test_every_known_face_exception_is_still_there() -> None:
    """A listed exception whose import has gone is removed from the list, so the list only shrinks."""
    imports = {_module_name(source): _imports(source) for source in _sources()}
    gone = sorted(pair for pair in FACES_ROUND_THE_ENGINE if pair[1] not in imports.get(pair[0], set()))
    assert gone == []


def test_the_walker_sees_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from typing import TYPE_CHECKING\nfrom app.engine import open_workspace\n"
        "def f():\n    import app.cli\nif TYPE_CHECKING:\n    import app.api\n"
    )

    assert _imports(bad) == {"typing", "app.engine", "app.cli"}
    assert _imports(bad, for_types=True) == {"typing", "app.engine", "app.cli", "app.api"}


CYCLES_KNOWN: set[frozenset[str]] = set()
"""Import cycles still there, listed so that none is added (none today: the previews' loop went when
their row type moved to app/engine/preview_rows.py)."""


def import_cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The groups of modules that import each other, directly or round a loop (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[frozenset[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in graph.get(module, set()):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            group = {stack.pop()}
            while module not in group:
                group.add(stack.pop())
            if len(group) > 1:
                found.append(frozenset(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


@pytest.mark.parametrize("package", ["app.store", "app.engine"])
def test_no_import_cycle_within(package: str) -> None:
    """Not even for types: a part typed with its owner's class ties the two together (issue 23); it is
    typed with a protocol instead (``app/store/access.py``, ``app/engine/hosts.py``)."""
    modules = {_module_name(p): p for p in _sources() if _within(_module_name(p), package)}
    graph = {
        module: {name for name in _imports(path, for_types=True) if name in modules and name != package}
        for module, path in modules.items()
        if module != package
    }
    assert [cycle for cycle in import_cycles(graph) if cycle not in CYCLES_KNOWN] == []


def test_an_import_cycle_is_found() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}

    assert import_cycles(graph) == [frozenset({"a", "b", "c"})]


def test_the_architecture_doc_names_modules_that_exist() -> None:
    """docs/architecture.md's module map keeps up with renames: every file or folder it names is there."""
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:app|connectors)/[\w/]+(?:\.py|/))`", text))
    missing = sorted(path for path in named if "<" not in path and not (REPO / path).exists())
    assert named, "the module map names no module"
    assert missing == []


@pytest.mark.parametrize("facade", FACADES)
def test_no_facade_name_is_also_a_module_name(facade: str) -> None:
    """Importing ``app.engine.preview`` sets the package's attribute ``preview`` to that module: a function
    of the same name in the facade would then be shadowed by it, depending on what was imported first."""
    package = REPO / facade.replace(".", "/")
    modules = {path.stem for path in package.glob("*.py")} | {
        path.parent.name for path in package.glob("*/__init__.py")
    }
    assert sorted(set(importlib.import_module(facade).__all__) & modules) == []
