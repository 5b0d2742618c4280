"""Jinja2 expressions over a source record, in a sandbox, compiled to Python where possible.

``"{{ record.id }}"`` alone returns the value with its own type (an int stays
an int); text around it, or several ``{{ }}``, render to a string, where null
renders as empty text. A record's fields win over dict methods, so
``record.items`` is the field ``items``. Common forms are translated into
plain Python (:mod:`app.mapping.jinja_python`) with the same results; the
rest runs in Jinja's sandbox. Neither ``now`` nor ``env`` exist here: a
mapping must give the same output for the same input, or change detection
would rewrite records forever, and the environment holds secrets.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, time, timedelta
from functools import update_wrapper
from typing import Any

from jinja2 import ChainableUndefined, TemplateSyntaxError, Undefined, nodes
from jinja2.compiler import CodeGenerator, Frame, operators, optimizeconst
from jinja2.parser import Parser
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedFormatter

from app.config import closest
from app.mapping import bounds
from app.mapping.jinja_python import Translator, UnknownName, Untranslatable, against_flat_constant
from app.mapping.number_filters import float_filter, int_filter, round_filter
from app.mapping.python_code import Namespace, python_literal
from app.mapping.transforms import KINDS

Expression = Callable[[Mapping[str, Any]], Any]

_SINGLE = re.compile(r"^\{\{-?(?P<body>.*?)-?\}\}$", re.DOTALL)
_MISSING = object()


class ExpressionSyntaxError(ValueError):
    """An expression that does not parse; the message is Jinja's, with its line."""


class _ExactConstants(CodeGenerator):
    """Jinja's code generator, writing number constants as Python reads them back exactly.

    Jinja writes ``str(value)`` or ``repr(value)``: ``inf`` for ``1e999``, also inside a list it folded
    into one constant (a ``NameError`` when run), and a folded ``-2.0`` bare, where an operator next
    to it could bind first.
    """

    def visit_Const(self, node: nodes.Const, frame: Frame) -> None:
        literal = python_literal(node.as_const(frame.eval_ctx))
        if literal is None:
            super().visit_Const(node, frame)
        else:
            self.write(literal)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        """``~`` sized as it joins (:func:`bounds.joined_text`), as the environment's output is."""
        self.write("environment.concat((")
        for part in node.nodes:
            self.visit(part, frame)
            self.write(", ")
        self.write("))")

    @optimizeconst
    def visit_Compare(self, node: nodes.Compare, frame: Frame) -> None:
        """Every operand of a comparison sized first (:func:`bounds.compared`), unless it is one against a
        constant text, number or null (:func:`~app.mapping.jinja_python.against_flat_constant`)."""
        if against_flat_constant(node):
            operand = node.ops[0]
            self.write("(")
            self.visit(node.expr, frame)
            self.write(f" {operators[operand.op]} ")
            self.visit(operand.expr, frame)
            self.write(")")
            return
        self.write("(environment.compared(")
        self.visit(node.expr, frame)
        self.write(")")
        for operand in node.ops:
            self.visit(operand, frame)
        self.write(")")

    def visit_Operand(self, node: nodes.Operand, frame: Frame) -> None:
        self.write(f" {operators[node.op]} environment.compared(")
        self.visit(node.expr, frame)
        self.write(")")


class RecordEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox, with a record's fields taking precedence over mapping methods, and every operation
    whose result could be huge sized first (:mod:`app.mapping.bounds`)."""

    intercepted_binops = frozenset(bounds.BINARY)
    code_generator_class = _ExactConstants
    concat = staticmethod(bounds.joined_output)  # a template's output, loops and all, sized as it grows
    compared = staticmethod(bounds.compared)

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, Mapping):
            try:
                return obj[attribute]
            except (KeyError, TypeError):
                pass
        return super().getattr(obj, attribute)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        return bounds.BINARY[operator](left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        args = bounds.check_method(__obj, args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """Jinja's sandboxed ``str.format``, with each field's width and precision bounded."""
        if super().wrap_str_format(value) is None:
            return None
        text, is_format_map, formatter = value.__self__, value.__name__ == "format_map", _BoundedFormatter(self)

        def wrapper(*args: Any, **kwargs: Any) -> str:
            if not is_format_map:
                return str(formatter.vformat(text, args, kwargs))
            if kwargs or len(args) != 1:
                raise TypeError("format_map() takes exactly one argument and no keyword arguments")
            return str(formatter.vformat(text, (), args[0]))

        return update_wrapper(wrapper, value)


class _BoundedFormatter(SandboxedFormatter):
    def format_field(self, value: Any, format_spec: str) -> Any:
        if isinstance(value, date | time):  # its spec is a strftime format: '{:%999999999Y}' gave ''
            bounds.date_format(format_spec, "format")
        bounds.format_width(format_spec, value)
        bounds.written(value, "format")
        return super().format_field(value, format_spec)


def _finalize(value: Any) -> Any:
    """Jinja's ``finalize``: null as nothing, a duration as its ISO 8601 text (:func:`bounds.part_text`),
    anything else sized as written out (:func:`bounds.written`)."""
    if value is None:
        return ""
    if isinstance(value, timedelta):
        return bounds.part_text(value)
    bounds.written(value, "the text")  # Jinja turns it into text next, in C, where no step is counted
    return value


def _environment() -> RecordEnvironment:
    environment = RecordEnvironment(undefined=ChainableUndefined, autoescape=False, finalize=_finalize)
    for name in ("digits", "collapse_spaces", "strip", "split", "null_if_empty"):
        if name not in environment.filters:
            kind = KINDS[name]
            environment.filters[name] = _filter(kind.build, kind.argument is not None)
    environment.filters["date"] = lambda value, layout="%Y-%m-%d": KINDS["date"].build(layout)(value)
    environment.filters.update(int=int_filter, float=float_filter, round=round_filter)
    for name, bounded in bounds.BOUNDED_FILTERS.items():
        environment.filters[name] = bounded(environment.filters[name])
    environment.filters["join"] = bounds.bounded_join(environment.filters["join"])
    environment.filters["sum"] = bounds.bounded_sum(environment.filters["sum"])
    del environment.filters["random"]  # a mapping gives the same output for the same input
    for name, function in environment.filters.items():
        environment.filters[name] = bounds.written_arguments(name, function)
    environment.filters[_COUNTED] = bounds.counted
    environment.globals.clear()  # range, lipsum, dict, cycler…: nothing but the record
    return environment


_COUNTED = "brygga_counted"
"""The filter every ``{% for %}`` loop's items go through, so that each step counts (:func:`bounds.counted`)."""


def _filter(build: Callable[[str | None], Callable[[Any], Any]], takes_argument: bool) -> Callable[..., Any]:
    if takes_argument:
        return lambda value, argument: build(str(argument))(value)
    return build(None)


ENVIRONMENT = _environment()


def _native(value: Any) -> Any:
    """An expression's result: undefined (a missing field) becomes null."""
    if isinstance(value, Undefined):
        return None
    if callable(value):
        raise _function_given(value)
    return value


def _result(value: Any) -> Any:
    """A single expression's value, as the field gets it: sized as written out, since it is hashed and
    written (:func:`bounds.written`)."""
    value = _native(value)
    bounds.written(value, "the value")
    return value


def _output(value: Any) -> str:
    """One ``{{ }}`` of a text template, as Jinja renders it (with our finalize)."""
    if value.__class__ is str:
        return value
    if callable(value) and not isinstance(value, Undefined):
        raise _function_given(value)
    return str(_finalize(value))


def _function_given(value: Any) -> TypeError:
    """A method left uncalled (``record.get``): its text holds a memory address, new at every run."""
    name = getattr(value, "__name__", type(value).__name__)
    return TypeError(f"the expression gives the method {name}, not a value: call it, or name a field")


def template_source(text: str, namespace: Namespace, variable: str = "record") -> str:
    """Python source (over the name ``variable``) computing the template's value.

    :raises ExpressionSyntaxError: when Jinja cannot parse it, or it names an unknown filter or test
    """
    tree = _parse(text, variable)
    translator = Translator(ENVIRONMENT, namespace, variable)
    single = _SINGLE.match(text)
    try:
        if single is not None and _is_single_output(tree):
            output = tree.body[0].nodes[0]  # type: ignore[attr-defined]
            source = f"{namespace.add(_result, 'result')}({translator.expression(output)})"
        else:
            source = _text_source(tree, translator, namespace)
        return _counted(source, translator, namespace)
    except UnknownName as exc:
        raise ExpressionSyntaxError(f"bad expression: {exc}") from None
    except Untranslatable:
        pass
    with _syntax_errors():
        if single is not None and _is_single_output(tree):
            expression = ENVIRONMENT.compile_expression(single.group("body"), undefined_to_none=True)
            run: Expression = lambda record: _result(expression({variable: record}))  # noqa: E731
        else:
            template = ENVIRONMENT.from_string(_loops_counted(tree))
            run = lambda record: template.render({variable: record})  # noqa: E731
    return f"{namespace.add(_evaluation(run), 'sandboxed')}({variable})"


