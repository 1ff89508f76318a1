"""Errors the services raise; the API turns each into a JSON body with its HTTP status."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class FieldProblem:
    field: str
    reason: str


@dataclass(slots=True)
class ServiceError(Exception):
    status: int
    code: str
    message: str
    problems: list[FieldProblem] = field(default_factory=list)

    def __str__(self) -> str:
        return self.message


def invalid(field_name: str, reason: str) -> ServiceError:
    return ServiceError(
        422, "invalid", f"{field_name}: {reason}", [FieldProblem(field_name, reason)]
    )


def not_found(what: str) -> ServiceError:
    return ServiceError(404, "not_found", f"no such {what}")


def forbidden(reason: str) -> ServiceError:
    return ServiceError(403, "forbidden", reason)


def conflict(code: str, reason: str) -> ServiceError:
    return ServiceError(409, code, reason)
