"""Jinja2 expressions over a source record, in a sandbox.

``"{{ record.id }}"`` alone returns the value with its own type (an int stays
an int); text around it, or several ``{{ }}``, render to a string. Templates
are compiled once per sync, never per record. Neither ``now`` nor ``env``
exist here: a mapping must give the same output for the same input, or
change detection would rewrite records forever, and the environment holds
secrets.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import ChainableUndefined, TemplateSyntaxError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from app.mapping.transforms import KINDS

Expression = Callable[[Mapping[str, Any]], Any]

_SINGLE = re.compile(r"^\{\{-?(?P<body>.*?)-?\}\}$", re.DOTALL)


class ExpressionSyntaxError(ValueError):
    """An expression that does not parse; the message is Jinja's, with its line."""


def _environment() -> ImmutableSandboxedEnvironment:
    environment = ImmutableSandboxedEnvironment(undefined=ChainableUndefined, autoescape=False)
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


def compile_template(text: str, variable: str = "record") -> Expression:
    """Compile ``text`` into a function of the record (bound to ``variable``).

    :raises ExpressionSyntaxError: when Jinja cannot parse it
    """
    try:
        tree = ENVIRONMENT.parse(text)
    except TemplateSyntaxError as exc:
        raise ExpressionSyntaxError(_syntax_message(exc)) from None
    single = _SINGLE.match(text)
    if single is not None and _is_single_output(tree):
        expression = ENVIRONMENT.compile_expression(single.group("body"), undefined_to_none=True)
        return lambda record: expression({variable: record})
    template = ENVIRONMENT.from_string(tree)
    return lambda record: template.render({variable: record})


def compile_condition(text: str, variable: str = "record") -> Expression:
    """Compile a condition: ``"{{ record.x != 1 }}"`` or the bare ``record.x != 1``.

    :raises ExpressionSyntaxError: when Jinja cannot parse it, or it is not one expression
    """
    source = text.strip()
    single = _SINGLE.match(source)
    if single is None and ("{{" in source or "{%" in source):
        raise ExpressionSyntaxError("a condition is one expression: write {{ record.status != 'archived' }}")
    body = single.group("body") if single is not None else source
    try:
        expression = ENVIRONMENT.compile_expression(body, undefined_to_none=True)
    except TemplateSyntaxError as exc:
        raise ExpressionSyntaxError(_syntax_message(exc)) from None
    return lambda record: expression({variable: record})


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
