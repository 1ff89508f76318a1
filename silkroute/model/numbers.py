"""Numbers are numbers: a spec refuses `true` or `false` where it wants a number.

Pydantic's lax mode reads a boolean as 0 or 1 in an `int` or `float` field, so `workers:
true`, `priority: true` or `weight: true` would be stored as 1: a typo in a YAML file (`yes`
is a boolean there) turns into a real request. `NumbersNotBooleans`, the base of every spec
read from a file or the API, refuses a boolean wherever the field's type takes none (inside
a mapping's values or a list's items too), naming the field; every field of a subclass is
covered, new ones included, without marking each. Everything else stays lax as before (a
`2.0` still counts as 2, `"4"` as 4).
"""

from __future__ import annotations

import types
import typing
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

BOOLEAN_REFUSED = "must be a number, not a boolean (true/false)"
_CONTAINERS = (dict, list)


def _wants_number_not_boolean(annotation: Any) -> bool:
    """Whether `annotation` takes a number but no boolean, at this level."""
    members = _members(annotation)
    takes_boolean = any(
        m is bool
        or m is Any
        or m is object
        or (get_origin(m) is typing.Literal and any(type(a) is bool for a in get_args(m)))
        for m in members
    )
    return not takes_boolean and any(m is int or m is float for m in members)


def _members(annotation: Any) -> tuple[Any, ...]:
    """The alternatives of a union (Annotated unwrapped); the annotation itself otherwise."""
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return _members(get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return tuple(m for member in get_args(annotation) for m in _members(member))
    return (annotation,)


def _item_types(annotation: Any, container: type) -> list[Any]:
    """The types a mapping's values (`container` dict) or a sequence's items (list) may
    have under `annotation`."""
    found = []
    for member in _members(annotation):
        origin, args = get_origin(member), get_args(member)
        if container is dict and origin is dict and len(args) == 2:
            found.append(args[1])
        elif container is list and origin in (list, tuple, set, frozenset):
            found.extend(a for a in args if a is not Ellipsis)
    return found


def _holds_boolean(value: Any) -> bool:
    """Whether `value` is a boolean or holds one (plain loops: this runs on every submit)."""
    if value is True or value is False:
        return True
    kind = type(value)
    if kind is list:
        items: Any = value
    elif kind is dict:
        items = value.values()
    else:
        return False
    for item in items:
        if item is True or item is False:
            return True
        if type(item) in _CONTAINERS and _holds_boolean(item):
            return True
    return False


def boolean_where_number(value: Any, annotation: Any) -> tuple[str | int, ...] | None:
    """Where in `value` (`()`: the value itself; else the keys and indices down to it) a
    boolean stands where `annotation` takes none; None if nowhere."""
    if value is True or value is False:
        return () if _wants_number_not_boolean(annotation) else None
    places: list[tuple[str | int, Any]]
    if isinstance(value, dict):
        places, kinds = list(value.items()), _item_types(annotation, dict)
    elif isinstance(value, list):
        places, kinds = list(enumerate(value)), _item_types(annotation, list)
    else:
        return None
    for place, item in places:
        if not _holds_boolean(item):
            continue
        # Refused only where every type the item may have refuses it (a nested model's own
        # fields are checked by its own validator).
        below = [boolean_where_number(item, kind) for kind in kinds if not _is_model(kind)]
        if below and len(below) == len(kinds) and all(b is not None for b in below):
            return (place, *(below[0] or ()))
    return None


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


class NumbersNotBooleans(BaseModel):
    """Base of the specs: a boolean where a number is meant is refused (see the module)."""

    # One check per model, before its fields: a check per field cost three times as much on
    # the submit path. The error is a `ValidationError` of its own, so it names the field
    # (and the key or index inside it), nested models included.
    @model_validator(mode="before")
    @classmethod
    def _no_boolean_for_a_number(cls, data: Any) -> Any:
        if type(data) is not dict:
            return data
        fields = cls.__pydantic_fields__
        problems = []
        for name, value in data.items():
            if not _holds_boolean(value):
                continue
            field = fields.get(name)
            if field is None:  # not a field: extra="forbid" says so
                continue
            where = boolean_where_number(value, field.annotation)
            if where is not None:
                problems.append(
                    InitErrorDetails(
                        type=PydanticCustomError("number_not_boolean", BOOLEAN_REFUSED),
                        loc=(name, *where),
                        input=value,
                    )
                )
        if problems:
            raise ValidationError.from_exception_data(cls.__name__, problems)
        return data
