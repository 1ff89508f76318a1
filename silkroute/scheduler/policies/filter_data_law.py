"""Data law: a job runs only at sites where every dataset it reads may lawfully go.

The filter holds an already-loaded `Governance` (rules, dataset catalog, tenants' mechanisms,
operator policies, the date the rules are read at); it does no I/O. A driver that crosses
midnight or records a new grant hands it a new one with `use`, which also makes waiting jobs
look again (the scheduler skips a blocked job until the cluster changes, and a new grant does
not change the cluster).
"""

from __future__ import annotations

from collections.abc import Iterable

from silkroute.policy.governance import Governance, SiteDecision
from silkroute.scheduler.job import Job
from silkroute.scheduler.policies.base import Context, PoolFilter

ANSWER_LIMIT = 100_000


class DataLawFilter(PoolFilter):
    name = "data-law"

    def __init__(self, governance: Governance) -> None:
        self.governance = governance
        # (tenant, datasets, pool) -> the refusal or None: the hot loop asks the same question
        # for every waiting job at every step, so keep the answer, message and all.
        self._answers: dict[tuple[str, tuple[str, ...], int], tuple[str, str] | None] = {}

    def use(self, governance: Governance, pending: Iterable[Job]) -> None:
        """Decide with `governance` from now on; `pending` (the queue) is looked at again."""
        self.governance = governance
        self._answers = {}
        for job in pending:
            job.blocked_key = None

    def applies(self, job: Job, ctx: Context) -> bool:
        # Operator restrictions may bar a tenant from a site even for jobs without data.
        return bool(job.datasets) or self.governance.operator is not None

    def decide(self, job: Job, pool: int, ctx: Context) -> SiteDecision:
        site = ctx.cluster.pools[pool].site_name
        country = ctx.sites.get(site).country
        return self.governance.check(job.tenant, job.datasets, site, country)

    def check(self, job: Job, pool: int, ctx: Context) -> tuple[str, str] | None:
        key = (job.tenant, job.datasets, pool)
        if key in self._answers:
            return self._answers[key]
        if len(self._answers) >= ANSWER_LIMIT:
            self._answers.clear()
        answer = self._answers[key] = self._refusal(job, pool, ctx)
        return answer

    def _refusal(self, job: Job, pool: int, ctx: Context) -> tuple[str, str] | None:
        decision = self.decide(job, pool, ctx)
        if decision.allowed:
            return None
        first = decision.refusals[0]
        more = len(decision.refusals) - 1
        also = f" (+{more} more refusal{'s' if more > 1 else ''})" if more else ""
        return (first.code, f"site {decision.site} ({decision.country}): {first.message}{also}")
