"""Validate parsed YAML with a pydantic model and report problems at their nodes.

Pydantic names each error by a ``loc`` path; we follow that path through the
model's types (dropping the union tags pydantic inserts), find the node in
the :class:`SourceMap`, and rewrite the message for someone editing YAML:
``fields.emial: unknown key (did you mean 'email'?)``.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Hashable, Sequence
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, SecretStr, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from app.config.base import Caution, ConfigModel, Location, child_models, dotted, with_path
from app.config.issues import ConfigIssue, ConfigWarning
from app.config.yaml_source import SourceMap

__all__ = ["choice_hint", "closest", "dotted", "validate_node", "with_path"]

M = TypeVar("M", bound=BaseModel)


def validate_node(
    model: type[M], data: Any, origin: SourceMap, prefix: Location, issues: list[ConfigIssue]
) -> M | None:
    """Validate ``data`` (found at ``prefix`` in ``origin``'s file) as ``model``.

    Every problem is appended to ``issues``; ``None`` is returned when the
    data does not have the model's shape.
    """
    try:
        result = model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        issues.extend(_issue(model, error, origin, prefix) for error in errors)
        broken = [_walk(model, error["loc"])[0] for error in errors]
        _sound_parts(model, data, broken, origin, prefix, issues=issues)
        return None
    if isinstance(result, ConfigModel):
        _add_problems(result, prefix, origin, issues)
    return result


def _add_problems(part: Any, prefix: Location, origin: SourceMap, issues: list[ConfigIssue]) -> None:
    """The problems of every config model in ``part`` (found at ``prefix``), as issues."""
    for where, child in child_models(part, ()):
        for problem in child.problems():
            location = (*prefix, *where, *problem.location)
            issue = origin.issue(location, with_path(location, problem.message), at_key=problem.at_key)
            if isinstance(problem, Caution):
                issue = ConfigWarning(issue.file, issue.mark, issue.message)
            issues.append(issue)


def _sound_parts(
    model: type[BaseModel], data: Any, broken: list[list[Hashable]], origin: SourceMap, prefix: Location,
    *, issues: list[ConfigIssue],
) -> None:  # fmt: skip
    """For a model that failed as a whole: the problems of its parts that hold no error (a ``schedule`` or a
    field beside a misspelt ``mode``), so that ``validate`` reports every error at once, not those of the
    parts' own checks only once the rest has been mended."""
    if not isinstance(data, dict):
        return
    for name, info in model.model_fields.items():
        key = info.alias or name
        if key not in data:
            continue
        under = [path[1:] for path in broken if path[:1] == [key]]
        if not under:
            _validated_problems(info.annotation, data[key], (*prefix, key), origin, issues)
        elif all(under) and typing.get_origin(_unwrap(info.annotation)) is dict and isinstance(data[key], dict):
            item_type = typing.get_args(_unwrap(info.annotation))[1]
            for item_key, item in data[key].items():
                if not any(path[:1] == [item_key] for path in under):
                    _validated_problems(item_type, item, (*prefix, key, item_key), origin, issues)


def _validated_problems(
    annotation: Any, value: Any, location: Location, origin: SourceMap, issues: list[ConfigIssue]
) -> None:
    try:
        part = TypeAdapter(annotation).validate_python(value)
    except ValidationError:  # an error only the whole showed (a union arm chosen by a sibling): said above
        return
    _add_problems(part, location, origin, issues)


def closest(word: str, choices: Sequence[str]) -> str | None:
    """The choice a typo most likely meant, if any is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return close[0] if close else None


def choice_hint(word: str, choices: Sequence[str]) -> str:
    """``choose a, b or c (did you mean 'b'?)``: the valid choices, and the likely one."""
    listed = ", ".join(choices[:-1]) + f" or {choices[-1]}" if len(choices) > 1 else "".join(choices)
    guess = closest(word, choices)
    return f"choose {listed}" + (f" (did you mean '{guess}'?)" if guess else "")


def _issue(model: type[BaseModel], error: ErrorDetails, origin: SourceMap, prefix: Location) -> ConfigIssue:
    path, annotation, parent = _walk(model, error["loc"])
    kind = error["type"]
    if kind == "missing":
        location = (*prefix, *path[:-1])
        return origin.issue(location, with_path(location, f"missing required key '{path[-1]}'"))
    if kind == "extra_forbidden":
        location = (*prefix, *path)
        return origin.issue(location, _unknown_key(location, parent), at_key=True)
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return _tag_issue(error, annotation, origin, (*prefix, *path))
    if kind == "invalid_key":
        return _key_issue(error["input"], (*prefix, *path[:-1]), origin)
    at_key = bool(path) and path[-1] == "[key]"
    location = (*prefix, *(path[:-1] if at_key else path))
    return origin.issue(location, with_path(location, _describe(error, annotation)), at_key=at_key)


def _key_issue(key: Any, parent: Location, origin: SourceMap) -> ConfigIssue:
    """A key that is not text (``~: 1``, ``1.5: x``), at its place. Pydantic's ``loc`` names it by its text
    (``'None'``), which the file does not hold: the issue was put at the top of the file, as ``None: keys
    should be strings``, which says neither where nor what to write."""
    if key is None:
        problem = "key null (~, null or nothing before the colon): a key here is a name: write one"
    else:
        problem = f"key {key}: a key here is a name (text): write it in quotes if it is one, such as '{key}'"
    return origin.issue((*parent, key), with_path(parent, problem), at_key=True)


def _unknown_key(location: Location, parent: Any) -> str:
    key = str(location[-1])
    allowed = _keys_of(parent)
    guess = closest(key, allowed)
    if guess:
        return with_path(location, f"unknown key (did you mean '{guess}'?)")
    return with_path(location, f"unknown key (valid keys: {', '.join(allowed)})" if allowed else "unknown key")


def _tag_issue(error: ErrorDetails, annotation: Any, origin: SourceMap, location: Location) -> ConfigIssue:
    context = error.get("ctx") or {}
    discriminator = str(context.get("discriminator", "type")).strip("'")
    expected = [tag.strip(" '") for tag in str(context.get("expected_tags", "")).split(",") if tag.strip()]
    expected = expected or _tags_of(annotation, discriminator)
    if error["type"] == "union_tag_not_found":
        message = f"missing required key '{discriminator}' (one of: {', '.join(expected)})"
        return origin.issue(location, with_path(location, message))
    tag = str(context.get("tag", ""))
    tag_location = (*location, discriminator)
    message = f"unknown {discriminator} '{tag}': {choice_hint(tag, expected)}"
    return origin.issue(tag_location, with_path(tag_location, message))


def _tags_of(annotation: Any, discriminator: str) -> list[str]:
    """The tags of a discriminated union; pydantic names them only when the tag is wrong, not when missing."""
    tags: list[str] = []
    for arm in _union_arms(_unwrap(annotation)):
        if isinstance(arm, type) and issubclass(arm, BaseModel) and discriminator in arm.model_fields:
            tags.extend(str(tag) for tag in typing.get_args(_unwrap(arm.model_fields[discriminator].annotation)))
    return tags


_TYPE_WORDS = {
    "string_type": "expected text",
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "dict_type": "expected a mapping (key: value)",
    "model_type": "expected a mapping (key: value)",
    "model_attributes_type": "expected a mapping (key: value)",
    "list_type": "expected a list",
    "tuple_type": "expected a list",
}


def _describe(error: ErrorDetails, annotation: Any) -> str:
    kind = error["type"]
    given = error.get("input")
    context = error.get("ctx") or {}
    if _unwrap(annotation) is SecretStr:  # a token or secret: say what kind of value it is, never the value
        return f"expected text, got {_secret_kind(given)} (for text, write it in quotes)"
    if kind == "literal_error":
        return _literal_message(given, context, _unwrap(annotation))
    if kind == "string_type" and isinstance(given, int | float) and not isinstance(given, bool):
        return f"expected text, got the number {given} (for text, write '{given}')"
    if kind in _TYPE_WORDS:
        return f"{_TYPE_WORDS[kind]}, got {_yaml_kind(given)}"
    if kind in _BOUNDS:
        word, key = _BOUNDS[kind]
        return f"must be {word} {context.get(key)}, got {_yaml_kind(given)}"
    if kind in ("byte_size", "byte_size_unit"):
        return f"{_yaml_kind(given)} is not a size: write a number of bytes or one with a unit, such as 512KB or 1MiB"
    if kind in ("value_error", "assertion_error") and "error" in context:
        return str(context["error"])
    if kind == "too_short":
        return "must not be empty" if context.get("min_length") == 1 else str(error["msg"]).lower()
    return _lower_first(str(error["msg"]))


_BOUNDS = {
    "greater_than_equal": ("at least", "ge"),
    "greater_than": ("more than", "gt"),
    "less_than_equal": ("at most", "le"),
    "less_than": ("less than", "lt"),
}


def _literal_message(given: Any, context: Any, annotation: Any) -> str:
    """The valid choices; or, for ``version: '1'``, that only the quotes are wrong."""
    literals = typing.get_args(annotation) if typing.get_origin(annotation) is Literal else ()
    choices = [str(choice) for choice in literals] or [
        choice.strip(" '") for choice in str(context.get("expected", "")).replace(" or ", ",").split(",")
    ]
    if isinstance(given, str) and any(str(choice) == given and not isinstance(choice, str) for choice in literals):
        return f"{_yaml_kind(given)} is text: write {given} without quotes"
    return f"{_yaml_kind(given)} is not valid: {choice_hint(str(given), choices)}"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _secret_kind(value: Any) -> str:
    if value is None or isinstance(value, bool | dict | list):
        return _yaml_kind(value)
    return "a number" if isinstance(value, int | float) else "something else"


def _yaml_kind(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, int | float):
        return f"the number {value}"
    return f"'{value}'"


def _walk(model: type[BaseModel], loc: tuple[int | str, ...]) -> tuple[list[Hashable], Any, Any]:
    """Follow pydantic's ``loc`` through ``model``'s types.

    :returns: the path in the data (union tags dropped), the type found at its
        end, and the type that holds the last step
    """
    path: list[Hashable] = []
    current: Any = model
    parent: Any = None
    for part in loc:
        current = _unwrap(current)
        arms = _union_arms(current)
        if arms and isinstance(part, str):
            chosen = _arm_with_tag(arms, part)
            if chosen is not None:
                current = chosen
                continue
        parent = current
        path.append(part)
        current = _step(current, part)
    return path, current, parent


def _step(current: Any, part: int | str) -> Any:
    if isinstance(current, type) and issubclass(current, BaseModel):
        for name, info in current.model_fields.items():
            if part in (name, info.alias):
                return info.annotation
        return None
    origin = typing.get_origin(current)
    args = typing.get_args(current)
    if origin in (dict, typing.Mapping) and len(args) == 2:
        return args[1]
    if origin in (list, tuple, Sequence) and args:
        return args[0]
    return None


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        arms = _union_arms(annotation, keep_none=True)
        non_none = [arm for arm in arms if arm is not type(None)]
        if arms and len(non_none) == 1:
            annotation = non_none[0]
            continue
        return annotation


def _union_arms(annotation: Any, keep_none: bool = False) -> list[Any]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        arms = [_unwrap_annotated(arm) for arm in typing.get_args(annotation)]
        return arms if keep_none else [arm for arm in arms if arm is not type(None)]
    return []


def _unwrap_annotated(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _arm_with_tag(arms: list[Any], tag: str) -> Any:
    for arm in arms:
        if isinstance(arm, type) and issubclass(arm, BaseModel):
            for info in arm.model_fields.values():
                field_type = _unwrap(info.annotation)
                if typing.get_origin(field_type) is Literal and tag in typing.get_args(field_type):
                    return arm
    return None


def _keys_of(annotation: Any) -> list[str]:
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [info.alias or name for name, info in annotation.model_fields.items()]
    return []
