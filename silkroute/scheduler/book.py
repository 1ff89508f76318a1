"""The scheduler's bookkeeping: cluster capacity, queue, live jobs and tenants.

Propose, then commit. `Scheduler.step` proposes: it records each decision in the book as
*assumed* (as kube-scheduler assumes a binding, so the rest of the step sees the capacity it
took) and returns the decisions as plain values. The driver then carries them out and reports
back through the methods below: `commit` (the starts were launched), `start_failed` (a launch
failed: resources released, the job back in the queue), `stopped` (a job told to stop is gone:
its resources are released only now), `finish`, `cancel`. The simulator uses the same path.

A book can be saved (`snapshot`) and built again from what a store keeps (`rebuild`); it then
makes the same decisions as the one that lived through the history. Nodes and whole sites can
be added, drained and removed while it runs. Nothing here reads a clock: times are passed in.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from sortedcontainers import SortedKeyList

from silkroute.model.workload import JobPhase, JobRequest, RunState
from silkroute.scheduler.decisions import Decision, Hold, Start
from silkroute.scheduler.job import Job, job_from_request
from silkroute.scheduler.memory import ArrivalShapes, PolicyMemories
from silkroute.scheduler.policies.base import QueueOrder
from silkroute.scheduler.queue import PendingQueue
from silkroute.scheduler.sites import SiteCatalog
from silkroute.scheduler.state import Allocation, ClusterState, NodeInfo
from silkroute.scheduler.tenants import StoppingRun, TenantBook, commitment_of

FEASIBILITY_CACHE_LIMIT = 10_000  # distinct job shapes remembered (cleared when exceeded)
# What a tenant is charged for a run that stops: tenant, accelerator type, accelerators, CPU
# (thousandths), service by the book's clock, what the run may be charged (`commitment_of`).
Charge = tuple[str, str | None, float, int, float, int | None]


class BookError(ValueError):
    """A driver reported something the book cannot apply (unknown job, wrong phase)."""


@dataclass(frozen=True, slots=True)
class Reservation:
    """EASY backfill: the blocked head job will start by `start_time` on `nodes`."""

    job_id: int
    start_time: float
    nodes: frozenset[int]
    node_mask: npt.NDArray[np.bool_] = field(compare=False, repr=False)
    # Where and since when it holds: the head's pools, the cluster's release log position.
    pools: frozenset[int] = field(compare=False, repr=False)
    log_position: int = field(compare=False, repr=False)

    @staticmethod
    def on(
        job_id: int,
        start: float,
        nodes: Sequence[int],
        cluster: ClusterState,
        pools: Iterable[int],
        log_position: int,
    ) -> Reservation:
        mask = np.zeros(len(cluster.node_names), dtype=bool)
        mask[list(nodes)] = True
        return Reservation(job_id, start, frozenset(nodes), mask, frozenset(pools), log_position)

    def released_since(self, cluster: ClusterState) -> bool:
        """Did any of the head's pools get capacity back since the reservation was made?"""
        released = cluster.released_since(self.log_position)
        if released is None:
            return True
        pool_of = cluster.node_pool
        return any(pool_of[n] in self.pools for n in released)

    def ends_in_time(self, job: Job, now: float) -> bool:
        """A job that will be gone by the reserved start may use the reserved nodes."""
        return job.time_limit_s is not None and now + job.time_limit_s <= self.start_time

    def allows(self, alloc: Allocation, job: Job, now: float) -> bool:
        if self.ends_in_time(job, now):
            return True
        return self.nodes.isdisjoint(node for node, _ in alloc.workers)