def condition_source(text: str, namespace: Namespace, variable: str = "record") -> str:
    """Python source (over ``variable``) for a condition: ``{{ record.x != 1 }}`` or bare ``record.x != 1``.

    Only its truth counts: a missing field may come out as Jinja's undefined, which is false.

    :raises ExpressionSyntaxError: when Jinja cannot parse it, or it is not one expression
    """
    source = text.strip()
    single = _SINGLE.match(source)
    if single is None and ("{{" in source or "{%" in source):
        raise ExpressionSyntaxError("a condition is one expression: write {{ record.status != 'archived' }}")
    body = single.group("body") if single is not None else source
    if "{{" in body or "}}" in body:
        raise ExpressionSyntaxError("a condition is one expression: write {{ record.status != 'archived' }}")
    if len(body) > MAX_EXPRESSION:
        raise ExpressionSyntaxError(_TOO_LONG)
    with _syntax_errors():
        parser = Parser(ENVIRONMENT, body, state="variable")  # it reads the first token: that may fail too
        node = parser.parse_expression()
        if not parser.stream.eos:
            raise TemplateSyntaxError("unexpected text after the expression", parser.stream.current.lineno)
    _check_nesting(node)
    _check_names(node, variable)
    try:
        translator = Translator(ENVIRONMENT, namespace, variable)
        return _counted(f"({translator.expression(node)})", translator, namespace)
    except UnknownName as exc:
        raise ExpressionSyntaxError(f"bad expression: {exc}") from None
    except Untranslatable:
        pass
    with _syntax_errors():
        expression = ENVIRONMENT.compile_expression(body, undefined_to_none=True)
    run: Expression = lambda record: expression({variable: record})  # noqa: E731
    return f"{namespace.add(_evaluation(run), 'sandboxed')}({variable})"


def _counted(source: str, translator: Translator, namespace: Namespace) -> str:
    """Translated ``source`` that starts an evaluation's count of work first, where it does any work counted."""
    if not translator.counts_work:
        return source
    return f"({namespace.add(bounds.start_evaluation, 'start')}() or {source})"


def _evaluation(run: Expression) -> Expression:
    """``run``, each call an evaluation of its own for :mod:`app.mapping.bounds`."""

    def evaluate(record: Mapping[str, Any]) -> Any:
        bounds.start_evaluation()
        return run(record)

    return evaluate


def _loops_counted(tree: nodes.Template) -> nodes.Template:
    """``tree`` with every ``{% for %}`` loop's items counted, step by step, against the evaluation's work."""
    for loop in tree.find_all(nodes.For):
        loop.iter = nodes.Filter(loop.iter, _COUNTED, [], [], None, None, lineno=loop.lineno)
    return tree


def compile_template(text: str, variable: str = "record") -> Expression:
    """The template as a function of the record (named ``variable`` inside it).

    :raises ExpressionSyntaxError: when it does not parse
    """
    namespace = Namespace()
    return namespace.compile_lambda(template_source(text, namespace, variable), variable, "<template>")


def compile_condition(text: str, variable: str = "record") -> Expression:
    """The condition as a function of the record (named ``variable`` inside it).

    :raises ExpressionSyntaxError: when it does not parse
    """
    namespace = Namespace()
    source = f"{namespace.add(_native, 'native')}({condition_source(text, namespace, variable)})"
    return namespace.compile_lambda(source, variable, "<condition>")


@contextmanager
def _syntax_errors() -> Iterator[None]:
    """Parse errors, and Jinja's checks of filter and test names when it compiles, as one error.

    Hostile text fails here too: nesting too deep for Jinja's recursive parser, and a number
    literal of more digits than Python turns into an integer.
    """
    try:
        yield
    except TemplateSyntaxError as exc:
        raise ExpressionSyntaxError(_syntax_message(exc)) from None
    except (RecursionError, MemoryError):
        raise ExpressionSyntaxError(_TOO_DEEP) from None
    except ValueError as exc:
        if "integer string conversion" in str(exc):
            raise ExpressionSyntaxError(
                f"bad expression: a number in it has more than {bounds.MAX_DIGITS} digits"
            ) from None
        raise ExpressionSyntaxError(f"bad expression: {exc}") from None


