"""Weighted fair share across tenants by dominant resource share (DRF).

The next job comes from the tenant whose dominant share (largest fraction of any
accelerator type's or of the CPU capacity it holds), divided by its weight, is smallest.
Within a tenant: priority class, then arrival.
"""

from __future__ import annotations

from collections.abc import Hashable

from silkroute.scheduler.job import Job
from silkroute.scheduler.policies.base import Context, QueueOrder
from silkroute.scheduler.tenants import TenantAccount


def dominant_share(account: TenantAccount, ctx: Context) -> float:
    shares = [
        used / ctx.cluster.capacity_by_type[t]
        for t, used in account.gpus_in_use.items()
        if ctx.cluster.capacity_by_type.get(t)
    ]
    if ctx.cluster.capacity_cpu_milli:
        shares.append(account.cpu_milli_in_use / ctx.cluster.capacity_cpu_milli)
    return max(shares, default=0.0)


class FairShareOrder(QueueOrder):
    name = "fairshare"
    tenant_aware = True

    def job_key(self, job: Job) -> tuple[Hashable, ...]:
        return (-job.priority, job.submit_time, job.id)

    def tenant_rank(self, account: TenantAccount, ctx: Context) -> float:
        return dominant_share(account, ctx) / account.weight
