"""Data law: a job runs only at sites where every dataset it reads may lawfully go.

The filter holds an already-loaded `Governance` (rules, dataset catalog, tenants' mechanisms,
operator policies, the date the rules are read at); it does no I/O. A driver that crosses
midnight or records a new grant hands it a new one with `use`, which also makes waiting jobs
look again (the scheduler skips a blocked job until the cluster changes, and a new grant does
not change the cluster).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from silkroute.policy.catalog import Export
from silkroute.policy.governance import Governance, SiteDecision
from silkroute.policy.vocabulary import DataClass
from silkroute.scheduler.job import Job
from silkroute.scheduler.policies.base import Context, PoolFilter

ANSWER_LIMIT = 100_000


class DataLawFilter(PoolFilter):
    name = "data-law"
    parks = True  # only new rules, grants, datasets, a new day or year lift a refusal

    def __init__(self, governance: Governance) -> None:
        self.governance = governance
        # (tenant, datasets, site) -> the refusal or None: the hot loop asks the same question
        # for every waiting job at every step, so keep the answer, message and all.
        self._answers: dict[tuple[str, tuple[str, ...], str], tuple[str, str] | None] = {}
        # Datasets sent abroad for the first time this year by jobs this filter saw start,
        # in order: a driver that keeps the yearly count (the control plane) takes them.
        self.exports: list[Export] = []
        # With `keep_decisions`, each started job's decision as it stood when it started (a
        # driver's audit record must not show totals that later starts of the step raised).
        self.keep_decisions = False
        self.decisions: dict[int, SiteDecision] = {}
        # (owner, origin, data class) whose yearly count moved since the scheduler last asked
        self._changed: set[tuple[str, str, DataClass]] = set()

    def use(self, governance: Governance, pending: Iterable[Job] = ()) -> None:
        """Decide with `governance` from now on; waiting jobs (parked ones too) are looked
        at again at the next step."""
        self.governance = governance
        self._answers = {}
        self.version += 1
        for job in pending:
            job.blocked_key = None

    def started(self, job: Job, pool: int, ctx: Context) -> None:
        """A job started: the datasets it sends abroad for the first time this year count
        toward their owner's yearly total from now on, for every later decision, in this very
        step too (two jobs under a threshold together are no way round it)."""
        if not job.datasets:
            return
        site = ctx.cluster.pools[pool].site_name
        country = ctx.sites.get(site).country
        if self.keep_decisions:
            self.decisions[job.id] = self.governance.check(job.tenant, job.datasets, site, country)
        new = self.governance.exports(job.datasets, site, country, job.id)
        if new:
            counts = {(e.tenant, e.origin, e.data_class) for e in new}
            self.governance = self.governance.with_exports(new)
            self._answers = {
                key: answer
                for key, answer in self._answers.items()
                if not self.governance.counted_with(key[1], counts)
            }
            self._changed |= counts
            self.exports.extend(new)

    def take_changed(self) -> Callable[[Job], bool] | None:
        """Jobs reading data whose owner's count for its origin and class moved: only their
        answers can differ."""
        if not self._changed:
            return None
        changed, self._changed = self._changed, set()
        governance = self.governance
        return lambda job: governance.counted_with(job.datasets, changed)

    def applies(self, job: Job, ctx: Context) -> bool:
        # Operator restrictions may bar a tenant from a site even for jobs without data.
        return bool(job.datasets) or self.governance.operator is not None

    def decide(self, job: Job, pool: int, ctx: Context) -> SiteDecision:
        site = ctx.cluster.pools[pool].site_name
        country = ctx.sites.get(site).country
        return self.governance.check(job.tenant, job.datasets, site, country)

    def check(self, job: Job, pool: int, ctx: Context) -> tuple[str, str] | None:
        # By site, not pool index: pools are renumbered when the cluster is reshaped.
        key = (job.tenant, job.datasets, ctx.cluster.pools[pool].site_name)
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
