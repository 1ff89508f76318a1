"""Site agents' routes (`/v1/agent/...`, a site agent's token only) and the operator's
`POST /v1/sites/{site}/agent-token`. Thin: parse, call `control.agents`, return."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.concurrency import run_in_threadpool

from silkroute.api.routes import ERRORS, Caller, PlatformDep, token_owner
from silkroute.control import agents
from silkroute.control.auth import Principal, Role
from silkroute.control.errors import forbidden

router = APIRouter()
Object = Annotated[dict[str, Any], Body()]


async def agent_caller(request: Request) -> Principal:
    principal = await token_owner(request)
    if principal.role is not Role.AGENT:
        raise forbidden("the /v1/agent endpoints need a site agent's token")
    return principal


Agent = Annotated[Principal, Depends(agent_caller)]


@router.post("/v1/sites/{site}/agent-token", status_code=201, responses=ERRORS)
def agent_token(site: str, platform: PlatformDep, who: Caller) -> dict[str, Any]:
    """A token for the site's agent, shown once; the site is then served by that agent."""
    return {"site": site, "token": agents.issue_agent_token(platform, who, site)}


@router.get("/v1/agents", responses=ERRORS)
def list_agents(platform: PlatformDep, who: Caller) -> list[dict[str, Any]]:
    """Remote agents: state, heartbeat, the engine's inventory and, under `engine`, how it
    differs from the declared site (drained and capped nodes, engine nodes not declared)."""
    return agents.agent_views(platform, who)


@router.post("/v1/agent/heartbeat", responses=ERRORS)
async def heartbeat(body: Object, platform: PlatformDep, who: Agent) -> dict[str, Any]:
    """`backend`, `inventory` (what the engine offers: `engine`, `nodes`; on registering and
    when it changed), `registering` (first call)."""
    return await run_in_threadpool(agents.heartbeat, platform, who, body)


@router.get("/v1/agent/assignments", responses=ERRORS)
async def assignments(platform: PlatformDep, who: Agent) -> list[dict[str, Any]]:
    """Runs at this agent's site: what to run or stop, the last state reported, log offsets."""
    return await run_in_threadpool(agents.assignments, platform, who)


@router.post("/v1/agent/runs/{run_id}/status", responses=ERRORS)
async def report(run_id: str, body: Object, platform: PlatformDep, who: Agent) -> dict[str, Any]:
    """The engine's state of the run: state, exit_code, message, started_at, ended_at."""
    return await run_in_threadpool(agents.report, platform, who, run_id, body)


@router.post("/v1/agent/runs/{run_id}/logs", responses=ERRORS)
async def ship_log(run_id: str, body: Object, platform: PlatformDep, who: Agent) -> dict[str, Any]:
    """Output of the run: stream, offset (bytes already shipped), data (base64)."""
    return await run_in_threadpool(agents.ship_log, platform, who, run_id, body)
