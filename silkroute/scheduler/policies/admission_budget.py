"""Tenants whose money ran out start no job until their driver lifts the hold.

The scheduler knows no prices: the driver (the control plane, from its ledger) decides when a
tenant's monthly budget is spent and says why, through `TenantBook.hold_for_budget`. Slurm
holds jobs the same way once an association's GrpTRESMins is used up (reason
AssocGrpBillingMinutes), and starts them again when the limit is raised or the usage decays.
"""

from __future__ import annotations

from silkroute.scheduler.job import Job
from silkroute.scheduler.policies.base import Admission, Context


class BudgetAdmission(Admission):
    name = "budget"

    def check(self, job: Job, ctx: Context) -> tuple[str, str] | None:
        why = ctx.tenants.get(job.tenant).budget_hold
        return None if why is None else ("budget-exhausted", why)
