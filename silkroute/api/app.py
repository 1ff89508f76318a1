"""The FastAPI application: routes, JSON errors, a body size limit, metrics, the live loop."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from silkroute.api import schemas
from silkroute.api.metrics import ApiMetrics
from silkroute.api.routes import router
from silkroute.api.routes_agent import router as agent_router
from silkroute.api.routes_governance import router as governance_router
from silkroute.api.submit_lane import BodyTooLarge, SubmitLane, not_an_agent, resolve_caller
from silkroute.control.auth import Role
from silkroute.control.errors import FieldProblem, ServiceError, message_of, problems_of
from silkroute.control.service import Platform

log = logging.getLogger("silkroute.api")
MAX_BODY_BYTES = 1 << 20  # 1 MiB: far above any job spec, far below harm


def create_app(
    platform: Platform,
    run_loop: bool = True,
    max_body_bytes: int = MAX_BODY_BYTES,
    public_metrics: bool = False,
) -> FastAPI:
    """`run_loop`: start the live loop with the app (False: the caller drives it).
    `public_metrics`: serve `/metrics` without a token (for setups that guard it elsewhere);
    by default it needs an admin or operator token, since its labels name every tenant."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if run_loop:
            platform.loop.start()
        try:
            yield
        finally:
            platform.submits.close()  # every queued submit is stored (or refused) first
            if run_loop:
                platform.loop.stop()

    app = FastAPI(
        title="silkroute",
        version="1",
        description="Control plane of the China-ASEAN AI computing centre",
        lifespan=lifespan,
    )
    app.state.platform = platform
    metrics = ApiMetrics(platform.loop)
    # The agents' router first: its literal `/v1/sites/{site}/agent-token` must win over the
    # operators' `/v1/sites/{site}/{action}` (drain, undrain, remove).
    app.include_router(agent_router)
    app.include_router(router)
    app.include_router(governance_router)
    _install_errors(app)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus(request: Request) -> Response:
        if not public_metrics:
            header = request.headers.get("authorization")
            not_an_agent(await resolve_caller(platform, header)).require(Role.ADMIN, Role.OPERATOR)
        text = await run_in_threadpool(generate_latest, metrics.registry)
        return Response(text, media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(SubmitLane, platform=platform)  # inside the metrics and the body limit
    app.add_middleware(Timing, metrics=metrics)
    app.add_middleware(BodyLimit, limit=max_body_bytes)
    app.add_middleware(NoNul)
    return app


def _error(status: int, code: str, message: str, problems: list[schemas.Problem]) -> JSONResponse:
    body = schemas.ErrorBody(code=code, message=message, errors=problems)
    return JSONResponse(body.model_dump(), status_code=status)


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def service_error(_: Request, exc: ServiceError) -> JSONResponse:
        problems = [schemas.Problem.of(p) for p in exc.problems]
        return _error(exc.status, exc.code, exc.message, problems)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        found = problems_of(exc.errors(), body="body")
        problems = [schemas.Problem.of(p) for p in found]
        return _error(422, "invalid", message_of(found), problems)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        return _error(exc.status_code, "http", str(exc.detail), [])

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _error(500, "internal", "internal error; the server log has the details", [])


class Timing:
    """API latency per method, route and status (plain ASGI: no per-request task overhead)."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.latency.labels(scope["method"], route, str(status)).observe(
                time.perf_counter() - started
            )


class NoNul:
    """Refuse a NUL character in the path or a query parameter with 422: no name holds one,
    and PostgreSQL cannot even be asked about one (its text type refuses NUL: a 500)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            reason = "contains a NUL character"
            problem = None
            if "\x00" in scope["path"]:
                problem = FieldProblem("(path)", reason)
            elif b"%00" in scope["query_string"]:
                query = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
                named = [FieldProblem.at(("query", k), reason) for k, v in query if "\x00" in k + v]
                problem = named[0] if named else FieldProblem("(query)", reason)
            if problem is not None:
                response = _error(
                    422, "invalid", message_of([problem]), [schemas.Problem.of(problem)]
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class BodyLimit:
    """Refuse bodies over `limit` bytes with 413, declared (Content-Length) or streamed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        seen = 0
        started = False

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLarge
            return message

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, tracking)
        except BodyTooLarge:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = (
            schemas.ErrorBody(
                code="too_large", message=f"request body over {self.limit} bytes", errors=[]
            )
            .model_dump_json()
            .encode()
        )
        headers: list[Any] = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
