"""The control plane's one point of contact with `silkroute.scheduler`.

Everything the live loop needs from the scheduler goes through `LiveScheduler`: build the
book from stored sites, tenants and jobs; report submits, ends and cancels; run a step and
get its decisions back as plain values (job ids, site names, node names, device indices) that
the loop commits to the store. When the scheduler's API changes, only this module changes.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from silkroute.control.accounting import HOUR
from silkroute.control.governance import operator_hold
from silkroute.model.cluster import ClusterSpec, SiteSpec
from silkroute.model.job import JobSpec
from silkroute.model.tenant import TenantSpec
from silkroute.model.workload import JobPhase
from silkroute.policy.catalog import Export
from silkroute.policy.explain import as_json
from silkroute.policy.governance import Governance
from silkroute.scheduler.book import BookError, SchedulerBook
from silkroute.scheduler.core import Scheduler
from silkroute.scheduler.decisions import Hold, Preempt, Start
from silkroute.scheduler.job import Job, job_from_spec
from silkroute.scheduler.policies.filter_data_law import DataLawFilter
from silkroute.scheduler.policies.filter_latency import within_slo
from silkroute.scheduler.registry import DEFAULT_POOL_FILTERS, make_scheduler
from silkroute.scheduler.sites import SiteCatalog
from silkroute.scheduler.state import ClusterState, NodeInfo, worker_capacity
from silkroute.scheduler.tenants import StoppingRun, TenantBook, commitment_of

# Placement: data locality first, then price (the centre's default; see docs/platform.md).
DEFAULT_POLICY = {"order": "fairshare", "placement": "packing", "backfill": "easy"}

Placement = list[tuple[str, list[int]]]  # per worker: node name, device indices


@dataclass(frozen=True, slots=True)
class StartJob:
    job_id: int
    site: str
    accelerator_type: str | None
    accelerators: float  # whole gang, in devices
    placement: Placement
    backfilled: bool = False


@dataclass(frozen=True, slots=True)
class PreemptJob:
    job_id: int
    reason: str
    by_job: int | None


@dataclass(frozen=True, slots=True)
class HoldJob:
    job_id: int
    reason: str
    message: str


LiveDecision = StartJob | PreemptJob | HoldJob


@dataclass(slots=True)
class SiteUse:
    site: str
    accelerator_type: str | None
    capacity: int
    allocated: float


@dataclass(slots=True)
class LiveScheduler:
    """The scheduler and its book, fed from the store."""

    sites: list[SiteSpec]
    tenants: list[TenantSpec]
    policy: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_POLICY))
    # The data law (rules, datasets, tenants' mechanisms, the date); None: no data rules.
    governance: Governance | None = None
    scheduler: Scheduler = field(init=False)
    data_law: DataLawFilter | None = field(init=False, default=None)
    book: SchedulerBook | None = field(init=False, default=None)
    jobs: dict[int, Job] = field(init=False, default_factory=dict)
    # Datasets each started job sent abroad for the first time this year (for the store).
    exports: dict[int, list[Export]] = field(init=False, default_factory=dict)
    # Every node as the operator declared it (engines may cap accelerators, never add).
    declared: dict[str, NodeInfo] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        if self.governance is not None:
            self.data_law = DataLawFilter(self.governance)
            self.data_law.keep_decisions = True
        self.scheduler = make_scheduler(
            order=self.policy["order"],
            placement=self.policy["placement"],
            backfill=self.policy["backfill"],
            pool_filters=[*DEFAULT_POOL_FILTERS, *([self.data_law] if self.data_law else [])],
        )
        if self.sites:
            cluster = ClusterState.from_spec(ClusterSpec(sites=self.sites))
            self.declared = {n.name: n for n in cluster.node_infos()}
            catalog = SiteCatalog.from_spec(ClusterSpec(sites=self.sites))
            # Graceful stops: a preempted or cancelled job keeps its nodes and devices in the
            # book until its site's agent reports the run gone (`stopped`), so nothing is
            # placed on them while SIGTERM and the grace period run their course. Billed by
            # the driver: a tenant's usage is what the ledger charged its ended runs (`billed`).
            self.book = SchedulerBook(
                cluster,
                self.scheduler.order,
                catalog,
                TenantBook(self.tenants, billed_by_driver=True),
                graceful_stop=True,
            )

    def use_governance(self, governance: Governance) -> None:
        """Datasets, grants or the date changed: decide with these from now on, and look at
        the waiting jobs again (a new grant does not change the cluster)."""
        self.governance = governance
        if self.data_law is None:
            return
        self.data_law.use(governance, self.book.waiting() if self.book is not None else [])

    def hold_budgets(self, holds: dict[str, str]) -> None:
        """Exactly these tenants' jobs are held for money (each with why); every other
        tenant's hold is lifted. Only a tenant whose hold changed is looked at again."""
        if self.book is None:
            return
        tenants = self.book.tenants
        for account in tenants.all():
            if account.budget_hold is not None and account.name not in holds:
                tenants.hold_for_budget(account.name, None)
        for name, why in sorted(holds.items()):
            tenants.hold_for_budget(name, why)

    def stop_tenants(self, tenants: Iterable[str], now: float, reason: str) -> list[PreemptJob]:
        """Stop every started job of these tenants, as a preemption that checkpoints (SIGTERM,
        then the grace period): each keeps its resources until its run is reported gone,
        then waits in the queue again. Returns what the loop must carry out."""
        book = self.book
        if book is None:
            return []
        wanted = set(tenants)
        stops = []
        for job in sorted(book.running.values(), key=lambda j: j.id):
            if job.tenant in wanted:
                book.preempt(job, now, checkpoint_now=True)
                stops.append(PreemptJob(job.id, reason, None))
        return stops

    # ----- what happened ------------------------------------------------------------------
    def add_pending(self, job_id: int, spec: JobSpec, submitted_at: float) -> None:
        job = job_from_spec(spec, job_id, submitted_at)
        self.jobs[job_id] = job
        if self.book is not None:
            self.book.submit(job)

    def add_running(
        self,
        job_id: int,
        spec: JobSpec,
        submitted_at: float,
        started_at: float,
        placement: Placement,
        launched: bool = True,
    ) -> bool:
        """A job the store says holds resources (start-up); False if its nodes are gone.
        `launched`: its engine has the run (else the start can still fail)."""
        job = job_from_spec(spec, job_id, submitted_at)
        self.jobs[job_id] = job
        book = self.book
        if book is None:
            return False
        known = set(book.cluster.node_names)
        if not placement or any(node not in known for node, _ in placement):
            return False
        job.phase = JobPhase.RUNNING if launched else JobPhase.STARTING
        job.start_time = started_at
        return book.restore(job, tuple((n, tuple(d)) for n, d in placement), started_at)

    def add_stopping(
        self,
        job_id: int,
        spec: JobSpec,
        submitted_at: float,
        placement: Placement,
        now: float,
        cancelling: bool,
    ) -> bool:
        """A job whose run was told to stop and has not reported gone (start-up): it keeps
        its resources until then. False if its nodes are gone (it is queued again)."""
        job = job_from_spec(spec, job_id, submitted_at)
        self.jobs[job_id] = job
        if self.book is None or not placement:
            return False
        job.phase = JobPhase.TERMINATING
        if cancelling:
            job.end_time = now
        return self.book.restore(job, tuple((n, tuple(d)) for n, d in placement), now)

    def launched(self, job_id: int) -> None:
        """The site's agent reports the run reached its engine: the proposed start holds."""
        book = self.book
        job = self.jobs.get(job_id)
        if book is None or job is None or job.phase is not JobPhase.STARTING:
            return
        book.commit([Start(job_id, book.allocations[job_id])], 0.0)

    def launch_failed(self, job_id: int, now: float) -> None:
        """The engine refused the run: its resources come back and the job is queued again
        (the caller decides whether it may retry; `ended` takes it out of the queue)."""
        book = self.book
        job = self.jobs.get(job_id)
        if book is None or job is None:
            return
        if job.phase is JobPhase.STARTING:
            book.start_failed(job_id, now)
        elif job.phase is JobPhase.TERMINATING:
            self.stopped(job_id, now)

    def cancel(self, job_id: int, now: float) -> None:
        """A cancel of a job that holds resources: they stay held until `stopped`."""
        if self.book is not None and job_id in self.jobs:
            # (not in the book: its nodes were gone at start-up)
            with contextlib.suppress(BookError):
                self.book.cancel(job_id, now)

    def stopped(self, job_id: int, now: float) -> None:
        """A run told to stop is gone: a preempted job is queued again, a cancelled one ends."""
        book = self.book
        job = self.jobs.get(job_id)
        if book is None or job is None:
            return
        if job_id not in book.terminating:
            self.ended(job_id, now, succeeded=False)
            return
        book.stopped(job_id, now)
        if job.phase is JobPhase.CANCELLED:
            self.jobs.pop(job_id, None)

    def lost(self, job_id: int, now: float) -> None:
        """The run's site went down: release what it held and queue the job again."""
        book = self.book
        job = self.jobs.get(job_id)
        if book is None or job is None:
            return
        if job_id in book.running:
            book.preempt(job, now, checkpoint_now=False)
        if job_id in book.terminating:
            cancelling = job.end_time is not None
            book.stopped(job_id, now)
            if cancelling:
                self.jobs.pop(job_id, None)

    def withdraw(self, job_id: int, now: float, accelerator_type: str | None) -> None:
        """Out of the book for now: the job's old run, stopping on nodes the book no longer
        has, must be confirmed gone before it may start again (the control plane holds it;
        `add_pending` brings it back). Whatever it was queued for is released, but its tenant
        keeps being charged for what the run holds (one running job, its `accelerator_type`
        devices) until `run_gone`: its cap and quota count the run until it is gone."""
        job = self.jobs.get(job_id)
        self.ended(job_id, now, succeeded=False)
        if job is not None:
            self._hold_stopping(job, accelerator_type, since=now)

    def add_stopping_elsewhere(
        self, job_id: int, spec: JobSpec, accelerator_type: str | None, since: float
    ) -> None:
        """A job whose old run was stopping on nodes taken away (start-up): out of the book,
        its run counted toward its tenant's cap and quota until `run_gone`. `since`: the
        run's creation (its service is what the ledger charges when it ends: `billed`)."""
        self._hold_stopping(job_from_spec(spec, job_id), accelerator_type, since)

    def run_gone(self, job_id: int) -> None:
        """The job's run is gone: if it was counted as stopping outside the book, its tenant
        is no longer charged for what it holds (its service comes with the ledger's charge,
        `billed`)."""
        if self.book is not None:
            self.book.tenants.release_stopping(job_id, None, None)

    def billed(self, tenant: str, accelerator_hours: float) -> None:
        """A run of the tenant ended and the ledger charged it `accelerator_hours` (however
        it ended: finished, stopped after its grace, fenced, written off): the book counts
        the same service, so its voucher balance is the ledger's at every moment, not only
        when it is next built from the store."""
        if self.book is not None:
            self.book.tenants.bill(tenant, accelerator_hours * HOUR)

    def _hold_stopping(self, job: Job, accelerator_type: str | None, since: float) -> None:
        cpu = job.demand.cpu_milli * job.workers
        if self.book is not None:  # (none: every node is gone, nothing can start anyway)
            # What the run may still be charged counts until the ledger's charge lands.
            commitment = commitment_of(job.gpus, job.time_limit_s)
            run = StoppingRun(
                job.id, job.tenant, accelerator_type, job.gpus, cpu, since, commitment
            )
            self.book.tenants.hold_stopping(run)

    def drain_site(self, site: str) -> None:
        """No new placements at the site (its agent is down); what runs there is not moved."""
        if self.book is not None and site in self.book.cluster.site_names:
            self.book.drain_site(site)

    def undrain_site(self, site: str) -> None:
        if self.book is not None and site in self.book.cluster.site_names:
            self.book.undrain_nodes(self.book.site_nodes(site))

    def ended(self, job_id: int, now: float, succeeded: bool) -> None:
        """The job's run ended; its resources come back (no-op if the book has no record)."""
        job = self.jobs.pop(job_id, None)
        if job is None or self.book is None:
            return
        if job.id in self.book.running or job.id in self.book.terminating:
            self.book.finish(job.id, now, succeeded)
        elif self.book.pending.get(job.id) is not None or job.id in self.book.parked:
            self.book.cancel(job.id, now)

    def requeue(self, job_id: int, spec: JobSpec, submitted_at: float, now: float) -> None:
        """The run failed and the job has retries left: release it, queue it again."""
        self.ended(job_id, now, succeeded=False)
        self.add_pending(job_id, spec, submitted_at)

    # ----- nodes at run time (operators' drains and removals) ------------------------------
    def drain_nodes(self, names: Iterable[str], drained: bool = True) -> None:
        """No new work on these nodes (what runs there finishes); `drained=False` undoes it."""
        if self.book is not None:
            known = set(self.book.cluster.node_names)
            names = [n for n in names if n in known]
            (self.book.drain_nodes if drained else self.book.undrain_nodes)(names)

    def remove_nodes(self, names: Iterable[str], now: float) -> list[int]:
        """Take nodes out; returns the jobs that ran there, now back in the queue (their
        runs must be stopped where they ran). No book left (every node gone): no sites."""
        book = self.book
        if book is None:
            return []
        gone = set(names) & set(book.cluster.node_names)
        if not gone:
            return []
        if gone == set(book.cluster.node_names):
            requeued = [job.id for job in book.running.values()]
            self.book = None
            return requeued
        requeued = book.remove_nodes(gone, now)
        if self.governance is not None:  # pools were renumbered: forget per-pool verdicts
            self.use_governance(self.governance)
        return requeued

    def cap_accelerators(self, caps: dict[str, int], now: float) -> list[int]:
        """Nodes as declared, each capped at `caps` accelerators (what its engine reports;
        a node absent from `caps` gets its declared count back). Jobs that held a device now
        gone go back to the queue: their ids are returned (their runs must be stopped)."""
        book = self.book
        if book is None:
            return []
        sized = []
        for name, declared in self.declared.items():
            count = min(declared.accelerators, max(0, caps.get(name, declared.accelerators)))
            sized.append(
                dataclasses.replace(
                    declared,
                    accelerators=count,
                    accelerator=declared.accelerator if count else None,
                )
            )
        requeued = book.resize_nodes(sized, now)
        if self.governance is not None:  # pools may be renumbered: forget per-pool verdicts
            self.use_governance(self.governance)
        return requeued

    def is_pending(self, job_id: int) -> bool:
        job = self.jobs.get(job_id)
        return job is not None and job.phase is JobPhase.PENDING

    # ----- decisions ----------------------------------------------------------------------
    def step(self, now: float) -> list[LiveDecision]:
        book = self.book
        if book is None or not (book.pending or book.parked):
            return []
        out: list[LiveDecision] = []
        # Propose, then commit: the loop writes these to the store in this same pass; a start
        # is committed in the book when the site's agent reports the run reached its engine
        # (`launched`), or undone when the engine refused it (`launch_failed`).
        decisions = self.scheduler.step(book, now)
        if self.data_law is not None:
            # The filter counted what the starts sent abroad; decide with that from now on.
            self.governance = self.data_law.governance
            for export in self.data_law.exports:
                self.exports.setdefault(export.job or -1, []).append(export)
            self.data_law.exports.clear()
        for decision in decisions:
            if isinstance(decision, Start):
                out.append(self._start(decision))
            elif isinstance(decision, Preempt):
                out.append(PreemptJob(decision.job_id, decision.reason, decision.by_job))
            elif isinstance(decision, Hold):
                reason, message = self._hold_reason(decision)
                out.append(HoldJob(decision.job_id, reason, message))
        return out

    def _hold_reason(self, hold: Hold) -> tuple[str, str]:
        job = self.jobs.get(hold.job_id)
        if job is not None and hold.reason.startswith("operator:") and hold.refusals:
            sites = {r.site: self._country(r.site) for r in hold.refusals}
            barred = operator_hold(self.governance, job.tenant, job.datasets, sites)
            if barred is not None:
                return barred
        return hold.reason, hold.message

    def _country(self, site: str) -> str:
        return next((s.country for s in self.sites if s.name == site), "")

    def _start(self, decision: Start) -> StartJob:
        assert self.book is not None
        cluster = self.book.cluster
        pool = cluster.pools[decision.allocation.pool]
        job = self.jobs[decision.job_id]
        placement = [
            (cluster.node_names[node], [int(d) for d in devices])
            for node, devices in decision.allocation.workers
        ]
        return StartJob(
            job.id,
            pool.site_name,
            pool.accelerator if job.gpus > 0 else None,
            job.gpus,
            placement,
            decision.backfilled,
        )

    # ----- questions ----------------------------------------------------------------------
    def data_decision(self, job_id: int, site: str) -> dict[str, Any] | None:
        """The data law's verdict for the job at `site` (JSON), for the audit record."""
        job = self.jobs.get(job_id)
        if job is None or self.governance is None or not job.datasets:
            return None
        decision = self.data_law.decisions.pop(job_id, None) if self.data_law else None
        if decision is None or decision.site != site:
            decision = self.governance.check(job.tenant, job.datasets, site, self._country(site))
        return {"rules_version": self.governance.rules.version, **as_json(decision)}

    def take_exports(self, job_id: int) -> list[Export]:
        """What the job's start sent abroad for the first time this year (once)."""
        return self.exports.pop(job_id, [])

    def unsatisfiable(self, spec: JobSpec) -> str | None:
        """Why the job could never run here, even on an empty federation; None if it can."""
        if self.book is None:
            return "no site is registered yet"
        return self.scheduler.unsatisfiable(self.book, job_from_spec(spec, -1))

    def beyond_latency_slo(self, spec: JobSpec) -> str | None:
        """Why no site the job accepts is within its latency SLO, judged by the `latency-slo`
        pool filter's own rule (`within_slo`); None if one is. Distances do not change by
        waiting: such a job would wait for ever."""
        slo = spec.latency_slo_ms
        if not slo:
            return None
        for site in self.sites:
            if spec.sites is not None and site.name not in spec.sites:
                continue
            if within_slo(site.latency_ms, slo):
                return None
        wanted = ", ".join(f"{region} {ms:g} ms" for region, ms in sorted(slo.items()))
        return f"no site it accepts is within the SLO ({wanted}) of any of its regions"

    def price(self, site: str, accelerator_type: str | None) -> float:
        """The site's price per accelerator-hour of the type, as this book places by it (a
        missing price, or no type: 0)."""
        if self.book is None or accelerator_type is None:
            return 0.0
        return self.book.sites.get(site).price_per_accelerator_hour.get(accelerator_type, 0.0)

    def reasons_by_site(self, job_id: int, spec: JobSpec) -> dict[str, str]:
        """For each site, why the job is (not) there now: plain sentences for people."""
        book = self.book
        if book is None:
            return {}
        job = self.jobs.get(job_id) or job_from_spec(spec, job_id)
        cluster = book.cluster
        running_site = None
        if job.id in book.allocations:
            running_site = cluster.pools[book.allocations[job.id].pool].site_name
        out: dict[str, str] = {}
        needs = job.demand.gpu_slots > 0
        for site in cluster.site_names:
            if running_site == site:
                out[site] = "running here"
                continue
            if job.sites is not None and site not in job.sites:
                out[site] = "not among the sites the job accepts"
                continue
            refusal = self._data_refusal(job, site)
            if refusal is not None:
                out[site] = refusal
                continue
            pools = cluster.pools_for(job.accelerator_types, [site], needs)
            if not pools:
                wanted = ", ".join(job.accelerator_types or ["any accelerator"])
                out[site] = f"has no {wanted}"
                continue
            if any(_fits_when_empty(cluster, p, job) for p in pools):
                if any(cluster.pool_may_fit(p, job.demand, job.workers) for p in pools):
                    hold = job.hold_reason or "waiting for the next scheduling step"
                    out[site] = f"has room now; held: {hold}"
                else:
                    free = sum(cluster.pool_whole_free[p] for p in pools)
                    out[site] = (
                        f"no room now: needs {job.workers} x {job.demand.gpus:g} accelerators, "
                        f"{free} whole devices free"
                    )
            else:
                out[site] = "too small for the job even when empty"
        return out

    def _data_refusal(self, job: Job, site: str) -> str | None:
        governance = self.governance
        if governance is None or not (job.datasets or governance.operator is not None):
            return None
        country = next((s.country for s in self.sites if s.name == site), "")
        decision = governance.check(job.tenant, job.datasets, site, country)
        if decision.allowed:
            return None
        return f"refused by {decision.refusals[0].code}: {decision.refusals[0].message}"

    def pending_by_tenant(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        if self.book is not None:
            for job in self.book.waiting():
                counts[job.tenant] = counts.get(job.tenant, 0) + 1
        return counts

    def usage(self) -> list[SiteUse]:
        book = self.book
        if book is None:
            return []
        cluster = book.cluster
        out = []
        for pool in cluster.pools:
            capacity = cluster.pool_gpu_capacity[pool.index]
            free_milli = int(cluster.gpu_free[pool.nodes].sum())
            out.append(
                SiteUse(pool.site_name, pool.accelerator, capacity, capacity - free_milli / 1000)
            )
        return out

    def running_count(self) -> int:
        return 0 if self.book is None else len(self.book.running)


@dataclass(frozen=True, slots=True)
class NodeName:
    site: str
    node: str
    accelerator: str | None
    accelerators: int


def node_names(sites: Iterable[SiteSpec]) -> list[NodeName]:
    """The nodes of these sites as the scheduler names them (`<site>-<type>-00000`, ...)."""
    specs = list(sites)
    if not specs:  # a platform before its first `site add` (a cluster needs a site)
        return []
    cluster = ClusterState.from_spec(ClusterSpec(sites=specs))
    return [NodeName(n.site, n.name, n.accelerator, n.accelerators) for n in cluster.node_infos()]


def _fits_when_empty(cluster: ClusterState, pool: int, job: Job) -> bool:
    nodes = cluster.pools[pool].nodes
    room = worker_capacity(
        cluster.gpu_cap[nodes], cluster.cpu_cap[nodes], cluster.mem_cap[nodes], job.demand
    )
    return int(np.asarray(room).sum()) >= job.workers


def tenant_specs(rows: Iterable[tuple[TenantSpec, float]]) -> list[TenantSpec]:
    """Tenant specs with each voucher reduced to what is left of it (hours already used)."""
    return [
        spec.model_copy(
            update={"voucher_accelerator_hours": max(0.0, spec.voucher_accelerator_hours - used)}
        )
        for spec, used in rows
    ]
