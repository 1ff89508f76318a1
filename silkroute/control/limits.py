"""Per-tenant limits checked at submit: a priority ceiling and a cap on pending jobs.

As Slurm's QOS limits (a user gets the `normal` QOS and its MaxSubmitJobs) and Kubernetes'
ResourceQuota scoped by PriorityClass: a tenant cannot put its jobs ahead of every queue, or
preempt other tenants' work, by asking for `priority: critical`, and cannot slow the live
loop for everyone by queueing millions of jobs. Both are checked when a job is submitted,
whoever submits it (an admin raises a tenant's limit first, which the audit log records);
jobs already accepted are never touched when a limit is lowered.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from silkroute.control.errors import FieldProblem, ServiceError, message_of
from silkroute.model.job import JobSpec, priority_value
from silkroute.store.models import JobRow, TenantRow

DEFAULT_MAX_PRIORITY = "normal"  # new tenants: like Slurm users, who get the normal QOS
DEFAULT_MAX_PENDING_JOBS = 10_000  # new tenants; the demo's backlog and more fit under it
MAX_PENDING_JOBS_LIMIT = 100_000_000  # what an admin may set (a store's 32-bit ids: far below)


def stored_ceiling(value: str | int | None) -> str | None:
    """A ceiling as the tenants table keeps it (a class name, or the integer as text)."""
    return None if value is None else str(value)


def ceiling(row: TenantRow) -> str | int | None:
    """The tenant's ceiling as given (class name or integer); None: no ceiling."""
    text = row.max_priority
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        return text


def priority_refusal(spec: JobSpec, row: TenantRow) -> ServiceError | None:
    """403 when the job asks for more than its tenant's ceiling: the spec is well formed but
    the tenant is not allowed that value (as a tenant submitting in another's name)."""
    top = ceiling(row)
    if top is None or spec.priority_value <= priority_value(top):
        return None
    asked = _shown(spec.priority)
    reason = (
        f"{asked} is above tenant {row.name}'s ceiling {_shown(top)} (max_priority); "
        "ask an admin to raise it, or submit at a lower priority"
    )
    problem = FieldProblem.at(("priority",), reason)
    return ServiceError(403, "priority_above_ceiling", message_of([problem]), [problem])


def _shown(priority: str | int) -> str:
    if isinstance(priority, int):
        return str(priority)
    return f"{priority!r} ({priority_value(priority)})"


def lock_tenants(session: Session, names: Iterable[str], is_sqlite: bool) -> None:
    """Serialise the counting and inserting of the tenants' pending jobs with every other
    transaction doing the same (another server process, a PATCH of the tenant), so two
    concurrent submits cannot both see room for the last slot.

    PostgreSQL: row locks on the tenants, in name order (no deadlock between two batches);
    `FOR NO KEY UPDATE` does not wait for the loop's inserts that merely reference the row.
    SQLite: a write as the transaction's first statement takes the database's single write
    lock at once, so the count that follows is read inside the transaction that inserts."""
    wanted = sorted(set(names))
    if not wanted:
        return
    if is_sqlite:
        session.execute(
            update(TenantRow)
            .where(TenantRow.name.in_(wanted))
            .values(max_pending_jobs=TenantRow.max_pending_jobs)
            .execution_options(synchronize_session=False)
        )
        return
    session.execute(
        select(TenantRow.name)
        .where(TenantRow.name.in_(wanted))
        .order_by(TenantRow.name)
        .with_for_update(key_share=True)
    )


def pending_counts(session: Session, names: Iterable[str]) -> dict[str, int]:
    """Jobs waiting to start (state `pending`, requeued ones included), per tenant named."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    rows = session.execute(
        select(JobRow.tenant, func.count())
        .where(JobRow.tenant.in_(wanted), JobRow.state == "pending")
        .group_by(JobRow.tenant)
    ).all()
    counts = dict.fromkeys(wanted, 0)
    counts.update({tenant: int(n) for tenant, n in rows})
    return counts


def pending_refusal(row: TenantRow, pending: int, adding: int) -> ServiceError | None:
    """429 when `adding` more jobs would take the tenant past its cap: the request is fine
    and may succeed later, once some of its jobs start or are cancelled (gRPC's
    RESOURCE_EXHAUSTED, "a per-user quota", is HTTP 429 in Google's API mapping)."""
    cap = row.max_pending_jobs
    if cap is None or pending + adding <= cap:
        return None
    jobs = "job" if adding == 1 else f"group of {adding} jobs (stored all or none)"
    reason = (
        f"tenant {row.name} has {pending} jobs pending and may have at most {cap}; "
        f"this {jobs} would pass it. Submit again once some start or are cancelled, or ask "
        "an admin to raise it"
    )
    problem = FieldProblem.at(("max_pending_jobs",), reason)
    return ServiceError(429, "too_many_pending", message_of([problem]), [problem])
