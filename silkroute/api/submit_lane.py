"""`POST /v1/jobs`, the API's hot path, and a lane that serves it without the framework.

A submit costs less than FastAPI's routing and dependency solving around it, so `SubmitLane`
(a plain ASGI middleware inside the body limit and the latency metrics) answers
`POST /v1/jobs` itself. It runs the same `submit_request` as the documented FastAPI route,
which stays for the OpenAPI description and serves the request whenever the lane is not
installed: one implementation, two ways in.
"""

from __future__ import annotations

import asyncio
import json
import logging
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import yaml
from fastapi.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from silkroute.api import convert, schemas
from silkroute.control.auth import Principal, Role, authenticate, hash_token, parse_bearer
from silkroute.control.errors import ServiceError, forbidden
from silkroute.control.submits import prepare, prepare_batch

if TYPE_CHECKING:
    from silkroute.control.service import Platform

log = logging.getLogger("silkroute.api")
ROUTE = SimpleNamespace(path="/v1/jobs")  # what the latency metrics label the lane's requests


class BodyTooLarge(Exception):
    """Raised by the body limit's `receive` once a body passes the limit."""


async def resolve_caller(platform: Platform, header: str | None) -> Principal:
    """The token's owner: from the cache (no database), else the store (in a thread)."""
    token_hash = hash_token(parse_bearer(header))
    known = platform.tokens.get(token_hash)
    if known is not None:
        return known
    generation = platform.tokens.generation  # read before the lookup: see TokenCache
    principal = await run_in_threadpool(_authenticate, platform, header)
    platform.tokens.put(token_hash, principal, generation)
    return principal


def not_an_agent(principal: Principal) -> Principal:
    """Tenant and staff routes refuse a site agent's token (it serves /v1/agent only)."""
    if principal.role is Role.AGENT:
        raise forbidden("an agent token serves only the /v1/agent endpoints")
    return principal


def _authenticate(platform: Platform, header: str | None) -> Principal:
    with platform.store.session() as session:
        return authenticate(session, header)


def parse_job_body(raw: bytes, content_type: str | None) -> Any:
    """The body as JSON, or YAML when the content type says so (the CLI sends files)."""
    kind = content_type or "application/json"
    try:
        if "yaml" in kind:
            return yaml.safe_load(raw.decode("utf-8"))
        return json.loads(raw)
    except (ValueError, yaml.YAMLError, RecursionError) as exc:
        what = "YAML" if "yaml" in kind else "JSON"
        if isinstance(exc, RecursionError):  # the parsers recurse per level: a 500 otherwise
            raise ServiceError(400, "malformed", f"(body): {what} nested too deeply") from None
        first = str(exc).splitlines()[0] if str(exc) else "parse error"
        raise ServiceError(400, "malformed", f"(body): not valid {what}: {first}") from None


async def submit_request(
    platform: Platform,
    who: Principal,
    raw: bytes,
    content_type: str | None,
    idempotency_key: str | None,
) -> tuple[int, bytes]:
    """Status and JSON body of a submit; refusals raise `ServiceError`."""
    prepared = prepare(who, parse_job_body(raw, content_type), idempotency_key)
    # Group commit: answered once the transaction that holds this job has committed.
    accepted = await asyncio.wrap_future(platform.submits.submit(prepared))
    return (201 if accepted.created else 200), convert.submitted_json(accepted)


async def submit_batch_request(
    platform: Platform,
    who: Principal,
    raw: bytes,
    content_type: str | None,
    idempotency_key: str | None,
) -> tuple[int, bytes]:
    """`POST /v1/jobs:batch`: every job stored in one transaction, or none (a `ServiceError`
    naming `jobs[i]`)."""
    parts = prepare_batch(who, parse_job_body(raw, content_type), idempotency_key)
    accepted = await asyncio.wrap_future(platform.submits.submit_all(parts))
    created = any(a.created for a in accepted)
    return (201 if created else 200), convert.batch_submitted_json(accepted)


def error_json(exc: ServiceError) -> bytes:
    problems = [schemas.Problem.of(p) for p in exc.problems]
    body = schemas.ErrorBody(code=exc.code, message=exc.message, errors=problems)
    return body.model_dump_json().encode()


class SubmitLane:
    """Serve `POST /v1/jobs` directly; everything else goes on to the app."""

    def __init__(self, app: ASGIApp, platform: Platform) -> None:
        self.app = app
        self.platform = platform

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != "/v1/jobs"
            or scope["method"] != "POST"
            or scope.get("root_path")
        ):
            await self.app(scope, receive, send)
            return
        scope["route"] = ROUTE
        headers: dict[bytes, bytes] = dict(scope["headers"])
        try:
            raw = await _read_body(receive)
            who = not_an_agent(
                await resolve_caller(self.platform, _text(headers.get(b"authorization")))
            )
            status, body = await submit_request(
                self.platform,
                who,
                raw,
                _text(headers.get(b"content-type")),
                _text(headers.get(b"idempotency-key")),
            )
        except ServiceError as exc:
            status, body = exc.status, error_json(exc)
        except BodyTooLarge:  # the body limit around us answers (413)
            raise
        except Exception:
            log.exception("unhandled error on POST /v1/jobs")
            status = 500
            body = error_json(
                ServiceError(500, "internal", "internal error; the server log has the details")
            )
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            raise ServiceError(400, "malformed", "(body): the client went away")
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")