def _parse(text: str, variable: str) -> nodes.Template:
    if len(text) > MAX_EXPRESSION:
        raise ExpressionSyntaxError(_TOO_LONG)
    with _syntax_errors():
        tree = ENVIRONMENT.parse(text)
    _check_nesting(tree)
    _check_names(tree, variable)
    return tree


MAX_EXPRESSION = 100_000
"""The most characters one expression may have: Jinja parses and compiles far longer ones slowly (a 9 MB
one took a minute and gigabytes, at every load of the project)."""
_TOO_LONG = (
    f"bad expression: it is longer than {MAX_EXPRESSION:,} characters: split it into several fields, or "
    "write it more simply"
)
_NOT_HERE = (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)


def _check_names(tree: nodes.Node, variable: str) -> None:
    """Only ``variable`` (and what the expression sets itself) may be named, and no attribute that starts
    with ``_``: a misspelt name (``recrod.n``) would otherwise be null for every record, silently, and
    Python's internals are nothing a mapping reads.

    :raises ExpressionSyntaxError: naming the first such name
    """
    if found := next(tree.find_all(_NOT_HERE), None):
        tag = type(found).__name__.lower().replace("fromimport", "from … import")
        raise ExpressionSyntaxError(
            f"bad expression: {{% {tag} %}} has nothing to read here: an expression sees the {variable} only"
        )
    known = {variable, *(name.name for name in tree.find_all(nodes.Name) if name.ctx in ("store", "param"))}
    if next(tree.find_all(nodes.For), None) is not None:
        known.add("loop")
    if next(tree.find_all(nodes.Macro), None) is not None:
        known |= {"varargs", "kwargs", "caller"}
    for name in tree.find_all(nodes.Name):
        if name.ctx == "load" and name.name not in known:
            guess = closest(name.name, sorted(known))
            hint = f" (did you mean '{guess}'?)" if guess else f": an expression sees the {variable} only"
            raise ExpressionSyntaxError(f"bad expression: unknown name '{name.name}'{hint}")
    for attribute in tree.find_all(nodes.Getattr):
        if attribute.attr.startswith("_"):
            raise ExpressionSyntaxError(_underscore(attribute.attr, variable))
    for called in tree.find_all(nodes.Filter):
        if called.name == "attr" and any(
            isinstance(arg, nodes.Const) and str(arg.value).startswith("_") for arg in called.args
        ):
            raise ExpressionSyntaxError(_underscore(str(called.args[0].as_const()), variable))


def _underscore(attribute: str, variable: str) -> str:
    return (
        f"bad expression: '{attribute}' starts with an underscore: an expression reads the {variable}'s "
        f"fields, not Python's insides (a field whose name starts with _: {variable}['{attribute}'])"
    )


MAX_NESTING = 40
"""How deeply parts of an expression may nest: Jinja's parser and Python's compiler both recurse."""
_TOO_DEEP = (
    f"bad expression: it is nested more than {MAX_NESTING} levels deep (brackets, or operators in a row): "
    "split it into several fields, or write it more simply"
)


def _check_nesting(tree: nodes.Node) -> None:
    """:raises ExpressionSyntaxError: for a tree deeper than :data:`MAX_NESTING` (walked without recursion)."""
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_NESTING:
            raise ExpressionSyntaxError(_TOO_DEEP)
        stack.extend((child, depth + 1) for child in node.iter_child_nodes())


def _text_source(tree: nodes.Template, translator: Translator, namespace: Namespace) -> str:
    parts: list[str] = []
    for statement in tree.body:
        if not isinstance(statement, nodes.Output):
            raise Untranslatable(type(statement).__name__)
        for child in statement.nodes:
            if isinstance(child, nodes.TemplateData):
                parts.append(repr(child.data))
            else:
                parts.append(f"{namespace.add(_output, 'output')}({translator.expression(child)})")
    return "''.join((" + "".join(f"{part}, " for part in parts) + "))"


def _is_single_output(tree: nodes.Template) -> bool:
    return (
        len(tree.body) == 1
        and isinstance(tree.body[0], nodes.Output)
        and len(tree.body[0].nodes) == 1
        and not isinstance(tree.body[0].nodes[0], nodes.TemplateData)
    )


def _syntax_message(exc: TemplateSyntaxError) -> str:
    where = f" (line {exc.lineno} of the expression)" if exc.lineno and exc.lineno > 1 else ""
    return f"bad expression: {exc.message}{where}"
