"""The ledger: accelerator-hours and money per tenant, site, accelerator type and job.

A ledger row is written when a run ends, in the same transaction as the job's state change,
from the run's start and end (the state history). A tenant's rent-free voucher hours are drawn
down first; only the hours beyond them are paid, at the price the site asked for the
accelerator type when the run was placed (a price changed since counts from the next run on).
Runs still going are counted up to now when usage or a budget is asked about.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
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


def run_price(run: RunRow, site: SiteRow | None) -> float:
    """What `run` is charged per accelerator-hour: the price it was placed at (runs from
    before that was kept: its site's price now)."""
    if run.price_per_hour is not None:
        return run.price_per_hour
    return price_of(site, run.accelerator_type)


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
    price = run_price(run, session.get(SiteRow, run.site))
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
    lines.extend(_running_lines(session, None if tenant is None else (tenant,), since, until, now))
    return lines


def _running_lines(
    session: Session,
    tenants: Collection[str] | None,
    since: float | None,
    until: float | None,
    now: float,
) -> list[UsageLine]:
    """Runs still going, counted up to `until` or now (`tenants`: only theirs; None: all)."""
    end = min(now, until) if until is not None else now
    query = (
        select(RunRow, JobRow.tenant)
        .join(JobRow, JobRow.id == RunRow.job_id)
        .where(RunRow.state.in_(("running", "stopping")), RunRow.started_at.is_not(None))
    )
    if tenants is not None:
        query = query.where(JobRow.tenant.in_(sorted(set(tenants))))
    # In a fixed order: what is left of a voucher goes to the oldest runs first.
    found = session.execute(query.order_by(RunRow.created_at, RunRow.run_id)).all()
    if not found:
        return []
    sites = {s.name: s for s in session.scalars(select(SiteRow))}
    left = _vouchers_left(session, {owner for _, owner in found})
    out = []
    for run, owner in found:
        start = max(run.started_at or end, since or 0.0)
        hours = max(0.0, end - start) * run.accelerators / HOUR
        voucher = min(hours, left[owner])
        left[owner] -= voucher
        price = run_price(run, sites.get(run.site))
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


def _vouchers_left(session: Session, tenants: Collection[str]) -> dict[str, float]:
    """Voucher hours each tenant has not used yet (two queries, whatever their number)."""
    wanted = sorted(set(tenants))
    granted = dict(
        session.execute(
            select(TenantRow.name, TenantRow.voucher_accelerator_hours).where(
                TenantRow.name.in_(wanted)
            )
        ).all()
    )
    used = dict(
        session.execute(
            select(LedgerRow.tenant, func.sum(LedgerRow.voucher_hours))
            .where(LedgerRow.tenant.in_(wanted))
            .group_by(LedgerRow.tenant)
        ).all()
    )
    return {
        name: max(0.0, float(granted.get(name) or 0.0) - float(used.get(name) or 0.0))
        for name in wanted
    }


def month_start(epoch_s: float) -> float:
    """The first instant of the UTC month `epoch_s` falls in."""
    return dt.datetime.strptime(month_of(epoch_s), "%Y-%m").replace(tzinfo=dt.UTC).timestamp()


def month_spends(session: Session, tenants: Collection[str], now: float) -> dict[str, float]:
    """Money each tenant spent in the current UTC month, running work included: a fixed
    number of queries however many tenants and runs (the live loop asks every `poll_s`)."""
    wanted = sorted(set(tenants))
    if not wanted:
        return {}
    since = month_start(now)
    spent = dict.fromkeys(wanted, 0.0)
    for name, cost in session.execute(
        select(LedgerRow.tenant, func.sum(LedgerRow.cost))
        .where(LedgerRow.tenant.in_(wanted), LedgerRow.month == month_of(now))  # (its index)
        .group_by(LedgerRow.tenant)
    ):
        spent[name] += float(cost or 0.0)
    for line in _running_lines(session, wanted, since, None, now):
        spent[line.tenant] += line.cost
    return spent


def month_spend(session: Session, tenant: str, now: float) -> float:
    """Money spent by `tenant` in the current UTC month, running work included."""
    return month_spends(session, (tenant,), now)[tenant]


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


def budget_holds(session: Session, now: float) -> dict[str, str]:
    """Tenants whose monthly budget is spent, each with why its jobs wait (the live loop
    holds them; see docs/platform.md, "In the live loop")."""
    budgets = {
        name: float(budget)
        for name, budget in session.execute(
            select(TenantRow.name, TenantRow.monthly_budget).where(
                TenantRow.monthly_budget.is_not(None)
            )
        )
        if budget is not None
    }
    spent = month_spends(session, budgets, now)
    return {
        name: (
            f"tenant {name} has spent {_money(spent[name])} of its monthly budget of "
            f"{_money(budget)} for {month_of(now)}; its jobs wait until the budget is raised "
            "or the month ends"
        )
        for name, budget in sorted(budgets.items())
        if spent[name] >= budget
    }


def _money(amount: float) -> str:
    """Cents, or the figure itself below a cent (a budget of 0.001 is not "0.00")."""
    return f"{amount:,.2f}" if amount >= 0.01 or amount == 0 else f"{amount:.2g}"
