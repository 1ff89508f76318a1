"""What a site's agent may do, one function per operation (remote over HTTP, or in-process).

An agent holds a site-scoped token (`Role.AGENT`, `Principal.site`): it reads the runs the
control plane assigned to its site, reports their engine states and ships their logs, and
heartbeats. A run of another site answers "not found", exactly like a missing one. Reports are
written to the run's `engine_*` columns and taken in by the live loop, which stays the only
writer of job states.

Sites without an agent row are served by the control plane's embedded agents; issuing an agent
token for a site hands it to a remote agent (the site takes no new work until that agent's
first heartbeat).
"""

from __future__ import annotations

import base64
import binascii
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select, update

from silkroute.backends.base import BackendError, RunState
from silkroute.backends.capabilities import check_run_id
from silkroute.control.auth import Principal, Role, issue_token
from silkroute.control.errors import ServiceError, invalid, not_found
from silkroute.control.governance import actor_of
from silkroute.control.inventory import compare, parse_stored
from silkroute.control.loop import LEASE_EXPIRED, LIVE_RUN_STATES
from silkroute.control.service import Platform, no_nul
from silkroute.model.cluster import SiteSpec
from silkroute.model.inventory import NodeCondition, SiteInventory, inventory_error
from silkroute.store.audit import audited, record
from silkroute.store.models import AgentRow, JobRow, RunRow, SiteRow

HEARTBEAT_FRACTION = 4  # agents heartbeat this many times per timeout
MAX_LOG_CHUNK = 512 * 1024  # bytes per shipped chunk (base64 keeps it under the body limit)
STREAMS = ("stdout", "stderr")


# ----- for operators -------------------------------------------------------------------------
def issue_agent_token(platform: Platform, caller: Principal, site: str) -> str:
    """A token for `site`'s agent (shown once); from now on a remote agent serves the site."""
    caller.require(Role.ADMIN, Role.OPERATOR)
    no_nul(site, ("site",))
    now = time.time()
    with audited(platform.store) as session:
        if session.get(SiteRow, site) is None:
            raise not_found("site")
        agent = session.get(AgentRow, site)
        if agent is None:
            session.add(AgentRow(site=site, state="waiting", inventory={}, state_since=now))
        token = issue_token(session, Role.AGENT, label=f"agent of {site}", site=site)
        record(session, "admin", actor_of(caller), f"site/{site}", {"action": "agent token"})
    platform.loop.request_rebuild()  # the site waits for its agent's first heartbeat
    return token


def list_agents(platform: Platform, caller: Principal) -> list[AgentRow]:
    caller.require(Role.ADMIN, Role.OPERATOR)
    with platform.store.session() as session:
        return list(session.scalars(select(AgentRow).order_by(AgentRow.site)))


def agent_views(platform: Platform, caller: Principal) -> list[dict[str, Any]]:
    """Each remote agent, its engine's inventory and how it differs from the declared site
    (`control.inventory`: what the engine drains or caps, what it reports beyond)."""
    rows = list_agents(platform, caller)
    with platform.store.session() as session:
        specs = {r.name: SiteSpec.model_validate(r.spec) for r in session.scalars(select(SiteRow))}
    views = []
    for a in rows:
        stored = parse_stored(a.inventory)
        spec = specs.get(a.site)
        diff = compare(spec, stored).as_json() if stored is not None and spec is not None else None
        views.append(
            {
                "site": a.site,
                "state": a.state,
                "backend": a.backend,
                "last_heartbeat": a.last_heartbeat,
                "registered_at": a.registered_at,
                "inventory": a.inventory,
                "inventory_reported_at": (a.inventory or {}).get("reported_at"),
                "engine": diff,
            }
        )
    return views


def remote_sites(platform: Platform) -> set[str]:
    """Sites a remote agent serves (the embedded agents leave them alone)."""
    with platform.store.session() as session:
        return set(session.scalars(select(AgentRow.site)))


# ----- for agents ----------------------------------------------------------------------------
def _site_of(caller: Principal) -> str:
    if caller.role is not Role.AGENT or caller.site is None:
        raise ServiceError(403, "forbidden", "this needs a site agent's token")
    return caller.site


