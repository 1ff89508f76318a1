"""Thin routes: parse, call one service function, convert. No business logic here."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from silkroute.api import convert, schemas
from silkroute.api.submit_lane import (
    not_an_agent,
    resolve_caller,
    submit_batch_request,
    submit_request,
)
from silkroute.control import service
from silkroute.control.auth import Principal, Role
from silkroute.control.errors import ServiceError, invalid
from silkroute.model.cluster import SiteSpec

router = APIRouter()
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": schemas.ErrorBody} for code in (400, 401, 403, 404, 409, 413, 422)
}


async def platform_of(request: Request) -> service.Platform:
    platform: service.Platform = request.app.state.platform
    return platform


bearer = HTTPBearer(auto_error=False, description="A token from `admin init` or `tenant create`")


async def caller(
    request: Request,
    _: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The token's owner; the raw header is checked here so every failure says the same."""
    return not_an_agent(await token_owner(request))


async def token_owner(request: Request) -> Principal:
    """Whoever holds the token, agents included (their routes check the role)."""
    return await resolve_caller(request.app.state.platform, request.headers.get("authorization"))


Caller = Annotated[Principal, Depends(caller)]
PlatformDep = Annotated[service.Platform, Depends(platform_of)]


@router.get("/healthz", response_model=schemas.Health)
def healthz(platform: PlatformDep) -> schemas.Health:
    return schemas.Health(status="ok", jobs=service.count_jobs(platform))


# ----- tenants ---------------------------------------------------------------------------------
@router.post("/v1/tenants", status_code=201, response_model=schemas.TenantCreated, responses=ERRORS)
def create_tenant(
    body: schemas.TenantCreate, platform: PlatformDep, who: Caller
) -> schemas.TenantCreated:
    extra = {"monthly_budget", "ciio", "max_priority", "max_pending_jobs"}
    spec = schemas.TenantSpec.model_validate(body.model_dump(exclude=extra))
    row, token = service.create_tenant(
        platform,
        who,
        spec,
        body.monthly_budget,
        body.ciio,
        max_priority=body.max_priority,
        max_pending_jobs=body.max_pending_jobs,
    )
    return schemas.TenantCreated(tenant=convert.tenant_out(row), token=token)


@router.patch("/v1/tenants/{name}", response_model=schemas.TenantOut, responses=ERRORS)
def update_tenant(
    name: str, body: schemas.TenantUpdate, platform: PlatformDep, who: Caller
) -> schemas.TenantOut:
    """Admins: change the fields given (weight, quota, vouchers, budget, limits); null clears
    a budget or limit. Audited; the scheduler uses the new values from its next pass."""
    changes = body.model_dump(exclude_unset=True)
    return convert.tenant_out(service.update_tenant(platform, who, name, changes))


@router.get("/v1/tenants", response_model=list[schemas.TenantOut], responses=ERRORS)
def list_tenants(platform: PlatformDep, who: Caller) -> list[schemas.TenantOut]:
    return [convert.tenant_out(r) for r in service.list_tenants(platform, who)]


@router.get("/v1/tenants/{name}", response_model=schemas.TenantOut, responses=ERRORS)
def get_tenant(name: str, platform: PlatformDep, who: Caller) -> schemas.TenantOut:
    return convert.tenant_out(service.get_tenant(platform, who, name))


# ----- tokens ----------------------------------------------------------------------------------
@router.get("/v1/tokens", response_model=list[schemas.TokenOut], responses=ERRORS)
def list_tokens(platform: PlatformDep, who: Caller) -> list[schemas.TokenOut]:
    """Admins: every token; a tenant: its own tokens; an operator: its own token."""
    return [convert.token_out(r) for r in service.list_tokens(platform, who)]


@router.post("/v1/tokens", status_code=201, response_model=schemas.TokenCreated, responses=ERRORS)
def create_token(
    body: schemas.TokenCreate, platform: PlatformDep, who: Caller
) -> schemas.TokenCreated:
    """Admins issue any token; a tenant one more of its own (rotate: issue, then revoke)."""
    row, token = service.issue_tenant_or_staff_token(
        platform, who, Role(body.role), body.tenant, body.label
    )
    return schemas.TokenCreated(record=convert.token_out(row), token=token)


@router.delete("/v1/tokens/{token_id}", response_model=schemas.TokenOut, responses=ERRORS)
def revoke_token(token_id: int, platform: PlatformDep, who: Caller) -> schemas.TokenOut:
    """Revoke: the token answers 401 from the next request on."""
    _check_id(token_id, "token")
    return convert.token_out(service.revoke_token(platform, who, token_id))