@dataclass(slots=True)
class Snapshot:
    """What a store keeps to rebuild a book: every live job, tenants' consumed service,
    drained nodes, when the last time-slicing round began, and policy memory (the arrivals'
    shapes FGD learns its target from; each policy's own, by name). Without `arrivals` they
    are re-derived from the jobs."""

    jobs: list[tuple[JobRequest, RunState]]
    tenant_consumed_gpu_s: dict[str, float] = field(default_factory=dict)
    drained: tuple[str, ...] = ()
    last_round: float | None = None
    # Preemptors whose victims are gone, not yet placed: first claim at the next step.
    ready_preemptors: tuple[int, ...] = ()
    arrivals: dict[str, Any] | None = None
    policy_memory: dict[str, dict[str, Any]] = field(default_factory=dict)
    # EASY's reservation for the head, kept while it waits (`backfill.reservation_for`): a
    # fresh look after a rebuild could differ from the one the book lived with.
    reservation: dict[str, Any] | None = None
    # Old runs still stopping outside the book, each counted toward its tenant's running cap
    # and quota until its driver reports it gone (`TenantBook.hold_stopping`).
    stopping_runs: tuple[StoppingRun, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (what a store or a file keeps)."""
        return {
            "jobs": [{"request": r.to_dict(), "state": s.to_dict()} for r, s in self.jobs],
            "tenant_consumed_gpu_s": dict(self.tenant_consumed_gpu_s),
            "drained": list(self.drained),
            "last_round": self.last_round,
            "ready_preemptors": list(self.ready_preemptors),
            "arrivals": self.arrivals,
            "policy_memory": self.policy_memory,
            "reservation": self.reservation,
            "stopping_runs": [r.to_dict() for r in self.stopping_runs],
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Snapshot:
        return Snapshot(
            jobs=[
                (JobRequest.from_dict(j["request"]), RunState.from_dict(j["state"]))
                for j in data["jobs"]
            ],
            tenant_consumed_gpu_s={
                str(k): float(v) for k, v in data.get("tenant_consumed_gpu_s", {}).items()
            },
            drained=tuple(data.get("drained") or ()),
            last_round=data.get("last_round"),
            ready_preemptors=tuple(int(i) for i in data.get("ready_preemptors") or ()),
            arrivals=data.get("arrivals"),
            policy_memory=dict(data.get("policy_memory") or {}),
            reservation=data.get("reservation"),
            stopping_runs=tuple(StoppingRun.from_dict(r) for r in data.get("stopping_runs") or ()),
        )


class SchedulerBook:
    """`graceful_stop`: a stopped job keeps its resources until the driver reports `stopped`
    (a live platform, where SIGTERM and a grace period come first). False: the simulator,
    where a job stops the instant it is told, so a preemptor starts in the same step."""

    def __init__(
        self,
        cluster: ClusterState,
        order: QueueOrder,
        sites: SiteCatalog | None = None,
        tenants: TenantBook | None = None,
        *,
        graceful_stop: bool = False,
    ) -> None:
        self.order = order
        self.sites = sites or SiteCatalog([])
        self.tenants = tenants or TenantBook()
        self.graceful_stop = graceful_stop
        self.pending = PendingQueue(order)
        self.last_round: float | None = None
        # Policy memory that outlives a step (memory.py); kept when nodes come and go.
        self.arrivals = ArrivalShapes()
        self.memory = PolicyMemories(self)
        self._setup(cluster)

    def _setup(self, cluster: ClusterState) -> None:
        self.cluster = cluster
        self.running: dict[int, Job] = {}  # holding resources: starting or running
        self.allocations: dict[int, Allocation] = {}
        self.terminating: dict[int, Job] = {}  # told to stop, resources still held
        self.running_by_pool: dict[int, set[int]] = {p.index: set() for p in cluster.pools}
        # Running preemptible jobs per pool, cheapest victim first (lowest priority, then the
        # one that started last and so loses least).
        self.preemptible: dict[int, SortedKeyList] = {
            p.index: SortedKeyList(key=_victim_order) for p in cluster.pools
        }
        # Bumped when a preemptible job starts in a pool: jobs that may preempt look again.
        self.victim_epoch = [0] * len(cluster.pools)
        # Running jobs per pool by when their time limit frees them (EASY reservations).
        self.by_expected_end: dict[int, SortedKeyList] = {
            p.index: SortedKeyList(key=_end_order) for p in cluster.pools
        }
        self.reservation: Reservation | None = None
        # Feasibility on the empty cluster, by job shape (see Scheduler.unsatisfiable).
        self.feasibility: dict[tuple[object, ...], str | None] = {}
        # A preemptor waiting for its victims to report they stopped (graceful stops only),
        # and those whose victims are all gone: they get the freed room first, next step.
        self.awaiting_victims: dict[int, set[int]] = {}
        self.ready_preemptors: list[int] = []
        # Tenant charges of stopping jobs, settled when they are gone.
        self._stopping: dict[int, Charge] = {}
        # Why each held job waits, as last decided (with every per-pool refusal).
        self.holds: dict[int, Hold] = {}
        # Waiting jobs out of the walk: every pool refused them for a policy that only an
        # outside change clears (see PoolFilter.parks). They are still pending.
        self.parked: dict[int, Job] = {}
        self.filter_versions: tuple[int, ...] = ()

    # ----- lookups ------------------------------------------------------------------
    def job(self, job_id: int) -> Job:
        job = self.running.get(job_id) or self.terminating.get(job_id)
        if job is None:
            job = self.pending.get(job_id) or self.parked.get(job_id)
        if job is None:
            raise BookError(f"job {job_id}: not in the book (never submitted, or already ended)")
        return job

    def jobs(self) -> list[Job]:
        """Every live job, in id order."""
        out = [
            *self.pending.jobs(),
            *self.parked.values(),
            *self.running.values(),
            *self.terminating.values(),
        ]
        out.sort(key=lambda j: j.id)
        return out

    def placement_of(self, job_id: int) -> tuple[tuple[str, tuple[int, ...]], ...]:
        """Node name and device slots of each worker of a job that holds resources."""
        alloc = self.allocations.get(job_id)
        if alloc is None:
            return ()
        names = self.cluster.node_names
        return tuple((names[node], slots) for node, slots in alloc.workers)

    def state_of(self, job_id: int) -> RunState:
        state = self.job(job_id).run_state(self.placement_of(job_id))
        state.waiting_for = tuple(sorted(self.awaiting_victims.get(job_id, ())))
        return state

    # ----- what drivers report ------------------------------------------------------
    def restore(
        self, job: Job, placement: tuple[tuple[str, tuple[int, ...]], ...], now: float
    ) -> bool:
        """Put one job back at its phase (a restarted driver reading its store, job by job);
        False when its placement names nodes the cluster no longer has (it is queued again)."""
        self.arrivals.arrived(job.demand, job.workers)
        return not self._load([(job, placement)], now)

    def submit(self, job: Job | JobRequest) -> Job:
        """Queue a new job (a request, or a record a simulator built): it arrives."""
        record = job_from_request(job) if isinstance(job, JobRequest) else job
        if record.id in self.running or record.id in self.terminating:
            raise BookError(f"job {record.id}: already in the book (one copy of a job, ever)")
        self.requeue(record)
        self.arrivals.arrived(record.demand, record.workers)
        return record

    def requeue(self, job: Job) -> None:
        """Queue a job that was in the book already (preempted, failed to start)."""
        job.phase = JobPhase.PENDING
        self.pending.add(job)

    def commit(self, decisions: Iterable[Decision], now: float) -> None:
        """The driver launched the proposed starts (a failed one: `start_failed` instead)."""
        for decision in decisions:
            if isinstance(decision, Start):
                job = self.running.get(decision.job_id)
                if job is not None and job.phase is JobPhase.STARTING:
                    job.phase = JobPhase.RUNNING

    def start_failed(self, job_id: int, now: float) -> Job:
        """A proposed start could not be carried out: release what it held, queue it again."""
        job = self.running.get(job_id)
        if job is None or job.phase is not JobPhase.STARTING:
            raise BookError(f"job {job_id}: not starting, so its start cannot fail")
        started = job.start_time
        self._stop_running(job, now)
        self.cluster.release(self.allocations.pop(job_id))
        job.start_failures += 1
        # The failed attempt did no work: it adds no run time, and a job that never ran
        # has no first start.
        job.start_time = job.running_type = None
        if job.first_start_time == started and not job.elapsed_s:
            job.first_start_time = None
        self.requeue(job)
        return job

    def finish(self, job_id: int, now: float, succeeded: bool = True) -> Job:
        """The job ended on its own (completed or failed)."""
        job = self.running.get(job_id) or self.terminating.get(job_id)
        if job is None:
            raise BookError(f"job {job_id}: not running, so it cannot finish")
        if job_id in self.terminating:
            del self.terminating[job_id]
            self._release_terminated(job_id)
        else:
            self._stop_running(job, now)
            self.cluster.release(self.allocations.pop(job_id))
        job.add_run(now)
        job.start_time = job.running_type = None
        job.phase = JobPhase.SUCCEEDED if succeeded else JobPhase.FAILED
        job.end_time = now
        return job

    def stopped(self, job_id: int, now: float) -> Job:
        """A job told to stop (preempted or cancelled) is gone: release its resources now."""
        job = self.terminating.pop(job_id, None)
        if job is None:
            raise BookError(f"job {job_id}: not terminating")
        self._release_terminated(job_id)
        if job.phase is JobPhase.CANCELLED or job.end_time is not None:
            job.phase = JobPhase.CANCELLED
            job.end_time = now
        else:
            self.requeue(job)
        return job

    def cancel(self, job_id: int, now: float) -> Job:
        """Cancel a job: a queued one ends now; a running one is stopped (under graceful
        stops it keeps its resources until the driver reports `stopped`)."""
        job = self.pending.get(job_id) or self.parked.pop(job_id, None)
        if job is not None:
            self.pending.remove(job)
            self.holds.pop(job_id, None)
            job.phase = JobPhase.CANCELLED
            job.end_time = now
            return job
        job = self.terminating.get(job_id)
        if job is not None:
            job.end_time = now  # already stopping: it ends cancelled once gone
            return job
        job = self.running.get(job_id)
        if job is None:
            raise BookError(f"job {job_id}: not in the book, so it cannot be cancelled")
        self.preempt(job, now, checkpoint_now=False)
        job.preemptions -= 1  # a cancel is not a preemption
        job.end_time = now  # a terminating job with an end time is being cancelled
        if job.phase is not JobPhase.TERMINATING:
            job.phase = JobPhase.CANCELLED
        return job

    def waiting(self) -> list[Job]:
        """Every pending job, parked ones included."""
        return [*self.pending.jobs(), *self.parked.values()]

    # ----- what the scheduler records (proposals) ------------------------------------
    def park(self, job: Job) -> None:
        if job in self.pending:
            self.pending.remove(job)
            self.parked[job.id] = job

    def policies_changed(self, affected: Callable[[Job], bool] | None = None) -> None:
        """A policy's answers may have changed (for the `affected` jobs, or for all): those
        parked queue again, and those waiting are looked at afresh (what blocked them before
        may say nothing now)."""
        back = [j for j in self.parked.values() if affected is None or affected(j)]
        for job in back:
            del self.parked[job.id]
            self.pending.add(job)
        for job in self.pending.jobs():
            if affected is None or affected(job):
                job.blocked_key = None

    def start(self, job: Job, alloc: Allocation, now: float) -> None:
        self.cluster.apply(alloc)
        pool = alloc.pool
        accel = self.cluster.pools[pool].accelerator
        self.running[job.id] = job
        self.allocations[job.id] = alloc
        self.running_by_pool[pool].add(job.id)
        job.phase = JobPhase.STARTING
        job.start_time = now
        job.running_type = accel
        if job.first_start_time is None:
            job.first_start_time = now
        if job.preemptible:
            self.preemptible[pool].add(job)  # keyed by start time: add after setting it
        self.by_expected_end[pool].add(job)
        job.hold_reason, job.hold_stopping = None, 0
        job.blocked_key = None  # what it waited for before no longer says anything
        self.holds.pop(job.id, None)
        cpu = job.demand.cpu_milli * job.workers
        self.tenants.charge_start(job.tenant, accel, job.gpus, cpu, _commitment(job))
        if job.preemptible:
            self.victim_epoch[pool] += 1

    def preempt(self, job: Job, now: float, checkpoint_now: bool, released: bool = False) -> None:
        """Stop a running job. Under graceful stops it turns TERMINATING and keeps its
        resources until `stopped`; else they are free at once and the caller requeues it."""
        if self.graceful_stop and not released:
            # The tenant is charged for what it holds until the job is gone (`stopped`).
            self._stopping[job.id] = self._stop_running(job, now, charge=False)
            self.terminating[job.id] = job
            job.add_run(now)
            job.preemptions += 1
            job.phase = JobPhase.TERMINATING
            job.start_time = job.running_type = None
            return
        alloc = self.allocations.pop(job.id)
        if not released:
            self.cluster.release(alloc)
        self._stop_running(job, now, alloc)
        job.add_run(now)
        job.preemptions += 1
        job.phase = JobPhase.PENDING
        job.start_time = job.running_type = None

    def _release_terminated(self, job_id: int) -> None:
        self.cluster.release(self.allocations.pop(job_id))
        charge = self._stopping.pop(job_id, None)
        if charge is not None:
            self.tenants.charge_stop(*charge)
        for waiting, victims in list(self.awaiting_victims.items()):
            victims.discard(job_id)
            if not victims:
                del self.awaiting_victims[waiting]
                self.ready_preemptors.append(waiting)

    def _stop_running(
        self, job: Job, now: float, alloc: Allocation | None = None, charge: bool = True
    ) -> Charge:
        """Take a job out of the running indexes; charge its tenant for the run (or return
        the charge, for a job that keeps its resources while it stops)."""
        alloc = alloc or self.allocations[job.id]
        del self.running[job.id]
        self.running_by_pool[alloc.pool].discard(job.id)
        if job.preemptible:
            self.preemptible[alloc.pool].remove(job)
        self.by_expected_end[alloc.pool].remove(job)
        elapsed = 0.0 if job.start_time is None else now - job.start_time
        owed = (
            job.tenant,
            job.running_type,
            job.gpus,
            job.demand.cpu_milli * job.workers,
            elapsed * job.gpus,
            _commitment(job),
        )
        if charge:
            self.tenants.charge_stop(*owed)
        return owed

    def remember_shape(self, shape: tuple[object, ...], verdict: str | None) -> None:
        if len(self.feasibility) >= FEASIBILITY_CACHE_LIMIT:
            self.feasibility.clear()
        self.feasibility[shape] = verdict

    # ----- saving and rebuilding -----------------------------------------------------
    def snapshot(self) -> Snapshot:
        return Snapshot(
            jobs=[(job.request(), self.state_of(job.id)) for job in self.jobs()],
            tenant_consumed_gpu_s={a.name: a.consumed_gpu_s for a in self.tenants.all()},
            drained=tuple(self.cluster.node_names[n] for n in sorted(self.cluster.cordoned)),
            last_round=self.last_round,
            ready_preemptors=tuple(self.ready_preemptors),
            arrivals=self.arrivals.to_dict(),
            policy_memory=self.memory.to_dict(),
            reservation=self._saved_reservation(),
            stopping_runs=tuple(self.tenants.stopping_runs()),
        )

    def _saved_reservation(self) -> dict[str, Any] | None:
        kept = self.reservation
        if kept is None:
            return None
        return {
            "job": kept.job_id,
            "start": kept.start_time if math.isfinite(kept.start_time) else None,
            "nodes": [self.cluster.node_names[n] for n in sorted(kept.nodes)],
            "pools": sorted(kept.pools),
            "released_since": kept.released_since(self.cluster),
        }

    def _node_index(self) -> dict[str, int]:
        """Each node's index by name, in the cluster as it is now (nodes come and go)."""
        return {name: i for i, name in enumerate(self.cluster.node_names)}

    def _restore_reservation(self, saved: dict[str, Any] | None) -> None:
        """The saved reservation, if its head still waits here on nodes the cluster has."""
        if saved is None or self.pending.get(int(saved["job"])) is None:
            return
        index = self._node_index()
        pools = frozenset(int(p) for p in saved["pools"])
        if any(name not in index for name in saved["nodes"]) or not pools <= set(
            range(len(self.cluster.pools))
        ):
            return
        start = math.inf if saved["start"] is None else float(saved["start"])
        # Made again at its next use where the book would have (capacity came back since).
        position = -1 if saved["released_since"] else self.cluster.log_position()
        nodes = [index[name] for name in saved["nodes"]]
        self.reservation = Reservation.on(
            int(saved["job"]), start, nodes, self.cluster, pools, position
        )

    @classmethod
    def rebuild(
        cls,
        cluster: ClusterState,
        order: QueueOrder,
        snapshot: Snapshot,
        sites: SiteCatalog | None = None,
        tenants: TenantBook | None = None,
        *,
        graceful_stop: bool = False,
        now: float = 0.0,
    ) -> SchedulerBook:
        """A book from what a store keeps: the same decisions as one that lived through it.

        A job whose placement names a node the cluster no longer has goes back to the queue
        (its run counted up to `now`). Policy memory comes back with it: policies of kinds
        this process has not imported yet get theirs when they first ask."""
        import silkroute.scheduler.registry  # noqa: F401  (registers the built-in memory kinds)

        book = cls(cluster, order, sites, tenants, graceful_stop=graceful_stop)
        book.last_round = snapshot.last_round
        for name, consumed in snapshot.tenant_consumed_gpu_s.items():
            book.tenants.get(name).consumed_gpu_s = consumed
        for stopping in snapshot.stopping_runs:
            book.tenants.hold_stopping(stopping)
        if snapshot.arrivals is not None:
            book.arrivals = ArrivalShapes.from_dict(snapshot.arrivals)
        else:  # an older store: re-derived from the jobs it holds
            book.arrivals = ArrivalShapes.of_jobs([(r.demand, r.workers) for r, _ in snapshot.jobs])
        book._load([(job_from_request(r, s), s.placement) for r, s in snapshot.jobs], now)
        book.drain_nodes(snapshot.drained)
        live = {r.id for r, _ in snapshot.jobs}
        for request, state in snapshot.jobs:
            victims = {v for v in state.waiting_for if v in book.terminating}
            if victims:
                book.awaiting_victims[request.id] = victims
            elif state.waiting_for:  # its victims are gone (left the store): it goes first
                book.ready_preemptors.append(request.id)
        book.ready_preemptors += [j for j in snapshot.ready_preemptors if j in live]
        book._restore_reservation(snapshot.reservation)
        # Last: a policy's memory may point at the job records just loaded.
        book.memory = PolicyMemories.load(snapshot.policy_memory, book)
        return book

    def _load(
        self, entries: Sequence[tuple[Job, tuple[tuple[str, tuple[int, ...]], ...]]], now: float
    ) -> list[int]:
        """Put jobs in the book at their phase; returns ids of jobs requeued because their
        placement is no longer there."""
        index = self._node_index()
        requeued: list[int] = []
        for job, placement in sorted(entries, key=lambda e: e[0].id):
            _clear_scratch(job)
            if job.phase.terminal:
                continue
            if job.phase is JobPhase.PENDING:
                self.pending.add(job)
                continue
            alloc = self._allocation_of(job, placement, index)
            if alloc is None:  # its nodes are gone: what it ran is over
                self.tenants.count_service(job.tenant, job.add_run(now) * job.gpus)
                job.start_time = job.running_type = None
                requeued.append(job.id)
                if job.phase is JobPhase.TERMINATING and job.end_time is not None:
                    job.phase = JobPhase.CANCELLED  # it was being cancelled anyway
                    continue
                if job.phase is not JobPhase.TERMINATING:
                    job.preemptions += 1
                self.requeue(job)
                continue
            phase, start = job.phase, job.start_time
            if phase is JobPhase.TERMINATING:
                self.cluster.apply(alloc)
                self.allocations[job.id] = alloc
                self.terminating[job.id] = job
                accel = self.cluster.pools[alloc.pool].accelerator
                cpu = job.demand.cpu_milli * job.workers
                commitment = _commitment(job)
                self.tenants.charge_start(job.tenant, accel, job.gpus, cpu, commitment)
                # (its last run's service is already in its run state)
                self._stopping[job.id] = (job.tenant, accel, job.gpus, cpu, 0.0, commitment)
                continue
            first = job.first_start_time
            self.start(job, alloc, start if start is not None else now)
            job.phase, job.first_start_time = phase, first
        return requeued

    def _allocation_of(
        self,
        job: Job,
        placement: tuple[tuple[str, tuple[int, ...]], ...],
        index: dict[str, int],
    ) -> Allocation | None:
        if not placement or any(name not in index for name, _ in placement):
            return None
        workers = [(index[name], tuple(slots)) for name, slots in placement]
        counts = self.cluster.gpu_count
        if any(slot >= counts[node] for node, slots in workers for slot in slots):
            return None  # a device it held is gone (the node shrank)
        pool = self.cluster.node_pool[workers[0][0]]
        if any(self.cluster.node_pool[node] != pool for node, _ in workers):
            return None
        return Allocation(pool, job.demand, workers)

    # ----- nodes and sites at run time ------------------------------------------------
    def node_infos(self) -> list[NodeInfo]:
        return self.cluster.node_infos()

    def add_nodes(self, nodes: Sequence[NodeInfo], now: float) -> None:
        """New nodes (of a known site or a new one) take work from the next step on."""
        known = set(self.cluster.node_names)
        clash = [n.name for n in nodes if n.name in known]
        if clash:
            raise BookError(f"node {clash[0]}: already in the cluster")
        self._reshape([*self.node_infos(), *nodes], now)

    def resize_nodes(self, nodes: Sequence[NodeInfo], now: float) -> list[int]:
        """The same nodes with new sizes (an engine reports fewer accelerators than declared,
        or all of them again); jobs that held a device now gone go back to the queue (their
        ids returned). Names not in the cluster are ignored."""
        sizes = {n.name: n for n in nodes}
        current = self.node_infos()
        new = [sizes.get(n.name, n) for n in current]
        if new == current:
            return []
        return self._reshape(new, now)

    def remove_nodes(self, names: Iterable[str], now: float) -> list[int]:
        """Take nodes away now; jobs on them go back to the queue (their ids returned).
        A driver stops those jobs where they ran: they no longer hold anything here."""
        gone = set(names)
        unknown = gone - set(self.cluster.node_names)
        if unknown:
            raise BookError(f"node {sorted(unknown)[0]}: not in the cluster")
        left = [n for n in self.node_infos() if n.name not in gone]
        if not left:
            raise BookError("cannot remove every node of the cluster")
        return self._reshape(left, now)

    def drain_nodes(self, names: Iterable[str]) -> None:
        """No new work on these nodes; what runs there finishes."""
        index = self._node_index()
        for name in names:
            if name not in index:
                raise BookError(f"node {name}: not in the cluster")
            self.cluster.cordon(index[name])

    def undrain_nodes(self, names: Iterable[str]) -> None:
        index = self._node_index()
        for name in names:
            if name not in index:
                raise BookError(f"node {name}: not in the cluster")
            self.cluster.uncordon(index[name])

    def site_nodes(self, site: str) -> list[str]:
        names = [n.name for n in self.node_infos() if n.site == site]
        if not names:
            raise BookError(f"site {site}: not in the cluster")
        return names

    def drain_site(self, site: str) -> None:
        self.drain_nodes(self.site_nodes(site))

    def remove_site(self, site: str, now: float) -> list[int]:
        return self.remove_nodes(self.site_nodes(site), now)

    def _reshape(self, nodes: list[NodeInfo], now: float) -> list[int]:
        """Rebuild capacity and indices over a new node list, keeping every job."""
        drained = {self.cluster.node_names[n] for n in self.cluster.cordoned}
        entries = [(job, self.placement_of(job.id)) for job in self.jobs()]
        # Jobs keep their records (and run state); pools are renumbered, usage re-counted
        # (what runs stopping outside the book hold stays counted).
        self.tenants.reset_usage()
        self.pending = PendingQueue(self.order)
        self._setup(ClusterState(nodes))
        requeued = self._load(entries, now)
        self.drain_nodes(n.name for n in nodes if n.name in drained)
        return requeued


def _clear_scratch(job: Job) -> None:
    job.eligible_pools = None
    job.pool_scores = None
    job.blocked_key = None
    job.blocked_log_pos = 0
    job.blocked_avoid = frozenset()


def _commitment(job: Job) -> int | None:
    return commitment_of(job.gpus, job.time_limit_s)


def _victim_order(job: Job) -> tuple[int, float, int]:
    return (job.priority, -(job.start_time or 0.0), job.id)


def _end_order(job: Job) -> tuple[float, int]:
    return (job.expected_end(), job.id)
