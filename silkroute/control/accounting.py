"""The ledger: accelerator-hours and money per tenant, site, accelerator type and job.

A ledger row is written when a run ends, in the same transaction as the job's state change,
from the run's start and end (the state history). A tenant's rent-free voucher hours are drawn
down first; only the hours beyond them are paid, at the site's price for the accelerator type.
Runs still going are counted up to now when usage or a budget is asked about.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from silkroute.store.models import JobRow, LedgerRow, RunRow, SiteRow, TenantRow

HOUR = 3600.0


def month_of(epoch_s: float) -> str:
    return dt.datetime.fromtimestamp(epoch_s, dt.UTC).strftime("%Y-%m")


def price_of(site: SiteRow | None, accelerator_type: str | None) -> float:
    if site is None or accelerator_type is None:
        return 0.0
    prices: dict[str, float] = site.spec.get("price_per_accelerator_hour", {})
    return float(prices.get(accelerator_type, 0.0))


def voucher_hours_used(session: Session, tenant: str) -> float:
    used = session.scalar(
        select(func.coalesce(func.sum(LedgerRow.voucher_hours), 0.0)).where(
            LedgerRow.tenant == tenant
        )
    )
    return float(used or 0.0)


def record_run_end(session: Session, run: RunRow, tenant: str, ended_at: float) -> LedgerRow:
    """Charge a run that just ended: vouchers first, the rest at the site's price."""
    started = run.started_at if run.started_at is not None else ended_at
    hours = max(0.0, ended_at - started) * run.accelerators / HOUR
    account = session.get(TenantRow, tenant)
    granted = account.voucher_accelerator_hours if account is not None else 0.0
    voucher = min(hours, max(0.0, granted - voucher_hours_used(session, tenant)))
    price = price_of(session.get(SiteRow, run.site), run.accelerator_type)
    row = LedgerRow(
        run_id=run.run_id,
        job_id=run.job_id,
        tenant=tenant,
        site=run.site,
        accelerator_type=run.accelerator_type,
        month=month_of(ended_at),
        started_at=started,
        ended_at=ended_at,
        accelerator_hours=hours,
        voucher_hours=voucher,
        paid_hours=hours - voucher,
        price_per_hour=price,
        cost=(hours - voucher) * price,
    )
    session.add(row)
    return row


@dataclass(slots=True)
class UsageLine:
    tenant: str
    site: str
    accelerator_type: str | None
    job_id: int
    accelerator_hours: float = 0.0
    voucher_hours: float = 0.0
    paid_hours: float = 0.0
    cost: float = 0.0
    running: bool = False


def usage_lines(
    session: Session, tenant: str | None, since: float | None, until: float | None, now: float
) -> list[UsageLine]:
    """Ledger rows ending in [since, until), plus running runs counted up to `until` or now."""
    query = select(LedgerRow)
    if tenant is not None:
        query = query.where(LedgerRow.tenant == tenant)
    if since is not None:
        query = query.where(LedgerRow.ended_at >= since)
    if until is not None:
        query = query.where(LedgerRow.ended_at < until)
    lines = [
        UsageLine(
            r.tenant,
            r.site,
            r.accelerator_type,
            r.job_id,
            r.accelerator_hours,
            r.voucher_hours,
            r.paid_hours,
            r.cost,
        )
        for r in session.scalars(query.order_by(LedgerRow.id))
    ]
    lines.extend(_running_lines(session, tenant, since, until, now))
    return lines


def _running_lines(
    session: Session, tenant: str | None, since: float | None, until: float | None, now: float
) -> list[UsageLine]:

    end = min(now, until) if until is not None else now
    query = (
        select(RunRow, JobRow.tenant)
        .join(JobRow, JobRow.id == RunRow.job_id)
        .where(RunRow.state.in_(("running", "stopping")), RunRow.started_at.is_not(None))
    )
    if tenant is not None:
        query = query.where(JobRow.tenant == tenant)
    sites = {s.name: s for s in session.scalars(select(SiteRow))}
    left = {}
    out = []
    for run, owner in session.execute(query):
        start = max(run.started_at or end, since or 0.0)
        hours = max(0.0, end - start) * run.accelerators / HOUR
        if owner not in left:
            account = session.get(TenantRow, owner)
            granted = account.voucher_accelerator_hours if account is not None else 0.0
            left[owner] = max(0.0, granted - voucher_hours_used(session, owner))
        voucher = min(hours, left[owner])
        left[owner] -= voucher
        price = price_of(sites.get(run.site), run.accelerator_type)
        out.append(
            UsageLine(
                owner,
                run.site,
                run.accelerator_type,
                run.job_id,
                hours,
                voucher,
                hours - voucher,
                (hours - voucher) * price,
                running=True,
            )
        )
    return out


def month_spend(session: Session, tenant: str, now: float) -> float:
    """Money spent by `tenant` in the current UTC month, running work included."""
    month = month_of(now)
    start = dt.datetime.strptime(month, "%Y-%m").replace(tzinfo=dt.UTC).timestamp()
    return sum(line.cost for line in usage_lines(session, tenant, start, None, now))


def budget_refusal(session: Session, tenant: TenantRow, now: float) -> str | None:
    """Why a new job of `tenant` is refused for money, or None."""
    if tenant.monthly_budget is None:
        return None
    spent = month_spend(session, tenant.name, now)
    if spent >= tenant.monthly_budget:
        return (
            f"tenant {tenant.name} has spent {_money(spent)} of its monthly budget of "
            f"{_money(tenant.monthly_budget)} for {month_of(now)}; new jobs are refused until "
            "the month ends"
        )
    return None


def _money(amount: float) -> str:
    """Cents, or the figure itself below a cent (a budget of 0.001 is not "0.00")."""
    return f"{amount:,.2f}" if amount >= 0.01 or amount == 0 else f"{amount:.2g}"
