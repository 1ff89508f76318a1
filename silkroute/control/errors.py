"""Errors the services raise; the API turns each into a JSON body with its HTTP status.

A problem with a field names it by `model.errors.field_path` (`jobs[3].nodes[0].count`,
`quota["A100"]`), the one spelling of a path for every message, and keeps the path itself,
`loc`, for programs (the API's `errors[].loc`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from silkroute.model.errors import field_path, reason_of

BODY = "(body)"  # the request body as a whole


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """`field`: where, as people read it (the path of `loc`, a header's name, or `(body)`);
    `loc`: where in the request body, a key or an index per step (empty: the body as a whole,
    or not in the body)."""

    field: str
    reason: str
    loc: tuple[str | int, ...] = ()

    @classmethod
    def at(cls, loc: Sequence[str | int], reason: str) -> FieldProblem:
        return cls(field_path(loc, BODY), reason, tuple(loc))

    def within(self, outer: Sequence[str | int]) -> FieldProblem:
        """This problem as one of the value at `outer` (a batch's job: `("jobs", 3)`)."""
        return FieldProblem.at((*outer, *self.loc), self.reason)


@dataclass(slots=True)
class ServiceError(Exception):
    status: int
    code: str
    message: str
    problems: list[FieldProblem] = field(default_factory=list)

    def __str__(self) -> str:
        return self.message


def message_of(problems: Iterable[FieldProblem]) -> str:
    return "; ".join(f"{p.field}: {p.reason}" for p in problems)


def problems_of(errors: Iterable[Mapping[str, Any]], body: str | None = None) -> list[FieldProblem]:
    """pydantic's (or FastAPI's) errors as problems; `body`: a first step of `loc` that names
    the body itself (FastAPI's `"body"`), left out."""
    problems = []
    for err in errors:
        loc = tuple(err.get("loc", ()))
        if body is not None and loc[:1] == (body,):
            loc = loc[1:]
        problems.append(FieldProblem.at(loc, reason_of(err)))
    return problems


def invalid_fields(problems: list[FieldProblem]) -> ServiceError:
    return ServiceError(422, "invalid", message_of(problems), problems)


def invalid(where: str | Sequence[str | int], reason: str) -> ServiceError:
    """422 for one field: a top-level field's name, a path (`("nodes", 2, "name_prefix")`),
    or `(body)`-like words for the whole."""
    if isinstance(where, str) and where.startswith("("):
        problem = FieldProblem(where, reason)
    else:
        problem = FieldProblem.at((where,) if isinstance(where, str) else where, reason)
    return invalid_fields([problem])


def not_found(what: str) -> ServiceError:
    return ServiceError(404, "not_found", f"no such {what}")


def forbidden(reason: str) -> ServiceError:
    return ServiceError(403, "forbidden", reason)


def conflict(code: str, reason: str) -> ServiceError:
    return ServiceError(409, code, reason)
