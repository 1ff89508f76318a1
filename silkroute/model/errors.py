"""Errors that name the field and the reason, for specs read from files, HTTP or traces."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError


class SpecError(ValueError):
    """Bad input: the message names where (file, line, field) and why."""


def _location(loc: Sequence[Any]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "(root)"


def describe_validation_error(exc: ValidationError, where: str = "") -> str:
    """One line per problem: `where: field: reason (got value)`."""
    lines = []
    prefix = f"{where}: " if where else ""
    for err in exc.errors():
        got = err.get("input")
        shown = "" if isinstance(got, dict | list) else f" (got {got!r})"
        reason = str(err["msg"]).removeprefix("Value error, ")
        lines.append(f"{prefix}{_location(err['loc'])}: {reason}{shown}")
    return "\n".join(lines)


def spec_error(exc: ValidationError, where: str = "") -> SpecError:
    return SpecError(describe_validation_error(exc, where))