# ----- sites -----------------------------------------------------------------------------------
@router.post("/v1/sites", status_code=201, response_model=schemas.SiteOut, responses=ERRORS)
def add_site(body: SiteSpec, platform: PlatformDep, who: Caller) -> schemas.SiteOut:
    row = service.add_site(platform, who, body)
    return convert.site_out(service.get_site(platform, who, row.name))


@router.get("/v1/sites", response_model=list[schemas.SiteOut], responses=ERRORS)
def list_sites(platform: PlatformDep, who: Caller) -> list[schemas.SiteOut]:
    """Every site: its declaration, and the datasets with a copy there whichever record
    says so (`copies`: the site's declaration and/or a dataset's registration)."""
    return [convert.site_out(v) for v in service.list_sites(platform, who)]


@router.get("/v1/sites/{site}", response_model=schemas.SiteOut, responses=ERRORS)
def get_site(site: str, platform: PlatformDep, who: Caller) -> schemas.SiteOut:
    """One site, as the list shows it."""
    return convert.site_out(service.get_site(platform, who, site))


@router.patch("/v1/sites/{site}", response_model=schemas.SiteOut, responses=ERRORS)
def update_site(
    site: str, body: schemas.SiteUpdate, platform: PlatformDep, who: Caller
) -> schemas.SiteOut:
    """Operators: change the site's operator, prices, latencies or datasets (a JSON merge
    patch: prices and latencies merge by key, null removes one; `datasets` is replaced).
    Name, country and nodes are not changed here. Audited; the next scheduling pass and
    the submit check use the new values, running jobs stay where they are."""
    changes = body.model_dump(exclude_unset=True)
    row = service.update_site(platform, who, site, changes)
    return convert.site_out(service.get_site(platform, who, row.name))


# ----- nodes -----------------------------------------------------------------------------------
@router.get("/v1/nodes", response_model=list[schemas.NodeOut], responses=ERRORS)
def list_nodes(
    platform: PlatformDep, who: Caller, site: str | None = None
) -> list[schemas.NodeOut]:
    """Every node of the registered sites and its state (active, drained, removed)."""
    return [convert.node_out(v) for v in service.list_nodes(platform, who, site)]


# Before `{action}`: "nodes" would be read as an action otherwise.
@router.post(
    "/v1/sites/{site}/nodes",
    status_code=201,
    response_model=schemas.NodesChanged,
    responses=ERRORS,
)
def add_nodes(
    site: str, body: schemas.NodesAdd, platform: PlatformDep, who: Caller
) -> schemas.NodesChanged:
    """Operators: declare more nodes at the site (node groups as in a site file); their
    names continue the site's numbering, and the next scheduling pass uses them."""
    views = service.add_nodes(platform, who, site, body.nodes)
    return schemas.NodesChanged(nodes=[convert.node_out(v) for v in views])


@router.post("/v1/sites/{site}/{action}", response_model=schemas.NodesChanged, responses=ERRORS)
def change_nodes(
    site: str,
    action: Literal["drain", "undrain", "remove", "restore"],
    platform: PlatformDep,
    who: Caller,
    body: schemas.NodesChange | None = None,
) -> schemas.NodesChanged:
    """Operators: drain (no new work, running work finishes), undrain, remove (running
    work is stopped and requeued) or restore (removed nodes take work again, once their old
    runs are confirmed stopped: else 409; a node drained before its removal comes back
    drained, listed in `kept_drained`) the site's nodes, or the `nodes` named. Kept across
    restarts."""
    nodes = body.nodes if body is not None else None
    changed = service.change_nodes(platform, who, site, action, nodes)
    return schemas.NodesChanged(
        nodes=[convert.node_out(v) for v in changed.nodes],
        requeued_jobs=changed.requeued,
        kept_drained=[
            schemas.KeptDrainOut(node=k.node, drained_by=k.drained_by, drained_at=k.drained_at)
            for k in changed.kept_drained
        ],
    )


