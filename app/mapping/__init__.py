"""Mappings: compiled from a sync's config into a function from a source record to a target record.

This is the mapping's public surface for the engine and the faces: they import from here, never from
its modules (``tests/test_layering.py``). Names are imported from their modules on first use (PEP 562),
so asking for one does not compile Jinja's or the expression parser's machinery. A new public name
goes into ``_MODULES`` and the ``TYPE_CHECKING`` imports below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.lazy_names import lazy_names

__all__ = [
    "CaseResult",
    "CompiledMapping",
    "Expression",
    "ExpressionSyntaxError",
    "FoundLookups",
    "KeyReader",
    "LookupResolver",
    "NoLookups",
    "PathSyntaxError",
    "compile_condition",
    "compile_mapping",
    "compile_path",
    "condition_truth",
    "mapped_hash",
    "parse_path",
    "record_hash",
    "run_tests",
    "show",
    "values_match",
]

if TYPE_CHECKING:
    from app.mapping.compiler import CompiledMapping, compile_mapping
    from app.mapping.conversions import condition_truth
    from app.mapping.expressions import Expression, ExpressionSyntaxError, compile_condition
    from app.mapping.hashing import mapped_hash, record_hash
    from app.mapping.keys import KeyReader
    from app.mapping.lookups import FoundLookups, LookupResolver, NoLookups
    from app.mapping.paths import PathSyntaxError, compile_path, parse_path
    from app.mapping.testing import CaseResult, run_tests, show, values_match

_MODULES = {
    "app.mapping.compiler": (
        "CompiledMapping",
        "compile_mapping",
    ),
    "app.mapping.conversions": ("condition_truth",),
    "app.mapping.expressions": (
        "Expression",
        "ExpressionSyntaxError",
        "compile_condition",
    ),
    "app.mapping.hashing": (
        "mapped_hash",
        "record_hash",
    ),
    "app.mapping.keys": ("KeyReader",),
    "app.mapping.lookups": (
        "FoundLookups",
        "LookupResolver",
        "NoLookups",
    ),
    "app.mapping.paths": (
        "PathSyntaxError",
        "compile_path",
        "parse_path",
    ),
    "app.mapping.testing": (
        "CaseResult",
        "run_tests",
        "show",
        "values_match",
    ),
}
__getattr__, __dir__ = lazy_names(__name__, _MODULES, globals())