def heartbeat(platform: Platform, caller: Principal, body: dict[str, Any]) -> dict[str, Any]:
    """The agent is alive; `body`: `backend` (its engine), `inventory` (what the engine
    offers, a `model.inventory.SiteInventory`; sent on registering and when it changed,
    absent otherwise: the stored one stands), `registering` (its first call)."""
    site = _site_of(caller)
    now = time.time()
    backend = body.get("backend", "")
    if not isinstance(backend, str) or len(backend) > 32:
        raise invalid("backend", "an engine name of at most 32 characters")
    no_nul(body)
    reported = _inventory(body)
    came_back = changed = False
    # The audit log's lock only when there is an inventory to compare (rare): not per beat.
    opened = audited(platform.store) if reported is not None else platform.store.session()
    with opened as session:
        agent = session.get(AgentRow, site)
        if agent is None:  # the site's token predates its agent row (or it was removed)
            agent = AgentRow(site=site, state="waiting", inventory={}, state_since=now)
            session.add(agent)
        if agent.registered_at is None or body.get("registering"):
            agent.registered_at = now
        agent.backend, agent.last_heartbeat = backend, now
        if reported is not None:
            stored = {k: v for k, v in (agent.inventory or {}).items() if k != "reported_at"}
            changed = stored != reported
            if changed:
                agent.inventory = {**reported, "reported_at": now}
                nodes = reported["nodes"]
                up = sum(1 for n in nodes if n["state"] == NodeCondition.UP.value)
                detail = {"action": "inventory", "engine": reported["engine"]}
                detail |= {"nodes": len(nodes), "up": up}
                record(session, "admin", f"agent:{site}", f"site/{site}", detail)
        came_back = agent.state != "up"
        has_inventory = bool(agent.inventory)
    if came_back:
        platform.loop.agents_changed()
    if changed:
        platform.loop.inventory_changed()
    timeout = platform.loop.agent_timeout_s
    return {
        "site": site,
        "heartbeat_s": timeout / HEARTBEAT_FRACTION,
        "timeout_s": timeout,
        # Out of reach of the control plane this long, the agent stops its runs itself
        # (SIGTERM, `grace_s`, kill): the control plane requeues them only after both.
        "lease_s": platform.loop.lease_s,
        "grace_s": platform.loop.grace_s,
        # False: the control plane has no inventory of this site (send it again).
        "inventory_stored": has_inventory,
    }


def _inventory(body: dict[str, Any]) -> dict[str, Any] | None:
    """The body's inventory, checked (None: not sent). A bad one is refused whole, with the
    first field that is wrong: nothing of it is stored."""
    raw = body.get("inventory")
    if raw is None or raw == {}:
        return None
    if not isinstance(raw, dict):
        raise invalid("inventory", "an object with `engine` and `nodes`")
    try:
        return SiteInventory.model_validate(raw).model_dump(mode="json")
    except ValidationError as exc:
        where, reason = inventory_error(exc)
        raise invalid(where, reason) from None


def assignments(platform: Platform, caller: Principal) -> list[dict[str, Any]]:
    """Every run at the agent's site the control plane has not seen end: what to run, what
    to stop, the last engine state it heard, and how much of each log it already has."""
    site = _site_of(caller)
    return site_assignments(platform, site)


def site_assignments(platform: Platform, site: str) -> list[dict[str, Any]]:
    with platform.store.session() as session:
        rows = session.execute(
            select(RunRow, JobRow.spec)
            .join(JobRow, JobRow.id == RunRow.job_id)
            .where(RunRow.site == site, RunRow.state.in_(LIVE_RUN_STATES))
            .order_by(RunRow.created_at)
        ).all()
    out = []
    for run, spec in rows:
        out.append(
            {
                "run_id": run.run_id,
                "job_id": str(run.job_id),
                "attempt": run.attempt,
                "intent": "stop" if run.state == "stopping" else "run",
                "last_reported": run.engine_state,
                "grace_s": platform.loop.grace_s,
                "command": spec.get("command") or "",
                "workers": [[node, list(devices)] for node, devices in run.placement],
                "env": dict(spec.get("env") or {}),
                "site": run.site,
                "accelerator_type": run.accelerator_type,
                "accelerators_per_worker": spec.get("accelerators_per_worker", 0.0),
                "cpu_per_worker": spec.get("cpu_per_worker", 1.0),
                "memory_gib_per_worker": spec.get("memory_gib_per_worker", 1.0),
                "time_limit_s": spec.get("time_limit_s"),
                # Per job, never per attempt: a resumed attempt finds the last checkpoint.
                "checkpoint": f"job{run.job_id}-checkpoints",
                "log_offsets": {s: _log_size(platform, run.run_id, s) for s in STREAMS},
            }
        )
    return out


