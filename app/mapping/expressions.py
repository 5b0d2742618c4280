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
from typing import Any

from jinja2 import ChainableUndefined, TemplateSyntaxError, Undefined, nodes
from jinja2.parser import Parser
from jinja2.sandbox import ImmutableSandboxedEnvironment

from app.mapping.jinja_python import Translator, UnknownName, Untranslatable
from app.mapping.python_code import Namespace
from app.mapping.transforms import KINDS

Expression = Callable[[Mapping[str, Any]], Any]

_SINGLE = re.compile(r"^\{\{-?(?P<body>.*?)-?\}\}$", re.DOTALL)
_MISSING = object()


class ExpressionSyntaxError(ValueError):
    """An expression that does not parse; the message is Jinja's, with its line."""


class RecordEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox, with a record's fields taking precedence over mapping methods."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, Mapping):
            try:
                return obj[attribute]
            except (KeyError, TypeError):
                pass
        return super().getattr(obj, attribute)


def _render_null_as_empty(value: Any) -> Any:
    return "" if value is None else value


def _environment() -> RecordEnvironment:
    environment = RecordEnvironment(undefined=ChainableUndefined, autoescape=False, finalize=_render_null_as_empty)
    for name in ("digits", "collapse_spaces", "strip", "split", "null_if_empty"):
        if name not in environment.filters:
            kind = KINDS[name]
            environment.filters[name] = _filter(kind.build, kind.argument is not None)
    environment.filters["date"] = lambda value, layout="%Y-%m-%d": KINDS["date"].build(layout)(value)
    environment.globals.clear()
    return environment


def _filter(build: Callable[[str | None], Callable[[Any], Any]], takes_argument: bool) -> Callable[..., Any]:
    if takes_argument:
        return lambda value, argument: build(str(argument))(value)
    return build(None)


ENVIRONMENT = _environment()


def _native(value: Any) -> Any:
    """An expression's result: undefined (a missing field) becomes null."""
    return None if isinstance(value, Undefined) else value


def _output(value: Any) -> str:
    """One ``{{ }}`` of a text template, as Jinja renders it (with our finalize)."""
    return str(_render_null_as_empty(value))


def template_source(text: str, namespace: Namespace, variable: str = "record") -> str:
    """Python source (over the name ``variable``) computing the template's value.

    :raises ExpressionSyntaxError: when Jinja cannot parse it, or it names an unknown filter or test
    """
    tree = _parse(text)
    translator = Translator(ENVIRONMENT, namespace, variable)
    single = _SINGLE.match(text)
    try:
        if single is not None and _is_single_output(tree):
            output = tree.body[0].nodes[0]  # type: ignore[attr-defined]
            return f"{namespace.add(_native, 'native')}({translator.expression(output)})"
        return _text_source(tree, translator, namespace)
    except UnknownName as exc:
        raise ExpressionSyntaxError(f"bad expression: {exc}") from None
    except Untranslatable:
        pass
    with _syntax_errors():
        if single is not None and _is_single_output(tree):
            expression = ENVIRONMENT.compile_expression(single.group("body"), undefined_to_none=True)
            run: Expression = lambda record: expression({variable: record})  # noqa: E731
        else:
            template = ENVIRONMENT.from_string(tree)
            run = lambda record: template.render({variable: record})  # noqa: E731
    return f"{namespace.add(run, 'sandboxed')}({variable})"


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
    try:
        parser = Parser(ENVIRONMENT, body, state="variable")  # it reads the first token: that may fail too
        node = parser.parse_expression()
        if not parser.stream.eos:
            raise TemplateSyntaxError("unexpected text after the expression", parser.stream.current.lineno)
    except TemplateSyntaxError as exc:
        raise ExpressionSyntaxError(_syntax_message(exc)) from None
    try:
        return f"({Translator(ENVIRONMENT, namespace, variable).expression(node)})"
    except UnknownName as exc:
        raise ExpressionSyntaxError(f"bad expression: {exc}") from None
    except Untranslatable:
        pass
    with _syntax_errors():
        expression = ENVIRONMENT.compile_expression(body, undefined_to_none=True)
    run: Expression = lambda record: expression({variable: record})  # noqa: E731
    return f"{namespace.add(run, 'sandboxed')}({variable})"


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
    """Jinja checks filter and test names when it compiles: report those like parse errors."""
    try:
        yield
    except TemplateSyntaxError as exc:
        raise ExpressionSyntaxError(_syntax_message(exc)) from None


def _parse(text: str) -> nodes.Template:
    try:
        return ENVIRONMENT.parse(text)
    except TemplateSyntaxError as exc:
        raise ExpressionSyntaxError(_syntax_message(exc)) from None


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
