"""What the API does, one function per operation; routes only parse, call and serialise.

Every function takes the caller (`Principal`) and enforces what it may see: a tenant sees
only its own jobs, and another tenant's job answers "not found", exactly like a missing one.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from silkroute.control import accounting
from silkroute.control.auth import Principal, Role, TokenCache, issue_token
from silkroute.control.errors import FieldProblem, ServiceError, conflict, invalid, not_found
from silkroute.control.governance import (
    Explanation,
    actor_of,
    check_job_datasets,
    refusals_audited,
)
from silkroute.control.loop import (
    ACTIVE_JOB_STATES,
    TERMINAL_JOB_STATES,
    ControlLoop,
    tenant_spec_of,
)
from silkroute.control.scheduling import LiveScheduler
from silkroute.model.accelerators import catalogue
from silkroute.model.cluster import SiteSpec
from silkroute.model.job import JobSpec
from silkroute.model.tenant import TenantSpec
from silkroute.policy.explain import audit_detail
from silkroute.store.audit import audited, record
from silkroute.store.db import Store
from silkroute.store.models import JobEventRow, JobRow, RunRow, SiteRow, TenantRow

JOB_STATES = (*ACTIVE_JOB_STATES, *TERMINAL_JOB_STATES)


@dataclass(slots=True)
class Platform:
    """What every service needs: the store and the live loop (with its back end)."""

    store: Store
    loop: ControlLoop
    # Schedulers over the stored sites, for "could this job ever run?" at submit time; keyed
    # by the sites and the tenant's limits, so a change is seen at once (not at the next pass).
    checkers: dict[tuple[object, ...], LiveScheduler] = field(default_factory=dict)
    tokens: TokenCache = field(default_factory=TokenCache)
    sites: SitesSnapshot | None = None


def validation_problems(exc: ValidationError) -> ServiceError:
    problems = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(body)"
        problems.append(FieldProblem(loc, str(err["msg"]).removeprefix("Value error, ")))
    message = "; ".join(f"{p.field}: {p.reason}" for p in problems)
    return ServiceError(422, "invalid", message, problems)


def no_nul(value: Any, where: str) -> None:
    """Refuse NUL characters anywhere: PostgreSQL text cannot hold them."""
    if isinstance(value, str):
        if "\x00" in value:
            raise invalid(where or "(body)", "contains a NUL character")
    elif isinstance(value, dict):
        for key, item in value.items():
            no_nul(str(key), where or "(body)")
            no_nul(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            no_nul(item, f"{where}[{i}]")


# ----- tenants ---------------------------------------------------------------------------------
def create_tenant(
    platform: Platform,
    caller: Principal,
    spec: TenantSpec,
    monthly_budget: float | None,
    ciio: bool = False,
) -> tuple[TenantRow, str]:
    caller.require(Role.ADMIN)
    no_nul(spec.model_dump(mode="json"), "")
    with audited(platform.store) as session:
        if session.get(TenantRow, spec.name) is not None:
            raise conflict("exists", f"tenant {spec.name} already exists")
        row = TenantRow(
            name=spec.name,
            country=spec.country,
            weight=spec.weight,
            quota=dict(spec.quota),
            voucher_accelerator_hours=spec.voucher_accelerator_hours,
            pay_as_you_go=spec.pay_as_you_go,
            monthly_budget=monthly_budget,
            created_at=time.time(),
            ciio=ciio,
        )
        session.add(row)
        session.flush()
        token = issue_token(session, Role.TENANT, spec.name, label=f"tenant {spec.name}")
        detail = {"action": "tenant create", "ciio": ciio, **spec.model_dump(mode="json")}
        record(session, "admin", actor_of(caller), f"tenant/{spec.name}", detail)
    platform.loop.request_rebuild()
    return row, token


def list_tenants(platform: Platform, caller: Principal) -> list[TenantRow]:
    with platform.store.session() as session:
        query = select(TenantRow).order_by(TenantRow.name)
        if not caller.staff:
            query = query.where(TenantRow.name == caller.tenant)
        return list(session.scalars(query))


def get_tenant(platform: Platform, caller: Principal, name: str) -> TenantRow:
    with platform.store.session() as session:
        row = session.get(TenantRow, name)
        if row is None or (not caller.staff and caller.tenant != name):
            raise not_found("tenant")
        return row


# ----- sites -----------------------------------------------------------------------------------
MAX_SITE_NODES = 100_000  # a site file with more nodes is a typo, not a computing centre


def add_site(platform: Platform, caller: Principal, spec: SiteSpec) -> SiteRow:
    caller.require(Role.ADMIN, Role.OPERATOR)
    nodes = sum(group.count for group in spec.nodes)
    if nodes > MAX_SITE_NODES:
        raise invalid("nodes", f"{nodes} nodes; a site has at most {MAX_SITE_NODES}")
    no_nul(spec.model_dump(mode="json"), "")
    with audited(platform.store) as session:
        if session.get(SiteRow, spec.name) is not None:
            raise conflict("exists", f"site {spec.name} already exists")
        row = SiteRow(
            name=spec.name,
            country=spec.country,
            spec=spec.model_dump(mode="json"),
            created_at=time.time(),
        )
        session.add(row)
        detail = {"action": "site add", "name": spec.name, "country": spec.country}
        record(session, "admin", actor_of(caller), f"site/{spec.name}", detail)
    platform.loop.request_rebuild()
    return row


def list_sites(platform: Platform, caller: Principal) -> list[SiteRow]:
    with platform.store.session() as session:
        return list(session.scalars(select(SiteRow).order_by(SiteRow.name)))


# ----- jobs ------------------------------------------------------------------------------------
def submit_job(
    platform: Platform, caller: Principal, body: Any, idempotency_key: str | None
) -> tuple[JobRow, bool]:
    """Store a new job (or return the one an earlier submit with the same key stored).

    Returns the job and whether it was created now.
    """
    if not isinstance(body, dict):
        raise invalid("(body)", "a job is a JSON object of fields (see docs/job-spec.md)")
    if caller.role is Role.TENANT:
        given = body.get("tenant")
        if given is not None and given != caller.tenant:
            raise ServiceError(
                403, "forbidden", f"tenant: a {caller.tenant} token cannot submit for {given!r}"
            )
        body = {**body, "tenant": caller.tenant}
    if idempotency_key is not None and not 0 < len(idempotency_key) <= 128:
        raise ServiceError(
            400,
            "invalid",
            "Idempotency-Key: between 1 and 128 characters",
            [FieldProblem("Idempotency-Key", "between 1 and 128 characters")],
        )
    try:
        spec = JobSpec.model_validate(body)
    except ValidationError as exc:
        raise validation_problems(exc) from None
    no_nul(spec.model_dump(mode="json"), "")
    # Jobs that read datasets get a data-decision record, in the submit's transaction.
    opened = audited(platform.store) if spec.datasets else platform.store.session()
    with refusals_audited(platform, caller, spec), opened as session:
        if idempotency_key is not None:
            earlier = _by_key(session, spec.tenant, idempotency_key)
            if earlier is not None:
                return earlier, False
        tenant = session.get(TenantRow, spec.tenant)
        if tenant is None:
            raise invalid("tenant", f"no tenant named {spec.tenant!r}")
        decided = _check_runnable(platform, session, spec, tenant)
        refusal = accounting.budget_refusal(session, tenant, time.time())
        if refusal is not None:
            raise conflict("budget_exhausted", refusal)
        now = time.time()
        values = {
            "tenant": spec.tenant,
            "name": spec.name,
            "spec": spec.model_dump(mode="json"),
            "state": "pending",
            "submitted_at": now,
            "idempotency_key": idempotency_key,
            "attempts": 0,
            "failures": 0,
            "cancel_requested": False,
            "message": "",
        }
        try:
            # Core inserts: the ORM's unit of work costs more than the rest of a submit.
            with session.begin_nested():
                job_id = session.execute(
                    insert(JobRow).values(**values).returning(JobRow.id)
                ).scalar_one()
        except IntegrityError:
            earlier = _by_key(session, spec.tenant, idempotency_key or "")
            if earlier is None:
                raise
            return earlier, False
        session.execute(
            insert(JobEventRow).values(
                job_id=job_id, at=now, state="pending", reason="submitted", message=""
            )
        )
        if decided is not None:
            detail = audit_detail(
                decided.governance, spec.tenant, tuple(spec.datasets), decided.decisions
            )
            record(session, "data-decision", actor_of(caller), f"job/{job_id}", detail)
        row = JobRow(id=job_id, **values)
    platform.loop.submitted(row.id)
    return row, True


def _by_key(session: Session, tenant: str, key: str) -> JobRow | None:
    return session.scalar(
        select(JobRow).where(JobRow.tenant == tenant, JobRow.idempotency_key == key)
    )


@dataclass(frozen=True, slots=True)
class SitesSnapshot:
    key: tuple[tuple[str, float], ...]
    names: frozenset[str]
    specs: list[SiteSpec]
    accelerator_types: frozenset[str]


def _sites_snapshot(platform: Platform, session: Session) -> SitesSnapshot:
    """The registered sites, re-read only when a site was added or removed."""
    key = tuple(sorted(session.execute(select(SiteRow.name, SiteRow.created_at)).tuples()))
    cached = platform.sites
    if cached is not None and cached.key == key:
        return cached
    specs = [
        SiteSpec.model_validate(row.spec)
        for row in session.scalars(select(SiteRow).order_by(SiteRow.name))
    ]
    types = set(catalogue().names())
    types.update(g.accelerator for s in specs for g in s.nodes if g.accelerator)
    snapshot = SitesSnapshot(key, frozenset(s.name for s in specs), specs, frozenset(types))
    platform.sites = snapshot
    return snapshot


def _check_runnable(
    platform: Platform, session: Session, spec: JobSpec, tenant: TenantRow
) -> Explanation | None:
    """Refuse what could never run here, naming the field; the data decision, if any."""
    if spec.replicas != 1:
        raise invalid("replicas", "submit each inference replica as its own job")
    if spec.command is None or spec.command == [] or spec.command == "":
        raise invalid("command", "a job needs a command to run (a list, or a shell line)")
    snapshot = _sites_snapshot(platform, session)
    known_types = snapshot.accelerator_types
    for name in spec.accelerator_types or []:
        if name not in known_types:
            raise invalid(
                "accelerator_types",
                f"unknown accelerator type {name!r}; known: " + ", ".join(sorted(known_types)),
            )
    for name in spec.sites or []:
        if name not in snapshot.names:
            raise invalid("sites", f"no site named {name!r}")
    key = (
        snapshot.key,
        tenant.name,
        json.dumps(tenant.quota, sort_keys=True),
    )
    checker = platform.checkers.get(key)
    if checker is None:
        if len(platform.checkers) > 256:
            platform.checkers.clear()
        checker = platform.checkers[key] = LiveScheduler(snapshot.specs, [tenant_spec_of(tenant)])
    why = checker.unsatisfiable(spec)
    if why is not None:
        raise invalid("(job)", why)
    return check_job_datasets(session, spec, platform.loop.operator_policies)


@dataclass(slots=True)
class JobPage:
    jobs: list[JobRow]
    next_cursor: str | None


def list_jobs(
    platform: Platform,
    caller: Principal,
    state: str | None,
    tenant: str | None,
    name: str | None,
    limit: int,
    cursor: str | None,
) -> JobPage:
    if state is not None and state not in JOB_STATES:
        raise invalid("state", f"unknown state {state!r}; valid: {', '.join(JOB_STATES)}")
    after = _decode_cursor(cursor)
    with platform.store.session() as session:
        query = select(JobRow).order_by(JobRow.id.desc()).limit(limit + 1)
        if not caller.staff:
            query = query.where(JobRow.tenant == caller.tenant)
        elif tenant is not None:
            query = query.where(JobRow.tenant == tenant)
        if state is not None:
            query = query.where(JobRow.state == state)
        if name is not None:
            query = query.where(JobRow.name == name)
        if after is not None:
            query = query.where(JobRow.id < after)
        rows = list(session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return JobPage(rows, _encode_cursor(rows[-1].id) if more and rows else None)


def _encode_cursor(job_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"before": job_id}).encode()).decode()


def _decode_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))["before"]
        if isinstance(value, int) and 0 < value < 2**31:
            return value
    except (ValueError, KeyError, TypeError):
        pass
    raise invalid("cursor", "not a cursor this server issued (use next_cursor as given)")


def _own_job(session: Session, caller: Principal, job_id: int) -> JobRow:
    row = session.get(JobRow, job_id)
    if row is None or (not caller.staff and row.tenant != caller.tenant):
        raise not_found("job")  # another tenant's job looks exactly like a missing one
    return row


@dataclass(slots=True)
class JobDetail:
    job: JobRow
    events: list[JobEventRow]
    runs: list[RunRow]
    reasons_by_site: dict[str, str]


def get_job(platform: Platform, caller: Principal, job_id: int) -> JobDetail:
    with platform.store.session() as session:
        row = _own_job(session, caller, job_id)
        events = list(
            session.scalars(
                select(JobEventRow).where(JobEventRow.job_id == job_id).order_by(JobEventRow.id)
            )
        )
        runs = list(
            session.scalars(select(RunRow).where(RunRow.job_id == job_id).order_by(RunRow.attempt))
        )
    reasons: dict[str, str] = {}
    if row.state == "pending":
        reasons = platform.loop.scheduler.reasons_by_site(row.id, JobSpec.model_validate(row.spec))
    return JobDetail(row, events, runs, reasons)


def cancel_job(platform: Platform, caller: Principal, job_id: int) -> JobRow:
    with platform.store.session() as session:
        row = _own_job(session, caller, job_id)
        if row.state in TERMINAL_JOB_STATES:
            raise conflict("finished", f"job {job_id} already {row.state}")
        if not row.cancel_requested:
            row.cancel_requested = True
            session.add(
                JobEventRow(
                    job_id=row.id, at=time.time(), state=row.state, reason="cancel-requested"
                )
            )
    platform.loop.cancel_requested()
    return row


@dataclass(slots=True)
class LogChunk:
    text: str
    offset: int
    finished: bool


def job_logs(
    platform: Platform, caller: Principal, job_id: int, offset: int, stream: str
) -> LogChunk:
    """Output of the job's latest run (rank 0, or every rank where the engine merges them),
    from byte `offset`."""
    if stream not in ("stdout", "stderr"):
        raise invalid("stream", "stdout or stderr")
    with platform.store.session() as session:
        row = _own_job(session, caller, job_id)
        run_id = row.current_run
        finished = row.state in TERMINAL_JOB_STATES
    if run_id is None:
        return LogChunk("", 0, finished)
    # Shipped by the run's site agent, remote or embedded (control/agents.py).
    path = platform.loop.logs_dir / run_id / f"{stream}.log"
    if not path.exists():
        return LogChunk("", offset, finished)
    with open(path, "rb") as handle:
        handle.seek(max(0, offset))
        data = handle.read(1 << 20)
    return LogChunk(data.decode("utf-8", "replace"), max(0, offset) + len(data), finished)


def count_jobs(platform: Platform) -> dict[str, int]:
    with platform.store.session() as session:
        rows = session.execute(select(JobRow.state, func.count()).group_by(JobRow.state)).all()
    return {state: int(n) for state, n in rows}


# ----- usage -----------------------------------------------------------------------------------
@dataclass(slots=True)
class UsageReport:
    lines: list[accounting.UsageLine]
    tenants: list[TenantRow]
    voucher_hours_used: dict[str, float]
    month_spend: dict[str, float]


def usage(
    platform: Platform,
    caller: Principal,
    tenant: str | None,
    since: float | None,
    until: float | None,
) -> UsageReport:
    if not caller.staff:
        if tenant is not None and tenant != caller.tenant:
            raise not_found("tenant")
        tenant = caller.tenant
    now = time.time()
    with platform.store.session() as session:
        lines = accounting.usage_lines(session, tenant, since, until, now)
        query = select(TenantRow).order_by(TenantRow.name)
        if tenant is not None:
            query = query.where(TenantRow.name == tenant)
        tenants = list(session.scalars(query))
        used = {t.name: accounting.voucher_hours_used(session, t.name) for t in tenants}
        spent = {t.name: accounting.month_spend(session, t.name, now) for t in tenants}
    return UsageReport(lines, tenants, used, spent)
