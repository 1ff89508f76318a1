"""Store rows to response bodies."""

from __future__ import annotations

from silkroute.api import schemas
from silkroute.control import limits
from silkroute.control.service import JobDetail, NodeView, SiteView, UsageReport
from silkroute.control.submits import Accepted
from silkroute.model.job import JobSpec
from silkroute.store.models import JobRow, TenantRow, TokenRow


def tenant_out(row: TenantRow) -> schemas.TenantOut:
    return schemas.TenantOut(
        **row.spec().model_dump(),
        monthly_budget=row.monthly_budget,
        ciio=bool(row.ciio),
        max_priority=limits.ceiling(row),
        max_pending_jobs=row.max_pending_jobs,
    )


def token_out(row: TokenRow) -> schemas.TokenOut:
    return schemas.TokenOut(
        id=row.id,
        role=row.role,
        tenant=row.tenant,
        label=row.label,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


def node_out(view: NodeView) -> schemas.NodeOut:
    return schemas.NodeOut(
        site=view.site,
        node=view.node,
        accelerator=view.accelerator,
        accelerators=view.accelerators,
        state=view.state,
        engine=view.engine,
        engine_node=view.engine_node,
        engine_accelerators=view.engine_accelerators,
    )


def site_out(view: SiteView) -> schemas.SiteOut:
    return schemas.SiteOut(
        name=view.name,
        country=view.country,
        spec=view.spec,
        datasets=[h.dataset for h in view.copies],
        copies=[schemas.SiteCopyOut.model_validate(h.json()) for h in view.copies],
    )


def job_out(row: JobRow) -> schemas.JobOut:
    return schemas.JobOut(
        id=row.id,
        tenant=row.tenant,
        name=row.name,
        state=row.state,
        submitted_at=row.submitted_at,
        started_at=row.started_at,
        ended_at=row.ended_at,
        site=row.site,
        accelerator_type=row.accelerator_type,
        attempts=row.attempts,
        hold_reason=row.hold_reason,
        hold_message=row.hold_message,
        cancel_requested=row.cancel_requested,
        exit_code=row.exit_code,
        message=row.message,
        spec=JobSpec.model_validate(row.spec),
    )


def submitted_json(accepted: Accepted) -> bytes:
    return submitted_out(accepted).model_dump_json().encode()


def batch_submitted_json(accepted: list[Accepted]) -> bytes:
    """A multi-job submit's answer: each job as a single submit answers it, in order."""
    out = schemas.BatchSubmitted(jobs=[submitted_out(a) for a in accepted])
    return out.model_dump_json().encode()


def submitted_out(accepted: Accepted) -> schemas.JobOut:
    """The submit's answer: the (first) job, with every replica's id.

    A job stored just now is built from the values validated on the way in, without the
    second validation a response model would cost on this hot path."""
    rows = accepted.rows
    first = rows[0]
    if accepted.created and accepted.spec is not None:
        out = schemas.JobOut.model_construct(
            id=first.id,
            tenant=first.tenant,
            name=first.name,
            state=first.state,
            submitted_at=first.submitted_at,
            started_at=None,
            ended_at=None,
            site=None,
            accelerator_type=None,
            attempts=0,
            hold_reason=None,
            hold_message=None,
            cancel_requested=False,
            exit_code=None,
            message="",
            spec=accepted.spec,
            replica_ids=[r.id for r in rows] if len(rows) > 1 else [],
        )
    else:
        out = job_out(first)
        out.replica_ids = [r.id for r in rows] if len(rows) > 1 else []
    return out


def job_detail_out(detail: JobDetail) -> schemas.JobDetailOut:
    base = job_out(detail.job).model_dump()
    return schemas.JobDetailOut(
        **base,
        events=[
            schemas.JobEventOut(
                at=e.at, state=e.state, reason=e.reason, message=e.message, site=e.site
            )
            for e in detail.events
        ],
        runs=[
            schemas.RunOut(
                run_id=r.run_id,
                attempt=r.attempt,
                site=r.site,
                accelerator_type=r.accelerator_type,
                accelerators=r.accelerators,
                state=r.state,
                started_at=r.started_at,
                ended_at=r.ended_at,
                outcome=r.outcome,
                exit_code=r.exit_code,
                nodes=[node for node, _ in r.placement],
            )
            for r in detail.runs
        ],
        reasons_by_site=detail.reasons_by_site,
    )


def usage_out(report: UsageReport) -> schemas.UsageOut:
    rows: dict[tuple[str, str, str | None], schemas.UsageRow] = {}
    jobs_seen: dict[tuple[str, str, str | None], set[int]] = {}
    per_job: dict[int, float] = {}
    totals: dict[str, list[float]] = {}
    for line in report.lines:
        key = (line.tenant, line.site, line.accelerator_type)
        row = rows.setdefault(
            key,
            schemas.UsageRow(
                tenant=key[0],
                site=key[1],
                accelerator_type=key[2],
                jobs=0,
                accelerator_hours=0,
                voucher_hours=0,
                paid_hours=0,
                cost=0,
            ),
        )
        row.accelerator_hours += line.accelerator_hours
        row.voucher_hours += line.voucher_hours
        row.paid_hours += line.paid_hours
        row.cost += line.cost
        jobs_seen.setdefault(key, set()).add(line.job_id)
        row.jobs = len(jobs_seen[key])
        per_job[line.job_id] = per_job.get(line.job_id, 0.0) + line.cost
        sums = totals.setdefault(line.tenant, [0.0, 0.0, 0.0, 0.0])
        sums[0] += line.accelerator_hours
        sums[1] += line.voucher_hours
        sums[2] += line.paid_hours
        sums[3] += line.cost
    tenants = []
    for t in report.tenants:
        sums = totals.get(t.name, [0.0, 0.0, 0.0, 0.0])
        tenants.append(
            schemas.TenantBalance(
                tenant=t.name,
                accelerator_hours=sums[0],
                voucher_hours=sums[1],
                paid_hours=sums[2],
                cost=sums[3],
                voucher_hours_left=max(
                    0.0, t.voucher_accelerator_hours - report.voucher_hours_used[t.name]
                ),
                monthly_budget=t.monthly_budget,
                month_spend=report.month_spend[t.name],
            )
        )
    return schemas.UsageOut(
        rows=sorted(rows.values(), key=lambda r: (r.tenant, r.site, r.accelerator_type or "")),
        tenants=tenants,
        jobs=per_job,
    )
