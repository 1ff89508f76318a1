"""Quotas: a tenant never holds more accelerators of a type (or in all, `*`) than granted.

What its jobs hold counts, old runs still stopping on nodes taken away included (their
driver counts them in until they are gone: `TenantBook.hold_stopping`)."""

from __future__ import annotations

from silkroute.scheduler.job import Job
from silkroute.scheduler.policies.base import Context, PoolFilter

EPSILON = 1e-9


class QuotaFilter(PoolFilter):
    name = "quota"

    def applies(self, job: Job, ctx: Context) -> bool:
        return job.gpus > 0 and bool(ctx.tenants.get(job.tenant).quota)

    def check(self, job: Job, pool: int, ctx: Context) -> tuple[str, str] | None:
        account = ctx.tenants.get(job.tenant)
        if not account.quota or job.gpus == 0:
            return None
        accel = ctx.cluster.pools[pool].accelerator
        for key in (accel, "*"):
            if key is None or key not in account.quota:
                continue
            limit = account.quota[key]
            used = account.in_use(None if key == "*" else key)
            if used + job.gpus > limit + EPSILON:
                stopping = account.stopping(None if key == "*" else key)
                by = (
                    f" ({stopping:g} by old runs still stopping on nodes taken away, counted "
                    "until their agents confirm them gone)"
                    if stopping
                    else ""
                )
                return (
                    "quota-exceeded",
                    f"tenant {job.tenant} quota for {key} is {limit:g}; "
                    f"{used:g} in use{by}, job needs {job.gpus:g}",
                )
        return None
