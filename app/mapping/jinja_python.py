"""Translate common Jinja2 expressions into plain Python source.

Running a Jinja2 expression through the sandbox costs microseconds per call;
most mapping expressions are simple (``record.first_name ~ ' ' ~
record.last_name``, ``record.price * 1.25``, ``'%05d' | format(record.id)``).
Those are translated, from Jinja's own parse tree, into Python that calls the
very helpers Jinja's runtime would call (the sandboxed environment's
``getattr``/``getitem``, its filters and tests, its undefined objects), so the
result is the same, only faster. Anything else (calls, slices, loops,
context filters) raises :class:`Untranslatable` and is left to the sandbox.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment

from app.config import closest
from app.mapping import bounds
from app.mapping.python_code import Namespace, python_literal


class Untranslatable(Exception):
    """This expression uses a form the translator does not cover; use the sandbox."""


class UnknownName(Exception):
    """A filter or test that does not exist: the expression can never run."""


_BINARY = {
    nodes.Add: "+", nodes.Sub: "-", nodes.Mul: "*", nodes.Div: "/",
    nodes.FloorDiv: "//", nodes.Mod: "%", nodes.Pow: "**",
}  # fmt: skip
_UNARY = {nodes.Neg: "-", nodes.Pos: "+"}


def against_flat_constant(node: nodes.Compare) -> bool:
    """Whether ``node`` is one comparison with a constant text, number, boolean or null on one side
    (``status == 'active'``, ``total > 100``): then it costs no more than the other side's size in memory
    (a list is equal to no text, is not ordered against one, and ``'a' in list`` compares each item once
    with ``'a'``), so its operands need no sizing as written out (:func:`bounds.compared`), which tripled
    the cost of the commonest conditions."""
    if len(node.ops) != 1:
        return False
    sides = (node.expr, node.ops[0].expr)
    return any(isinstance(side, nodes.Const) and bounds.is_flat(side.value) for side in sides)


def _read_as_it_is(node: nodes.Node, variable: str) -> bool:
    """Whether ``node`` is a constant text, number or null, the record, or a field of it by constant names
    (``record.address.city``, ``record['id']``): values as the source gave them, in which no list occurs twice."""
    while isinstance(node, nodes.Getattr | nodes.Getitem):
        if isinstance(node, nodes.Getitem) and not isinstance(node.arg, nodes.Const):
            return False
        node = node.node
    if isinstance(node, nodes.Name):
        return node.name == variable
    return isinstance(node, nodes.Const) and bounds.is_flat(node.value)


_COMPARE = {"eq": "==", "ne": "!=", "gt": ">", "gteq": ">=", "lt": "<", "lteq": "<=", "in": "in", "notin": "not in"}
_CONSTANT_TYPES = (str, int, float, bool, type(None))
_LITERAL_BITS = 64
"""Integers up to this size are written into the source as they are; larger ones are bound as values."""
_MISSING = object()


class Translator:
    """Translates one expression tree over the variable ``variable``.

    :param environment: the sandboxed environment whose semantics to keep
    :param namespace: where helper values go
    """

    def __init__(self, environment: SandboxedEnvironment, namespace: Namespace, variable: str = "record") -> None:
        self.environment = environment
        self.namespace = namespace
        self.variable = variable
        self._names: dict[str, str] = {}
        self.counts_work = False
        """Whether the source calls a sized operation (:mod:`app.mapping.bounds`): then each evaluation must
        start its count of work, as the sandbox's does."""

    def _helper(self, key: str, value: Any) -> str:
        if key not in self._names:
            self._names[key] = self.namespace.add(value, "j")
        return self._names[key]

    def expression(self, node: nodes.Node) -> str:
        """Python source for ``node``; :raises Untranslatable: for forms not covered."""
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:
            raise Untranslatable(type(node).__name__)
        source: str = method(node)
        return source

    def _Name(self, node: nodes.Name) -> str:
        if node.name != self.variable or node.ctx != "load":
            raise Untranslatable(f"variable {node.name}")
        return self.variable

    def _Const(self, node: nodes.Const) -> str:
        """The constant exactly (:func:`python_literal`); a large integer as a bound value, not digits to parse."""
        value = node.value
        if not isinstance(value, _CONSTANT_TYPES):
            raise Untranslatable("constant")
        literal = python_literal(value)
        if literal is None or (isinstance(value, int) and value.bit_length() > _LITERAL_BITS):
            return self.namespace.add(value, "c")
        return literal

    def _Getattr(self, node: nodes.Getattr) -> str:
        getattr_ = self._helper("getattr", self._fast_getattr())
        if isinstance(node.node, nodes.Name) and node.node.name == self.variable:
            # The record is a mapping: a present field is the answer; only a missing
            # one needs Jinja's rules (a method of that name, else undefined).
            missing = self._helper("missing", _MISSING)
            record = self.variable
            return (  # the variable may be no mapping: a webhook's body, for delete_when, may be a list
                f"(_w if {record}.__class__ is dict and (_w := {record}.get({node.attr!r}, {missing})) is not {missing}"
                f" else {getattr_}({record}, {node.attr!r}))"
            )
        return f"{getattr_}({self.expression(node.node)}, {node.attr!r})"

    def _Getitem(self, node: nodes.Getitem) -> str:
        if isinstance(node.arg, nodes.Slice):
            raise Untranslatable("slice")
        getitem = self._helper("getitem", self.environment.getitem)
        return f"{getitem}({self.expression(node.node)}, {self.expression(node.arg)})"

    def _Concat(self, node: nodes.Concat) -> str:
        parts = ", ".join(self.expression(child) for child in node.nodes)
        return f"{self._helper('str_join', _str_join)}(({parts},))"

    def _BinExpr(self, node: nodes.BinExpr) -> str:
        operator = _BINARY.get(type(node))
        if operator is None:
            raise Untranslatable("operator")
        left, right = self.expression(node.left), self.expression(node.right)
        if node.operator in bounds.BINARY:  # sized first, by the very function the sandbox calls
            self.counts_work = True
            return f"{self._helper(f'binary:{node.operator}', bounds.BINARY[node.operator])}({left}, {right})"
        if node.operator in self.environment.intercepted_binops:
            raise Untranslatable("operator")
        return f"({left} {operator} {right})"

    _Add = _Sub = _Mul = _Div = _FloorDiv = _Mod = _Pow = _BinExpr

    def _UnaryExpr(self, node: nodes.UnaryExpr) -> str:
        operator = _UNARY.get(type(node))
        if operator is None or node.operator in self.environment.intercepted_unops:
            raise Untranslatable("operator")
        return f"({operator}{self.expression(node.node)})"

    _Neg = _Pos = _UnaryExpr

    def _Not(self, node: nodes.Not) -> str:
        return f"(not {self.expression(node.node)})"

    def _And(self, node: nodes.And) -> str:
        return f"({self.expression(node.left)} and {self.expression(node.right)})"

    def _Or(self, node: nodes.Or) -> str:
        return f"({self.expression(node.left)} or {self.expression(node.right)})"

    def _Compare(self, node: nodes.Compare) -> str:
        if against_flat_constant(node):
            parts = [self.expression(node.expr), _COMPARE[node.ops[0].op], self.expression(node.ops[0].expr)]
            return f"({' '.join(parts)})"
        compared = self._helper("compared", bounds.compared)  # sized first, as the sandbox does
        parts = [f"{compared}({self.expression(node.expr)})"]
        for operand in node.ops:
            parts.append(_COMPARE[operand.op])
            parts.append(f"{compared}({self.expression(operand.expr)})")
        return f"({' '.join(parts)})"

    def _CondExpr(self, node: nodes.CondExpr) -> str:
        if node.expr2 is None:
            otherwise = f"{self._helper('undefined', self.environment.undefined)}()"
        else:
            otherwise = self.expression(node.expr2)
        return f"({self.expression(node.expr1)} if {self.expression(node.test)} else {otherwise})"

    def _List(self, node: nodes.List) -> str:
        return "[" + ", ".join(self.expression(item) for item in node.items) + "]"

    def _Tuple(self, node: nodes.Tuple) -> str:
        return "(" + "".join(f"{self.expression(item)}, " for item in node.items) + ")"

    def _Dict(self, node: nodes.Dict) -> str:
        pairs = ", ".join(f"{self.expression(pair.key)}: {self.expression(pair.value)}" for pair in node.items)
        return "{" + pairs + "}"

    def _Filter(self, node: nodes.Filter) -> str:
        function = self.environment.filters.get(node.name) if node.name else None
        self.counts_work = self.counts_work or node.name in bounds.BOUNDED_FILTERS or node.name in ("join", "sum")
        return self._call("filter", node, function)

    def _Test(self, node: nodes.Test) -> str:
        return self._call("test", node, self.environment.tests.get(node.name))

    def _call(self, kind: str, node: nodes.Filter | nodes.Test, function: Any) -> str:
        if function is None:
            known = self.environment.filters if kind == "filter" else self.environment.tests
            guess = closest(str(node.name), sorted(known))
            raise UnknownName(f"no {kind} named '{node.name}'" + (f" (did you mean '{guess}'?)" if guess else ""))
        if node.dyn_args is not None or node.dyn_kwargs is not None or node.node is None:
            raise Untranslatable(f"{kind} {node.name}")
        leading = self._pass_argument(getattr(function, "jinja_pass_arg", None))
        argument: Callable[[nodes.Node], str] = self.expression
        if kind == "filter":  # its arguments sized here, where they may need it, not by its wrapper at every call
            function = getattr(function, "__wrapped__", function)
            argument = partial(self._filter_argument, str(node.name))
        arguments = [*leading, argument(node.node)]
        arguments += [argument(value) for value in node.args]
        arguments += [f"{pair.key}={argument(pair.value)}" for pair in node.kwargs]
        return f"{self._helper(f'{kind}:{node.name}', function)}({', '.join(arguments)})"

    def _filter_argument(self, name: str, node: nodes.Node) -> str:
        """A filter's argument, sized as written out (:func:`bounds.written_arguments`) unless it cannot hold a
        list many times over: a constant, or a field of the record as read (a source gives no value twice)."""
        source = self.expression(node)
        if _read_as_it_is(node, self.variable):
            return source
        sized = self._helper(f"sized:{name}", bounds.sized_argument(name))
        return f"{sized}({source})"

    def _pass_argument(self, kind: Any) -> list[str]:
        """What Jinja passes before the value to filters marked ``@pass_environment`` and the like."""
        name = getattr(kind, "name", None)
        if name is None:
            return []
        if name == "environment":
            return [self._helper("environment", self.environment)]
        if name == "eval_context":
            return [self._helper("eval_context", nodes.EvalContext(self.environment))]
        raise Untranslatable("context filter")

    def _fast_getattr(self) -> Any:
        environment_getattr = self.environment.getattr

        def getattr_(obj: Any, name: str) -> Any:
            if obj.__class__ is dict:
                try:
                    return obj[name]
                except KeyError:
                    pass
            return environment_getattr(obj, name)

        return getattr_


def _str_join(parts: tuple[Any, ...]) -> str:
    """Jinja's ``~``: every part as text (undefined as empty), joined, sized as the sandbox's is."""
    return bounds.joined_text(parts)