# ----- jobs ------------------------------------------------------------------------------------
@router.post(
    "/v1/jobs",
    status_code=201,
    response_model=schemas.JobOut,
    responses={
        **ERRORS,
        200: {"model": schemas.JobOut, "description": "Same Idempotency-Key"},
        429: {"model": schemas.ErrorBody, "description": "The tenant's max_pending_jobs"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/JobSpec"}},
                "application/yaml": {"schema": {"$ref": "#/components/schemas/JobSpec"}},
            },
        }
    },
)
async def submit_job(
    request: Request,
    who: Caller,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> Response:
    """Served by `SubmitLane` in the app (same code); this route documents it."""
    status, body = await submit_request(
        request.app.state.platform,
        who,
        await request.body(),
        request.headers.get("content-type"),
        idempotency_key,
    )
    return Response(body, status_code=status, media_type="application/json")


@router.post(
    "/v1/jobs:batch",
    status_code=201,
    response_model=schemas.BatchSubmitted,
    responses={
        **ERRORS,
        200: {"model": schemas.BatchSubmitted, "description": "Same Idempotency-Key"},
        429: {"model": schemas.ErrorBody, "description": "The tenant's max_pending_jobs"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": schemas.JOB_BATCH_SCHEMA},
                "application/yaml": {"schema": schemas.JOB_BATCH_SCHEMA},
            },
        }
    },
)
async def submit_jobs(
    request: Request,
    who: Caller,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> Response:
    """Several jobs of one tenant, all stored in one transaction or none: a refused job
    refuses the batch, its error naming `jobs[i]`. The tenant's pending cap counts the
    batch whole; one `Idempotency-Key` covers it."""
    status, body = await submit_batch_request(
        request.app.state.platform,
        who,
        await request.body(),
        request.headers.get("content-type"),
        idempotency_key,
    )
    return Response(body, status_code=status, media_type="application/json")


@router.get("/v1/jobs", response_model=schemas.JobPageOut, responses=ERRORS)
def list_jobs(
    platform: PlatformDep,
    who: Caller,
    state: str | None = None,
    tenant: str | None = None,
    name: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: str | None = None,
) -> schemas.JobPageOut:
    page = service.list_jobs(platform, who, state, tenant, name, limit, cursor)
    return schemas.JobPageOut(
        jobs=[convert.job_out(r) for r in page.jobs], next_cursor=page.next_cursor
    )


@router.get("/v1/jobs/{job_id}", response_model=schemas.JobDetailOut, responses=ERRORS)
def get_job(job_id: int, platform: PlatformDep, who: Caller) -> schemas.JobDetailOut:
    _check_id(job_id)
    return convert.job_detail_out(service.get_job(platform, who, job_id))


@router.delete(
    "/v1/jobs/{job_id}", status_code=202, response_model=schemas.JobOut, responses=ERRORS
)
def cancel_job(job_id: int, platform: PlatformDep, who: Caller) -> schemas.JobOut:
    _check_id(job_id)
    return convert.job_out(service.cancel_job(platform, who, job_id))


@router.get("/v1/jobs/{job_id}/logs", response_model=schemas.LogOut, responses=ERRORS)
def job_logs(
    job_id: int,
    platform: PlatformDep,
    who: Caller,
    offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
    stream: str = "stdout",
) -> schemas.LogOut:
    _check_id(job_id)
    chunk = service.job_logs(platform, who, job_id, offset, stream)
    return schemas.LogOut(text=chunk.text, offset=chunk.offset, finished=chunk.finished)


def _check_id(job_id: int, what: str = "job") -> None:
    if not 0 < job_id < 2**31:  # ids are 32-bit integers in the store
        raise ServiceError(404, "not_found", f"no such {what}")


# ----- usage -----------------------------------------------------------------------------------
@router.get("/v1/usage", response_model=schemas.UsageOut, responses=ERRORS)
def usage(
    platform: PlatformDep,
    who: Caller,
    tenant: str | None = None,
    since: Annotated[str | None, Query(alias="from", description="YYYY-MM-DD (UTC)")] = None,
    until: Annotated[str | None, Query(alias="to", description="YYYY-MM-DD, exclusive")] = None,
) -> schemas.UsageOut:
    start, end = _day(since, "from"), _day(until, "to")
    if start is not None and end is not None and end < start:
        raise invalid("to", f"{until} is before from ({since}); `to` is exclusive")
    report = service.usage(platform, who, tenant, start, end)
    return convert.usage_out(report)


def _day(text: str | None, name: str) -> float | None:
    if text is None:
        return None
    try:
        day = dt.datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=dt.UTC)
    except ValueError:
        raise invalid(name, f"expected YYYY-MM-DD, got {text!r}") from None
    return day.timestamp()