def report(
    platform: Platform, caller: Principal, run_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    """The engine's state of one run: `state` (a RunState value), `exit_code`, `message`,
    `started_at`, `ended_at` (engine clock), `launch_failed` (the engine refused it) and
    `fenced` (the agent stopped it itself: its lease ran out)."""
    site = _site_of(caller)
    try:
        state = RunState(str(body.get("state")))
    except ValueError:
        states = ", ".join(s.value for s in RunState)
        raise invalid("state", f"one of {states}") from None
    exit_code = _optional(body, "exit_code", int, MAX_EXIT_CODE)
    started_at = _optional(body, "started_at", float, MAX_EPOCH_S)
    ended_at = _optional(body, "ended_at", float, MAX_EPOCH_S)
    message = str(body.get("message") or "").replace("\x00", "")[:2000]
    _check_run(run_id)
    with platform.store.session() as session:
        run = session.get(RunRow, run_id)
        if run is None or run.site != site:
            raise not_found("run")  # another site's run looks exactly like a missing one
        if run.state == "ended":
            return {"run_id": run_id, "accepted": False}
        # Every column written, the flag always: an ORM update would skip a `report_new`
        # it believes already set while the loop clears it beside us (a lost report).
        session.execute(
            update(RunRow)
            .where(RunRow.run_id == run_id)
            .values(
                engine_state=state.value,
                engine_exit_code=exit_code,
                engine_message=message,
                engine_started_at=started_at,
                engine_ended_at=ended_at,
                launch_failed=bool(body.get("launch_failed")) and run.state == "launching",
                report_new=True,
            )
            .execution_options(synchronize_session=False)
        )
        if body.get("fenced") is True and state.terminal:
            # Not the job's doing: it is queued again without using a retry (`loop`).
            session.execute(
                update(RunRow)
                .where(RunRow.run_id == run_id, RunRow.stop_reason.is_(None))
                .values(stop_reason=LEASE_EXPIRED)
                .execution_options(synchronize_session=False)
            )
        agent = session.get(AgentRow, site)
        if agent is not None:
            agent.last_heartbeat = time.time()  # any word from the agent says it is alive
    platform.loop.run_reported()
    return {"run_id": run_id, "accepted": True}


def ship_log(
    platform: Platform, caller: Principal, run_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    """Append output to a run's log: `stream`, `offset` (bytes the agent already shipped),
    `data` (base64). Idempotent: a chunk sent twice is written once."""
    site = _site_of(caller)
    stream = body.get("stream")
    if stream not in STREAMS:
        raise invalid("stream", "stdout or stderr")
    offset = body.get("offset")
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise invalid("offset", "a byte offset (an integer >= 0)")
    try:
        data = base64.b64decode(str(body.get("data", "")), validate=True)
    except (binascii.Error, ValueError):
        raise invalid("data", "base64") from None
    if len(data) > MAX_LOG_CHUNK:
        raise invalid("data", f"at most {MAX_LOG_CHUNK} bytes per chunk")
    _check_run(run_id)
    with platform.store.session() as session:
        run = session.get(RunRow, run_id)
        if run is None or run.site != site:
            raise not_found("run")
    path = log_path(platform, run_id, stream)
    path.parent.mkdir(parents=True, exist_ok=True)
    size = path.stat().st_size if path.exists() else 0
    if offset > size:
        raise ServiceError(409, "gap", f"offset: the log has {size} bytes; send from there")
    with open(path, "r+b" if path.exists() else "wb") as handle:
        handle.seek(offset)
        handle.write(data)
        handle.truncate()
    return {"offset": offset + len(data)}


def _check_run(run_id: str) -> None:
    try:
        check_run_id(run_id)
    except BackendError:
        raise not_found("run") from None


def log_path(platform: Platform, run_id: str, stream: str) -> Path:
    if not run_id or "/" in run_id or run_id.startswith(".") or stream not in STREAMS:
        raise invalid("run_id", "not a run id")
    return platform.loop.logs_dir / run_id / f"{stream}.log"


def _log_size(platform: Platform, run_id: str, stream: str) -> int:
    path = log_path(platform, run_id, stream)
    return path.stat().st_size if path.exists() else 0


# A reported exit code is stored in a 32-bit column (PostgreSQL refused a larger one: a 500);
# an engine's clock reading, as seconds since 1970, lies within +-10^11 (the year 5138).
MAX_EXIT_CODE = 2**31 - 1
MAX_EPOCH_S = 1e11


def _optional(body: dict[str, Any], name: str, kind: type, most: float) -> Any:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid(name, "a number")
    if not -most <= value <= most:  # NaN too
        raise invalid(name, f"a number between {-most:.15g} and {most:.15g}")
    return kind(value)


@dataclass(frozen=True, slots=True)
class InProcess:
    """The agent operations for one site, called in-process (the embedded agents): the same
    functions the HTTP routes call, with that site's agent identity."""

    platform: Platform
    site: str

    @property
    def caller(self) -> Principal:
        return Principal(Role.AGENT, site=self.site)

    def heartbeat(self, body: dict[str, Any]) -> dict[str, Any]:
        timeout = self.platform.loop.agent_timeout_s
        return {"site": self.site, "heartbeat_s": timeout / HEARTBEAT_FRACTION}

    def assignments(self) -> list[dict[str, Any]]:
        return site_assignments(self.platform, self.site)

    def report(self, run_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return report(self.platform, self.caller, run_id, body)

    def ship_log(self, run_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return ship_log(self.platform, self.caller, run_id, body)
